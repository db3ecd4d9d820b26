"""The run context handed to an experiment function: device, named random streams, precision, progress, and
where a long run may keep its checkpoints.

Seed streams: a run's root seed is split into named streams by hashing (root, name), so that every series of a
figure with the same root seed draws the same data order, label noise and environment noise (paired comparisons),
while init and noise streams stay independent of each other.
"""
from __future__ import annotations

import contextlib
import hashlib
import sys
from pathlib import Path

import torch


def stream_seed(root: int, name: str) -> int:
    digest = hashlib.blake2b(f"{root}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


class RunContext:
    def __init__(self, *, seed, device="cpu", precision="fp32", scale="tiny", data_dir="data", show_progress=None,
                 cache_dir=None, checkpoint_dir=None):
        self.seed = seed
        # A folder of the run store shared by a paper's runs (runs/<paper>/_cache), for results that several runs
        # or figures derive from the same settings (e.g. one pre-trained network); None: no cache (compute).
        self.cache_dir = cache_dir
        self.device = torch.device(device)
        if self.device.type == "cpu" and precision != "fp32":
            precision = "fp32"   # autocast on CPU is slow and changes results; the issue asks fp32 on CPU
        self.precision = precision
        self.scale = scale
        self.data_dir = data_dir
        # A folder that outlives one attempt of a run (the run store's _checkpoints/): a killed run resumes from the
        # file it left there. The experiment names its files by what must match for a resume. None: no resume.
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.streams: dict[str, int] = {}
        self._show_progress = sys.stderr.isatty() if show_progress is None else show_progress

    def seed_for(self, name: str) -> int:
        root = 0 if self.seed is None else int(self.seed)
        s = self.streams.setdefault(name, stream_seed(root, name))
        return s

    def generator(self, name: str) -> torch.Generator:
        g = torch.Generator(device=self.device)
        g.manual_seed(self.seed_for(name))
        return g

    def cpu_generator(self, name: str) -> torch.Generator:
        """A CPU generator of the named stream, whatever ctx.device is: data sets, initialisations, batch orders
        and augmentations drawn from it are the same numbers on a GPU box (CUDA generators draw others)."""
        return torch.Generator().manual_seed(self.seed_for(name))

    @property
    def autocast_dtype(self):
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)

    def autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def grad_scaler(self):
        return torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")

    def progress(self, iterable, total=None, desc=None):
        if not self._show_progress:
            return iterable
        from tqdm.auto import tqdm
        return tqdm(iterable, total=total, desc=desc, leave=False, file=sys.stderr)
