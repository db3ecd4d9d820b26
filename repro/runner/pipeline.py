"""One path for every figure: spec -> runs -> dispatcher -> run store -> tidy CSV -> plot -> claims."""
from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from repro.runner import claims as claims_mod
from repro.runner.collect import collect, results_path
from repro.runner.compose import FigureSpec
from repro.runner.figures import project_root
from repro.runner.store import atomic_write, figure_lock, git_state, is_done, run_dir
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
    from repro.experiments.registry import runs_on_cpu
    from repro.runner import dispatch

    rt = spec.runtime
    runs = plan(spec)
    results: list[dict] = []
    with figure_lock(rt["runs_dir"], spec.paper, spec.fig,
                     wait_message=f"waiting for another repro run of {spec.paper} fig{spec.fig} to finish"):
        pending = [r for r in runs if rt.get("force") or not is_done(rt["runs_dir"], r)]
        # the same run may appear in two series (same params): run it once
        unique = list({r.run_key: r for r in pending}.values())
        if unique:
            git = git_state(project_root())
            if rt["launcher"] == "local":
                devices = rt["devices"]
                if all(runs_on_cpu(r.experiment) for r in unique):
                    devices = "cpu"   # nothing here uses a GPU: one worker per core, not one per GPU
                slots = dispatch.plan_slots(devices, rt["slots_per_device"], _cuda_count(),
                                            threads=rt.get("threads"), tiny=spec.scale == "tiny")
                results = dispatch.run_local(unique, rt, spec.scale, git, slots, progress=progress)
            else:
                results = dispatch.run_submitit(unique, rt, spec.scale, git, local=rt["launcher"] == "submitit_local")
        out = collect(spec, runs, rt["runs_dir"], rt["results_dir"])
    failed = [r for r in results if r["status"] != "done"]
    by_error: dict[str, list[dict]] = {}
    for r in failed:   # one line per distinct error (a missing data file fails every run the same way)
        by_error.setdefault(r.get("error", "?"), []).append(r)
    for error, rs in by_error.items():
        where = run_dir(rt["runs_dir"], next(x for x in runs if x.run_key == rs[0]["run_key"]))
        more = f" and {len(rs) - 1} more run(s)" if len(rs) > 1 else ""
        print(f"  FAILED run {rs[0]['run_key']} ({rs[0].get('series')}){more}: {error}  [see {where}/FAILED]",
              file=sys.stderr)
    print(f"{spec.paper} fig{spec.fig} [{spec.scale}]: {len(runs)} runs, {len(unique)} ran, {len(failed)} failed "
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
    draw(df, f"{spec.paper} fig{spec.fig}: {spec.title}", spec.panels, [png, csv.with_suffix(".pdf")])
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
