"""Expand a FigureSpec into RunSpecs: panels x series x grid points x seeds, each keyed by a content hash.

The run key hashes only what changes a result: the experiment's registry name and code version, the run kind, the
resolved parameters and the root seed. Devices, paths, verbosity, series names and scale labels are excluded, so
moving a sweep to another GPU, or renaming a legend entry, reuses finished runs.
"""
from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass

from repro.runner.compose import FigureSpec

KINDS = ("experiment", "theory", "paper")


@dataclass
class RunSpec:
    paper: str
    fig: str
    panel: str
    series: str
    kind: str
    experiment: str
    params: dict
    swept: dict                 # the grid point: column name -> value (also inside params)
    seed: int | None
    data: str
    run_key: str = ""
    cost: float = 1.0           # relative cost, for longest-first scheduling

    def to_json(self) -> dict:
        return asdict(self)


def seeds_of(value) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return list(range(value))
    return [int(s) for s in value]


def run_key(experiment: str, version: int, kind: str, params: dict, seed) -> str:
    blob = json.dumps({"experiment": experiment, "version": version, "kind": kind, "params": params,
                       "seed": seed}, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def _cost(expr: str | None, params: dict) -> float:
    if not expr:
        return 1.0
    from repro import expr as expr_mod

    expr_mod.parse(expr)   # outside the grammar: a config error (compose checks it first, with the figure's name)
    try:
        return float(expr_mod.evaluate(expr, dict(params)))   # e.g. "T * runs", over the run's params
    except Exception:   # a name this run does not have (e.g. "100 / d" for the runs without d): weight 1
        return 1.0


def expand(spec: FigureSpec, version_of=lambda name: 1) -> list[RunSpec]:
    runs: list[RunSpec] = []
    for alias, panel in spec.panels.items():
        if panel.get("skip"):   # listed with its reason by `repro list`, never run
            continue
        series_map = panel.get("series") or {"experiment": {}}
        for series, s in series_map.items():
            s = s or {}
            kind = s.get("kind", panel.get("kind", "experiment"))   # a series may override its panel's kind
            if kind not in KINDS:
                raise ValueError(f"{spec.paper} fig{spec.fig} panel {alias} series {series}: kind {kind!r} not in {KINDS}")
            experiment = s.get("experiment", panel.get("experiment"))
            grid = s.get("grid", panel.get("grid")) or {}
            seeds = [None] if kind != "experiment" else seeds_of(s.get("seeds", panel.get("seeds", 1)))
            base = {**(panel.get("params") or {}), **(s.get("params") or {})}
            names = list(grid)
            for point in itertools.product(*(grid[n] for n in names)):
                swept = dict(zip(names, point))
                params = {**base, **swept}
                for seed in seeds:
                    key = run_key(experiment, version_of(experiment), kind, params, seed)
                    runs.append(RunSpec(paper=spec.paper, fig=spec.fig, panel=alias, series=series, kind=kind,
                                        experiment=experiment, params=params, swept=swept, seed=seed,
                                        data=s.get("data", panel.get("data", "synthetic")), run_key=key,
                                        cost=_cost(panel.get("cost_weight"), params)))
    return runs
