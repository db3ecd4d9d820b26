"""Custom axes drawers for plots the generic kinds cannot express: fn(ax, rows, entry)."""
from __future__ import annotations

import importlib
from typing import Callable

PLOTS: dict[str, Callable] = {}


def plot(name: str):
    def wrap(fn):
        PLOTS[name] = fn
        return fn
    return wrap


def get(name: str) -> Callable:
    if name not in PLOTS:   # "<paper>.<what>" lives in repro/plotting/<paper>.py
        importlib.import_module(f"repro.plotting.{name.split('.')[0]}")
    return PLOTS[name]
