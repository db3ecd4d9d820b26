"""One path for every figure: spec -> runs -> dispatcher -> run store -> tidy CSV -> plot -> claims."""
from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from repro.runner import claims as claims_mod
from repro.runner.collect import collect, results_path
from repro.runner.compose import FigureSpec
from repro.runner.figures import project_root
from repro.runner.store import atomic_write, figure_lock, git_state, run_dir, verify_run
from repro.runner.sweep import RunSpec, expand


def code_version(name: str) -> int:
    from repro.experiments import registry
    return getattr(registry.get(name), "code_version", 1)


def plan(spec: FigureSpec) -> list[RunSpec]:
    return expand(spec, version_of=code_version)


def _cuda_count() -> int:
    import torch
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def run_figure(spec: FigureSpec, progress: bool = True) -> tuple[list[dict], list[claims_mod.ClaimResult]]:
    """Run what is not done, collect, plot, check. Returns (run results, claim results)."""
    return run_figures([spec], progress)[0]


def run_figures(specs: list[FigureSpec], progress: bool = True) -> list[tuple[list[dict], list]]:
    """run_figure for several figures, whose pending runs share workers: the figures with the same run-time settings
    (devices, slots, threads, precision, scale...) go through one pool, longest runs first, so that no slot idles
    at a figure's end (a GPU box running `repro run all` keeps every GPU busy). Each figure is then collected,
    plotted and checked on its own. Returns one (run results, claim results) per spec, in order."""
    groups: dict[str, list[int]] = {}
    for i, spec in enumerate(specs):
        key = json.dumps({**spec.runtime, "scale": spec.scale}, sort_keys=True, default=str)
        groups.setdefault(key, []).append(i)
    results: list[list[dict]] = [[] for _ in specs]
    collected: list[tuple[list[RunSpec], Path]] = [None] * len(specs)   # type: ignore[list-item]
    for members in groups.values():
        with contextlib.ExitStack() as locks:
            # one lock order for everyone: two `repro run`s that share figures cannot deadlock
            for i in sorted(members, key=lambda i: (specs[i].paper, str(specs[i].fig))):
                rt = specs[i].runtime
                locks.enter_context(figure_lock(
                    rt["runs_dir"], specs[i].paper, specs[i].fig,
                    wait_message=f"waiting for another repro run of {specs[i].paper} fig{specs[i].fig} to finish"))
            planned = {i: plan(specs[i]) for i in members}
            ran = _run_pending([specs[i] for i in members], [planned[i] for i in members], progress)
            for i in members:
                keys = {r.run_key for r in planned[i]}
                # a run_key shared by two figures ran once per figure (each figure stores its own runs); either
                # result stands for both
                results[i] = list({r["run_key"]: r for r in ran if r["run_key"] in keys}.values())
                rt = specs[i].runtime
                # a run that failed, or whose files do not verify, stops the figure: nothing goes to results/
                seen = {r["run_key"] for r in results[i]}
                for r in planned[i]:
                    why = verify_run(run_dir(rt["runs_dir"], r))
                    if why is not None and r.run_key not in seen:
                        seen.add(r.run_key)
                        results[i].append({"run_key": r.run_key, "status": "failed", "series": r.series,
                                           "error": f"not verified: {why}"})
                ok = all(r["status"] == "done" for r in results[i])
                collected[i] = planned[i], (collect(specs[i], planned[i], rt["runs_dir"], rt["results_dir"])
                                            if ok else None)
    return [_finish(spec, *collected[i], results[i]) for i, spec in enumerate(specs)]


