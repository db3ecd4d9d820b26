"""Checkpoint and resume through the run context's checkpoint directory (ctx.checkpoint_dir, supplied by the
runner: the run store's _checkpoints/ folder), never through the environment.

A checkpoint file is named by the experiment and a hash of its identity (what must match for a resume: code
version, parameters that shape the run, seed), so a rerun of the same run finds it and another run does not.
"""
from __future__ import annotations

import hashlib
import json
import os
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
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path) -> dict | None:
    """The saved state, or None when there is no checkpoint at `path` (a fresh run)."""
    if path is None or not Path(path).exists():
        return None
    return torch.load(path, weights_only=False)
