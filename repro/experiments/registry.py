"""Registry of experiment functions: the only contract between the runner and the science.

An experiment function is science only. It is called as ``fn(p, ctx)`` where

- ``p`` is a plain ``dict`` of the run's resolved parameters (the panel's ``params`` merged with the
  scale profile, the series' own params and the sweep's grid point);
- ``ctx`` is the run context (duck-typed; see ``repro/runner/context.py``):
    ``ctx.device``          torch.device the run must use
    ``ctx.generator(name)`` a torch.Generator on ``ctx.device`` for the named random stream
                            ("init", "data", "noise", "label_noise", "env", ...); the same root seed gives
                            the same stream in every series, so compared methods see the same data and noise
    ``ctx.cpu_generator(name)``  the same stream on the CPU whatever the device (same numbers on a GPU box)
    ``ctx.seed_for(name)``  the integer seed of that stream (for numpy / python RNGs)
    ``ctx.seed``            the run's root seed (None for theory runs)
    ``ctx.precision``       "fp32" | "bf16" | "fp16";  ``ctx.autocast()`` is the matching context manager
    ``ctx.scale``           "tiny" | "full";  ``ctx.data_dir`` where real data sets live
    ``ctx.cache_dir``       a folder shared by a paper's runs for a result several runs derive from the same
                            settings (a pre-trained network), or None (then compute it); key files by those settings
    ``ctx.progress(it, total=None, desc=None)``  wraps an iterable with a progress bar for long loops
    ``ctx.checkpoint_dir``  where a long run keeps checkpoints to resume from (repro/train/checkpoint.py), or None

It returns (or yields) rows: dicts with ``metric`` and ``value`` and optionally ``step`` and any other
column (a swept x such as ``lr_k``, ``data="real"``...). The runner adds paper, fig, panel, series, kind,
scale, seed, run_key, precision, data and the swept parameters, and computes ``diverged``.
It never parses the command line, picks devices, writes files (checkpoints aside), draws plots or judges claims.
Networks train through repro/train/ (one loop, `fit`, with hooks for what a figure logs).

Where it runs: ``@experiment(name, device="cpu")`` (the default) pins a run to the CPU whatever slot it is given:
simulations and theory of small tensors, which then draw the CPU's random streams on a GPU box too (CUDA's
generators draw other numbers), so with the same torch they reproduce the committed CSVs number for number. ``device="any"`` lets it use the slot's device (a GPU on a GPU
box): only for functions that keep every tensor and generator on ``ctx.device`` and have been run on CUDA.
"""
from __future__ import annotations

from typing import Callable

EXPERIMENTS: dict[str, Callable] = {}


DEVICES = ("cpu", "any")


def experiment(name: str, version: int = 1, device: str = "cpu"):
    """Register ``fn`` under ``name`` ("<paper>.<what>"). Bump ``version`` when a change to the function
    changes its results: the version is part of every run's cache key. ``device``: "cpu" or "any" (above)."""
    if device not in DEVICES:
        raise ValueError(f"experiment {name!r}: device must be one of {DEVICES}, not {device!r}")

    def wrap(fn):
        if name in EXPERIMENTS and EXPERIMENTS[name] is not fn:
            raise ValueError(f"experiment {name!r} registered twice")
        fn.experiment_name = name
        fn.code_version = version
        fn.device = device
        EXPERIMENTS[name] = fn
        return fn

    return wrap


def get(name: str) -> Callable:
    if name not in EXPERIMENTS:
        load_all()
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise KeyError(f"unknown experiment {name!r}; known: {', '.join(sorted(EXPERIMENTS))}") from None


def load_all() -> None:
    """Import every module of repro.experiments so that their functions register, then the modules named in
    REPRO_PLUGINS (comma-separated), where users (and the tests) register experiments of their own."""
    import importlib
    import os
    import pkgutil

    import repro.experiments as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name != "registry" and not mod.name.startswith("_"):
            importlib.import_module(f"repro.experiments.{mod.name}")
    for name in filter(None, os.environ.get("REPRO_PLUGINS", "").split(",")):
        importlib.import_module(name.strip())


def runs_on_cpu(name: str) -> bool:
    """True when the experiment is pinned to the CPU (device="cpu"); False for an unknown name (its run then
    fails with get()'s message)."""
    try:
        return get(name).device == "cpu"
    except KeyError:
        return False