def _run_pending(specs: list[FigureSpec], planned: list[list[RunSpec]], progress: bool) -> list[dict]:
    """Run, through one pool, the runs of these figures (same run-time settings) that are not done."""
    from repro.experiments.registry import runs_on_cpu
    from repro.runner import dispatch

    rt, scale = specs[0].runtime, specs[0].scale
    pending = []
    for runs in planned:
        for r in runs:
            why = verify_run(run_dir(rt["runs_dir"], r))
            if why is not None and (run_dir(rt["runs_dir"], r) / "DONE").exists():   # DONE, but not intact
                print(f"  rerun {r.paper} fig{r.fig} run {r.run_key} ({r.series}): {why}  [{run_dir(rt['runs_dir'], r)}]",
                      file=sys.stderr)
            if rt.get("force") or why is not None:
                pending.append(r)
    # the same run may appear in two series (same params): run it once per figure
    unique = list({(r.paper, r.fig, r.run_key): r for r in pending}.values())
    if not unique:
        return []
    git = git_state(project_root())
    if rt["launcher"] != "local":
        return dispatch.run_submitit(unique, rt, scale, git, local=rt["launcher"] == "submitit_local")
    devices = rt["devices"]
    if all(runs_on_cpu(r.experiment) for r in unique):
        devices = "cpu"   # nothing here uses a GPU: one worker per core, not one per GPU
    slots = dispatch.plan_slots(devices, rt["slots_per_device"], _cuda_count(), threads=rt.get("threads"),
                                tiny=scale == "tiny")
    return dispatch.run_local(unique, rt, scale, git, slots, progress=progress)


def _finish(spec: FigureSpec, runs: list[RunSpec], out: Path | None, results: list[dict]):
    """Report a figure's failed runs (one line per distinct error), plot it and check its claims. A figure with a
    failed run (out is None) wrote nothing to results/, and is neither drawn nor checked."""
    rt = spec.runtime
    failed = [r for r in results if r["status"] != "done"]
    by_error: dict[str, list[dict]] = {}
    for r in failed:   # one line per distinct error (a missing data file fails every run the same way)
        by_error.setdefault(r.get("error", "?"), []).append(r)
    for error, rs in by_error.items():
        where = run_dir(rt["runs_dir"], next(x for x in runs if x.run_key == rs[0]["run_key"]))
        more = f" and {len(rs) - 1} more run(s)" if len(rs) > 1 else ""
        print(f"  FAILED run {rs[0]['run_key']} ({rs[0].get('series')}){more}: {error}  [see {where}/FAILED]",
              file=sys.stderr)
    if out is None:
        print(f"{spec.paper} fig{spec.fig} [{spec.scale}]: {len(runs)} runs, {len(failed)} failed -> nothing written "
              f"to results/ (finished runs are kept; rerun to retry the rest)")
        return results, []
    print(f"{spec.paper} fig{spec.fig} [{spec.scale}]: {len(runs)} runs, {len(results)} ran, {len(failed)} failed "
          f"-> {out}")
    if rt.get("plot", True):
        print(f"  plot: {plot_figure(spec)}")
    claim_results = check_figure(spec) if rt.get("check", True) else []
    return results, claim_results


def plot_figure(spec: FigureSpec) -> Path:
    from repro.plotting.figure import draw

    csv = results_path(spec.runtime["results_dir"], spec.paper, spec.fig, spec.scale)
    df = pd.read_csv(csv, low_memory=False)
    png = csv.with_suffix(".png")
    draw(df, f"{spec.paper} fig{spec.fig}: {spec.title}", spec.panels, [png, csv.with_suffix(".pdf")], spec.layout)
    return png


def check_figure(spec: FigureSpec, quiet: bool = False) -> list[claims_mod.ClaimResult]:
    csv = results_path(spec.runtime["results_dir"], spec.paper, spec.fig, spec.scale)
    if not csv.exists():
        res = [claims_mod.ClaimResult(a, "csv", "the figure's CSV exists", True, False, f"missing {csv}")
               for a in spec.panels]
    else:
        res = claims_mod.evaluate(pd.read_csv(csv, low_memory=False), spec.panels, spec.scale)
        table = pd.DataFrame([{**asdict(r), "scale": spec.scale, "spec_hash": spec.spec_hash} for r in res])
        claims_csv = csv.with_name(csv.stem + "_claims.csv")
        if claims_csv.exists():   # keep other panels' outcomes when one panel was checked
            old = pd.read_csv(claims_csv)
            table = pd.concat([old[~old["panel"].isin(list(spec.panels))], table], ignore_index=True)
        atomic_write(claims_csv, table.to_csv(index=False))
    if not quiet:
        print(f"{spec.paper} fig{spec.fig} [{spec.scale}] claims:")
        print(claims_mod.table(res) if res else "  (no claims)")
    return res
