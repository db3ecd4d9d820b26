"""The training loop: every network experiment trains through `fit` (or, one step at a time, `train_step`).

    rows = fit(opt, loss_fn, batches, epochs=E, on_step=..., on_epoch_end=...)   # a generator of the hooks' rows

One step is: zero the gradients, loss = loss_fn(batch) (under the run's autocast when ctx is given), backward
(scaled by the run's GradScaler: fp16 only), optional gradient clipping or norm measurement, optimizer step.
What a figure logs is in its hooks, which receive the FitState and return (or yield) rows; a hook stops the run by
setting state.stop. `check_finite_every=k` stops it at the first multiple of k steps after a non-finite loss
(state.diverged), with one device sync per k steps.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import torch


@dataclass
class FitState:
    step: int = 0                          # optimizer steps done
    epoch: int = 0                         # the current epoch, 1-based
    loss: torch.Tensor | None = None       # the last step's loss (detached, on the device)
    grad_norm: torch.Tensor | None = None  # its total gradient norm (before clipping), when clip_norm is set
    stop: bool = False                     # set by a hook: end the run after this step / epoch
    diverged: bool = False                 # set by check_finite_every


class RunningMean:
    """Weighted mean of losses since the last flush, kept on the device (no sync per step)."""

    def __init__(self):
        self.total, self.count = None, 0

    def add(self, value: torch.Tensor, weight=1) -> None:
        value = value.detach().float()
        value = value if weight == 1 else value * weight
        self.total = value if self.total is None else self.total + value
        self.count += weight

    def flush(self) -> float:
        mean = (self.total / self.count).item() if self.count else float("nan")
        self.total, self.count = None, 0
        return mean


def _params(optimizer) -> list[torch.Tensor]:
    return [q for group in optimizer.param_groups for q in group["params"]]


def train_step(optimizer, loss_fn: Callable, batch=None, *, ctx=None, scaler=None, clip_norm: float | None = None):
    """One optimizer step on loss_fn(batch); returns (loss, grad_norm) (detached; grad_norm None without
    clip_norm). A loss with one entry per stacked model (repro/train/stacked.py) is summed for the backward pass.
    loss_fn may instead yield several losses (gradient accumulation over micro-batches): each is
    backpropagated as it comes, so its graph is freed before the next forward, and the loss is their sum.
    clip_norm: clip the total gradient norm to it (math.inf: measure only)."""
    optimizer.zero_grad(set_to_none=True)
    scale = scaler.scale if scaler is not None else (lambda loss: loss)
    autocast = ctx.autocast if ctx is not None else contextlib.nullcontext
    with autocast():   # the forward passes only: backward runs in the dtypes the forward chose
        out = loss_fn(batch)
    if isinstance(out, torch.Tensor):
        scale(out.sum() if out.dim() else out).backward()   # one loss per stacked model: each its own gradient
        loss = out.detach()
    else:
        parts, loss = iter(out), None
        while True:
            with autocast():
                part = next(parts, None)
            if part is None:
                break
            scale(part).backward()
            loss = part.detach() if loss is None else loss + part.detach()
    grad_norm = None
    if clip_norm is not None:
        if scaler is not None:
            scaler.unscale_(optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(_params(optimizer), clip_norm)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    return loss, grad_norm


def _rows(out) -> Iterable[dict]:
    return () if out is None else out


def fit(optimizer, loss_fn: Callable, batches: Callable | None = None, *, epochs: int = 1,
        max_steps: int | None = None, ctx=None, clip_norm: float | None = None,
        lr_at: Callable[[int], float] | None = None, check_finite_every: int = 0,
        on_epoch_start: Callable | None = None, on_step: Callable | None = None,
        on_epoch_end: Callable | None = None, state: FitState | None = None, desc: str | None = None,
        resume=None):
    """Train for `epochs` epochs (at most `max_steps` steps) and yield the rows the hooks return; its value (as in
    `state = yield from fit(...)`) is the final FitState (step count, diverged).

    batches(epoch) gives the epoch's batches, each passed to loss_fn(batch) (None: one full batch, loss_fn(None),
    per epoch). ctx (optional): the run context, whose autocast() wraps loss_fn and whose grad_scaler() scales the
    backward pass (fp16). lr_at(step) sets every group's lr before step number `step` (1-based). Hooks:
    on_epoch_start(state) (e.g. an lr drop), on_step(state, batch) after each step, on_epoch_end(state) after the
    epoch's last step (or the step that reached max_steps); each returns rows or None. A hook's state.stop ends
    the run after that hook (no epoch end after a stop in on_step). desc: a progress bar over the epochs
    (ctx.progress, shown on a terminal) with that label. resume: a repro.train.checkpoint.Resume: checkpoints
    every resume.every epochs, and a rerun continues from the last one, yielding the same rows."""
    state = state or FitState()
    scaler = ctx.grad_scaler() if ctx is not None else None
    nonfinite = None   # on the device: has any loss since the start been non-finite?
    rows_so_far = []   # kept for the checkpoints only
    saved = resume.restore(optimizer, scaler) if resume is not None and resume.path is not None else None
    if saved is not None:
        state, rows_so_far = saved
        yield from rows_so_far

    def finished(final: FitState) -> FitState:
        if resume is not None and resume.path is not None:   # a finished run leaves no checkpoint to resume
            Path(resume.path).unlink(missing_ok=True)
        return final

    def emit(out):
        for row in _rows(out):
            if resume is not None:
                rows_so_far.append(row)
            yield row

    epoch_range = range(state.epoch + 1, epochs + 1)
    if desc is not None and ctx is not None:
        epoch_range = ctx.progress(epoch_range, total=len(epoch_range), desc=desc)
    for epoch in epoch_range:
        if max_steps is not None and state.step >= max_steps:
            return finished(state)
        state.epoch = epoch
        if on_epoch_start is not None:
            yield from emit(on_epoch_start(state))
        for batch in (batches(epoch) if batches is not None else (None,)):
            if lr_at is not None:
                lr = lr_at(state.step + 1)
                for group in optimizer.param_groups:
                    group["lr"] = lr
            state.loss, state.grad_norm = train_step(optimizer, loss_fn, batch, ctx=ctx, scaler=scaler,
                                                     clip_norm=clip_norm)
            state.step += 1
            if on_step is not None:
                yield from emit(on_step(state, batch))
            if check_finite_every:
                bad = ~torch.isfinite(state.loss).all()
                nonfinite = bad if nonfinite is None else nonfinite | bad
                if state.step % check_finite_every == 0 and nonfinite.item():
                    state.diverged = state.stop = True
            if state.stop:
                return finished(state)
            if max_steps is not None and state.step >= max_steps:
                break
        if on_epoch_end is not None:
            yield from emit(on_epoch_end(state))
        if state.stop:
            return finished(state)
        if resume is not None and resume.path is not None and epoch % resume.every == 0:
            resume.save(optimizer, scaler, state, rows_so_far)
    return finished(state)


def steps_for(n: int, batch_size: int, epochs: int, *, steps: int | None = None, max_steps: int | None = None,
              drop_last: bool = False) -> tuple[int, int]:
    """(epochs, total steps) of a run of `epochs` epochs over n samples, or of `steps` steps when given (as many
    epochs as they need), capped at max_steps."""
    per_epoch = n // batch_size if drop_last else math.ceil(n / batch_size)
    total = steps or epochs * per_epoch
    total = min(total, max_steps or total)
    return math.ceil(total / per_epoch), total
