"""Collect finished runs into the figure's tidy CSV: results/<paper>/fig<N>[_tiny].csv.

One row per (run, step, metric). The runner's fixed columns come first, then the swept parameters, then any
extra column an experiment wrote (an x such as lr_k, a chain index ...). `diverged` is computed here, from the
data: true from the first non-finite value of a curve on. Long curves are downsampled (every point stays in
runs/); rows of other panels already in the CSV are kept, so `fig=<panel alias>` refreshes one panel only.

Beside the CSV, fig<N>[_tiny].params.csv holds every parameter that shaped its rows, swept or fixed (a fixed eps
of 1e-15 never reaches the CSV's columns): one row per (panel, series, run_key) with PARAMS_FIXED, then one column
per parameter (lists and mappings JSON-encoded; empty where a run has no such parameter). Join it to the CSV on
run_key (experiment rows; theory and paper rows carry no run_key there: join those on panel, series and the swept
columns). It is written with the CSV (never when a run failed), deterministically, and `write_params` rebuilds it
from the spec alone (`repro params`): the run keys come from expanding the spec, nothing is rerun.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from repro.runner.compose import FigureSpec
from repro.runner.spec import FIXED, params_path, results_path  # noqa: F401  (re-exported)
from repro.runner.store import atomic_write, run_dir, verify_run
from repro.runner.sweep import RunSpec



PARAMS_FIXED = ["paper", "fig", "panel", "series", "kind", "experiment", "version", "seed", "run_key"]


def _param_cell(v):
    return json.dumps(v, sort_keys=True) if isinstance(v, (list, dict, tuple)) else v


def params_frame(runs: list[RunSpec], version_of) -> pd.DataFrame:
    """One row per (panel, series, run_key): the runner's labels and every parameter of the run (version_of: an
    experiment's name -> its code version, given by the caller so that this module does not import the pipeline)."""
    rows, seen = [], set()
    for r in runs:
        if (r.panel, r.series, r.run_key) in seen:
            continue
        seen.add((r.panel, r.series, r.run_key))
        rows.append({"paper": r.paper, "fig": r.fig, "panel": r.panel, "series": r.series, "kind": r.kind,
                     "experiment": r.experiment, "version": version_of(r.experiment), "seed": r.seed,
                     "run_key": r.run_key, **{k: _param_cell(v) for k, v in r.params.items()}})
    names = list(dict.fromkeys(k for r in runs for k in r.params if k not in PARAMS_FIXED))
    return pd.DataFrame(rows, dtype=object).reindex(columns=PARAMS_FIXED + names)


def params_stale(df: pd.DataFrame, runs: list[RunSpec]) -> str | None:
    """Why a collected CSV does not come from these runs (None: its experiment run keys are exactly the spec's, for
    the panels it holds), so that params written from the spec alone would describe other runs."""
    panels = set(df["panel"].astype(str))
    want = {r.run_key for r in runs if r.kind == "experiment" and r.panel in panels}
    have = set(df["run_key"].dropna().astype(str))
    if have == want:
        return None
    return (f"{len(have - want)} run key(s) of the CSV not in the spec, {len(want - have)} of the spec not in the "
            f"CSV")


def write_params(spec: FigureSpec, runs: list[RunSpec], results_dir, version_of) -> Path:
    """Write (or refresh, for the spec's panels) the figure's parameters file; other panels' rows are kept."""
    out = params_path(results_path(results_dir, spec.paper, spec.fig, spec.scale))
    df = params_frame(runs, version_of)
    if out.exists():
        old = pd.read_csv(out, low_memory=False, dtype=str, keep_default_na=False)
        old = old[~old["panel"].isin(list(spec.panels))]
        if len(old):
            df = pd.concat([old, df], ignore_index=True)
            df = df.reindex(columns=PARAMS_FIXED + [c for c in df.columns if c not in PARAMS_FIXED])
    atomic_write(out, df.to_csv(index=False))
    return out


