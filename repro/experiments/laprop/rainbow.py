"""LaProp fig=7 (alias rainbow): Rainbow-style DQN on Atari Breakout, Adam vs LaProp, with the authors' released
evaluations as `series=paper`. Spec: catalog laprop.md, fig=7. The agent is repro/rl/rainbow.py.

Rows (columns game, optimizer, agent_steps as in the reference CSV; step = agent steps after frame-skip):
  eval_score_mean / eval_score_std / eval_games   per evaluated checkpoint (std = SEM over games, as test.py)
  loss / loss_max / nonfinite_losses / train_episode_reward / n_updates / epsilon
                                                  training statistics of each checkpoint interval
  steps_done, steps_target                        at the end of the run (the run completed)

Checkpoint and resume (full runs take days): the run saves its whole state every `checkpoint_every` agent steps to
  <ctx.checkpoint_dir>/laprop.rainbow-<hash of code version, params, seed>.pt
(ctx.checkpoint_dir is the run store's _checkpoints/; repro/train/checkpoint.py; without one the run cannot resume)
and a rerun of the same run (e.g. `repro run` after the worker was killed) resumes from it and yields exactly the
rows of an uninterrupted run. The file is removed when the run completes (`keep_checkpoint: true` keeps it).
`stop_after_steps` / `max_wall_s` stop a run on purpose after a checkpoint (the run then fails with a message
saying so; rerun to resume); they are not part of the hash.
"""
from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import pandas as pd

from repro.experiments.registry import experiment
from repro.train.checkpoint import checkpoint_path

VERSION = 1
RUN_ONLY = {"stop_after_steps", "max_wall_s", "keep_checkpoint", "game"}   # not part of the checkpoint hash
REFERENCE = "rainbow_breakout_eval.csv"


def load_reference(name: str = REFERENCE) -> pd.DataFrame:
    from repro.data.reference import load_laprop_reference
    return load_laprop_reference(name)


def rainbow_args(p: dict):
    from repro.rl.rainbow import RainbowArgs
    names = {f.name for f in fields(RainbowArgs)}
    unknown = set(p) - names - RUN_ONLY
    if unknown:
        raise ValueError(f"unknown laprop.rainbow params {sorted(unknown)}; valid: {sorted(names | RUN_ONLY)}")
    return RainbowArgs(**{k: v for k, v in p.items() if k in names})


def rainbow_checkpoint(p: dict, ctx):
    """The run's checkpoint file under ctx.checkpoint_dir (None without one): named by the code version, the seed
    and the params that shape the run (not the run-only keys, so a stopped run resumes with other stop settings)."""
    identity = {"version": VERSION, "seed": ctx.seed_for("rainbow"),
                "params": {k: v for k, v in p.items() if k not in RUN_ONLY}}
    return checkpoint_path(ctx, "laprop.rainbow", identity)


def _rows(event, cols):
    kind, step, data = event
    base = {"step": step, "agent_steps": step, **cols}
    if kind == "eval":
        scores = np.asarray(data, dtype=float)
        yield {"metric": "eval_score_mean", "value": scores.mean(), **base}
        if len(scores) > 1:
            yield {"metric": "eval_score_std", "value": scores.std(ddof=1) / math.sqrt(len(scores)), **base}
        yield {"metric": "eval_games", "value": float(len(scores)), **base}
    elif kind == "log":
        if data["interval_updates"]:   # a non-finite loss stays in the rows (and marks the curve diverged)
            yield {"metric": "loss", "value": data["loss_mean"], **base}
            yield {"metric": "loss_max", "value": data["loss_max"], **base}
            yield {"metric": "nonfinite_losses", "value": float(data["nonfinite_losses"]), **base}
        if data["train_episodes"]:
            yield {"metric": "train_episode_reward", "value": data["train_episode_reward"], **base}
        yield {"metric": "n_updates", "value": float(data["n_updates"]), **base}
        yield {"metric": "epsilon", "value": data["epsilon"], **base}
    elif kind == "done":
        yield {"metric": "steps_done", "value": float(step), **base}


@experiment("laprop.rainbow", version=VERSION, device="any")   # CUDA path not yet run (ale-py absent on the GPU box)
def rainbow(p, ctx):
    """One training run of the Rainbow agent with one optimizer; checkpoints every `eval_every` agent steps are
    evaluated with the authors' test.py protocol."""
    from repro.rl.rainbow import train
    args = rainbow_args(p)
    seed = ctx.seed_for("rainbow")
    ckpt = rainbow_checkpoint(p, ctx)
    cols = {"game": p.get("game", "Breakout"), "optimizer": args.optimizer}
    for event in train(args, seed=seed, device=ctx.device, checkpoint=None if ckpt is None else str(ckpt),
                       stop_after_steps=p.get("stop_after_steps"), max_wall_s=p.get("max_wall_s")):
        yield from _rows(event, cols)
    yield {"metric": "steps_target", "value": float(args.total_steps), "step": args.total_steps,
           "agent_steps": args.total_steps, **cols}
    if not p.get("keep_checkpoint") and ckpt is not None and ckpt.exists():
        ckpt.unlink()


@experiment("laprop.reference_rainbow")
def reference_rainbow(p, ctx):
    """The authors' released evaluations (rainbow_breakout_eval.csv) as rows, one per checkpoint and metric."""
    df = load_reference(p.get("file", REFERENCE))
    if p.get("optimizers"):
        df = df[df["optimizer"].isin(p["optimizers"])]
    for r in df.itertuples(index=False):
        base = {"step": int(r.agent_steps), "agent_steps": int(r.agent_steps), "game": r.game,
                "optimizer": r.optimizer}
        yield {"metric": "eval_score_mean", "value": float(r.eval_score_mean), **base}
        yield {"metric": "eval_score_std", "value": float(r.eval_score_std), **base}
