"""Checkpoint and resume through the run context's checkpoint directory (ctx.checkpoint_dir, supplied by the
runner: the run store's _checkpoints/ folder), never through the environment.

A checkpoint file is named by the experiment and a hash of its identity (what must match for a resume: code
version, parameters that shape the run, seed), so a rerun of the same run finds it and another run does not.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch


def checkpoint_path(ctx, name: str, identity: dict) -> Path | None:
    """<ctx.checkpoint_dir>/<name>-<hash of identity>.pt, or None when the context has no checkpoint directory."""
    if ctx.checkpoint_dir is None:
        return None
    blob = json.dumps({"name": name, **identity}, sort_keys=True, default=str)
    return Path(ctx.checkpoint_dir) / f"{name}-{hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()}.pt"


def save_checkpoint(path, state: dict) -> None:
    """torch.save `state` to `path` atomically (a killed save leaves the previous checkpoint intact)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")   # two writers never share a temporary file
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path, allowed: list | tuple = (), **kw) -> dict | None:
    """The saved state, or None when there is no checkpoint at `path` (a fresh run). Read with weights_only=True:
    nothing but tensors, plain containers and the `allowed` classes can be unpickled, so a tampered checkpoint
    cannot run code. `kw` goes to torch.load (e.g. mmap=True)."""
    if path is None or not Path(path).exists():
        return None
    with torch.serialization.safe_globals(list(allowed)):
        return torch.load(path, weights_only=True, **kw)


@dataclass
class Resume:
    """What fit(..., resume=Resume(...)) saves to `path` every `every` epochs and restores from it on a rerun: the
    modules' and optimizer's states, the generators' states, torch's global CPU generator, the loop's state
    and the rows yielded so far (replayed first, so a resumed run yields exactly the rows of an uninterrupted one).
    Hooks must hold no state across epochs beyond what these carry. path None: no checkpoints."""
    path: Path | None
    modules: list = field(default_factory=list)
    generators: list = field(default_factory=list)
    every: int = 1

    def save(self, optimizer, scaler, state, rows: list) -> None:
        save_checkpoint(self.path, {
            "modules": [m.state_dict() for m in self.modules], "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "generators": [g.get_state() for g in self.generators], "torch_rng": torch.get_rng_state(),
            "state": state, "rows": rows})

    def restore(self, optimizer, scaler):
        """(state, rows) of the saved run after restoring everything else, or None when there is none."""
        from repro.train.loop import FitState   # the loop's state is the one class a fit checkpoint holds

        ck = load_checkpoint(self.path, allowed=[FitState])
        if ck is None:
            return None
        for m, sd in zip(self.modules, ck["modules"]):
            m.load_state_dict(sd)
        optimizer.load_state_dict(ck["optimizer"])
        if scaler is not None and ck["scaler"] is not None:
            scaler.load_state_dict(ck["scaler"])
        for g, st in zip(self.generators, ck["generators"]):
            g.set_state(st)
        torch.set_rng_state(ck["torch_rng"])
        return ck["state"], ck["rows"]