def _mark_diverged(df: pd.DataFrame, curve_cols: list[str]) -> pd.Series:
    bad = ~np.isfinite(df["value"].to_numpy(dtype=float))
    if not bad.any():
        return pd.Series(False, index=df.index)
    order = df.sort_values("step", kind="stable", na_position="first").index
    s = pd.Series(bad, index=df.index).loc[order]
    keys = [df.loc[order, c].astype(str) for c in curve_cols]
    return s.groupby(keys, sort=False, dropna=False).cummax().reindex(df.index) if keys else s.cummax().reindex(df.index)


def _downsample(df: pd.DataFrame, curve_cols: list[str], max_points: int) -> pd.DataFrame:
    if not max_points or df["step"].isna().all():
        return df
    keep = []
    for _, g in df.groupby([df[c].astype(str) for c in curve_cols], sort=False, dropna=False):
        steps = np.sort(g["step"].dropna().unique())
        if len(steps) > max_points:
            idx = np.unique(np.round(np.geomspace(1, len(steps), max_points)).astype(int) - 1)
            chosen = set(steps[idx]) | {steps[0], steps[-1]}
            div = g.loc[g["diverged"].astype(bool), "step"]
            if len(div):
                chosen.add(div.min())   # keep the step where the curve left finite values
            g = g[g["step"].isin(chosen) | g["step"].isna()]
        keep.append(g)
    return pd.concat(keep) if keep else df


def run_rows(runs_dir, run: RunSpec, scale: str) -> pd.DataFrame:
    rdir = run_dir(runs_dir, run)
    try:
        df = pd.read_csv(rdir / "metrics.csv")
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    prov = json.loads((rdir / "provenance.json").read_text()) if (rdir / "provenance.json").exists() else {}
    experiment_only = run.kind == "experiment"
    labels = {"paper": run.paper, "fig": run.fig, "panel": run.panel, "series": run.series, "kind": run.kind,
              "scale": scale, "data": run.data, "seed": run.seed if experiment_only else None,
              "run_key": run.run_key if experiment_only else None, "precision": prov.get("precision", "fp32")}
    for k, v in {**labels, **run.swept}.items():
        if k not in df.columns:
            df[k] = v
        elif v is not None:   # an experiment may label some rows itself (e.g. a fitted curve's series)
            df[k] = df[k].where(df[k].notna(), v)
    if "step" not in df.columns:
        df["step"] = np.nan
    return df


def collect(spec: FigureSpec, runs: list[RunSpec], runs_dir, results_dir, version_of) -> Path:
    # only verified runs (DONE there and the files agree with it): never the remains of a cut metrics.csv
    frames = [run_rows(runs_dir, r, spec.scale) for r in runs if verify_run(run_dir(runs_dir, r)) is None]
    frames = [f for f in frames if len(f)]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=FIXED)
    swept = list(dict.fromkeys(k for r in runs for k in r.swept))
    extra = [c for c in df.columns if c not in FIXED and c not in swept]
    if len(df):
        curve_cols = [c for c in ["panel", "series", "seed", "run_key", "metric", *swept, *extra]
                      if c in df.columns]
        df["diverged"] = _mark_diverged(df, curve_cols)
        parts = []
        for alias, g in df.groupby("panel", sort=False):
            parts.append(_downsample(g, curve_cols, int(spec.panels[alias].get("downsample", 0) or 0)))
        df = pd.concat(parts)
    df = df.reindex(columns=FIXED + swept + extra)
    out = results_path(results_dir, spec.paper, spec.fig, spec.scale)
    if out.exists():
        old = pd.read_csv(out, low_memory=False)
        old = old[~old["panel"].isin(list(spec.panels))]
        if len(old):
            df = pd.concat([old, df], ignore_index=True)
            df = df.reindex(columns=FIXED + [c for c in df.columns if c not in FIXED])
    atomic_write(out, df.to_csv(index=False, float_format="%.10g"))
    write_params(spec, runs, results_dir, version_of)
    return out
