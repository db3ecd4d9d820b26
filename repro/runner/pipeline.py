"""One path for every figure: spec -> runs -> dispatcher -> run store -> tidy CSV -> plot -> claims.

A figure whose collect, plot and check would redo what is already there is left alone ("fig N: up to date"): a
stamp in the run store (runs/<paper>/fig<N>/.results_<scale>.json) records their inputs (the verified DONE runs,
the resolved panels with their plot and claims, the code that collects, draws and checks) and the digests of
what they wrote (CSV, PNG, PDF, claims CSV). Any difference, a rerun, or --force redoes all three.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from repro.runner import cache
from repro.runner import claims as claims_mod
from repro.runner.compose import FigureSpec
from repro.runner.figures import project_root
from repro.runner.spec import results_path
from repro.runner.store import atomic_write, figure_dir, figure_lock, git_state, run_dir, verify_run
from repro.runner.sweep import RunSpec, expand

REPRO = Path(__file__).resolve().parents[1]


def _experiment_sources() -> list[Path] | None:
    """The files whose decorators declare the experiments' code versions: repro/experiments/**/*.py and the modules
    named in REPRO_PLUGINS (None when a plugin cannot be located without importing it)."""
    import importlib.util

    files = sorted((REPRO / "experiments").rglob("*.py"))   # packages too (repro/experiments/<paper>/*.py)
    for name in filter(None, os.environ.get("REPRO_PLUGINS", "").split(",")):
        try:
            found = importlib.util.find_spec(name.strip())
        except (ImportError, ValueError):
            return None
        if found is None or not found.origin or not os.path.isfile(found.origin):
            return None
        files.append(Path(found.origin))
    return files


def _versions() -> dict[str, int]:
    """name -> code version of every registered experiment, cached on disk under a digest of the files that declare
    them, so a command that runs nothing does not import every experiment module (and torch) to learn them."""
    files = _experiment_sources()
    key = None if files is None else (os.environ.get("REPRO_PLUGINS", ""), cache.files_digest(files))
    stored = cache.load("versions")   # {key: versions}: a few checkouts (worktrees) share the cache
    if key is not None and isinstance(stored.get(key), dict):
        return stored[key]
    from repro.experiments import registry

    registry.load_all()
    versions = {n: getattr(fn, "code_version", 1) for n, fn in registry.EXPERIMENTS.items()}
    if key is not None:
        kept = list(stored.items())[-7:]
        cache.save("versions", {**dict(kept), key: versions})
    return versions


def code_version(name: str) -> int:
    loaded = sys.modules.get("repro.experiments.registry")
    if loaded is not None and name in loaded.EXPERIMENTS:   # already imported: ask the function itself
        return getattr(loaded.EXPERIMENTS[name], "code_version", 1)
    versions = _versions()
    if name in versions:
        return versions[name]
    from repro.experiments import registry   # not registered: registry.get names the known ones
    return getattr(registry.get(name), "code_version", 1)


def plan(spec: FigureSpec) -> list[RunSpec]:
    known: dict[str, int] = {}
    return expand(spec, version_of=lambda name: known[name] if name in known else known.setdefault(name, code_version(name)))


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
                inputs = _inputs(specs[i], planned[i]) if ok else None
                if ok and not rt.get("force") and not results[i] and _up_to_date(specs[i], inputs):
                    collected[i] = planned[i], None, inputs, True   # nothing new: collect, plot, check skipped
                    continue
                _stamp_path(specs[i]).unlink(missing_ok=True)
                out = None
                if ok:
                    from repro.runner.collect import collect

                    out = collect(specs[i], planned[i], rt["runs_dir"], rt["results_dir"], code_version)
                collected[i] = planned[i], out, inputs, False
    return [_finish(spec, *collected[i], results[i]) for i, spec in enumerate(specs)]


# the code that collects, draws and checks: a change to it redoes every figure's results
STAMPED_CODE = ("runner/collect.py", "runner/claims.py", "runner/pipeline.py", "runner/spec.py", "expr.py",
                "plotting/*.py")


def _code_digest() -> str:
    return cache.files_digest(f for pattern in STAMPED_CODE for f in sorted(REPRO.glob(pattern)))


def _stamp_path(spec: FigureSpec) -> Path:
    return figure_dir(spec.runtime["runs_dir"], spec.paper, spec.fig) / f".results_{spec.scale}.json"


def _outputs(spec: FigureSpec) -> list[Path]:
    """What collect, plot and check write for this figure."""
    out = [results_path(spec.runtime["results_dir"], spec.paper, spec.fig, spec.scale)]
    if spec.runtime.get("plot", True):
        out += [out[0].with_suffix(".png"), out[0].with_suffix(".pdf")]
    if spec.runtime.get("check", True):
        out.append(out[0].with_name(out[0].stem + "_claims.csv"))
    return out


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha1(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _inputs(spec: FigureSpec, runs: list[RunSpec]) -> str:
    """A digest of everything collect, plot and check read: the figure's verified runs (run key and DONE record),
    the resolved panels (params, plot, claims...), the scale, where results go, which steps run, and the code."""
    rt = spec.runtime
    done = sorted({(r.run_key, _digest(run_dir(rt["runs_dir"], r) / "DONE")) for r in runs})
    blob = json.dumps({"paper": spec.paper, "fig": spec.fig, "title": spec.title, "scale": spec.scale,
                       "panels": spec.panels, "spec_hash": spec.spec_hash, "results_dir": rt["results_dir"],
                       "plot": rt.get("plot", True), "check": rt.get("check", True), "runs": done,
                       "code": _code_digest()}, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()


def _up_to_date(spec: FigureSpec, inputs: str) -> bool:
    """The stamp records these inputs, and every output is there with the content the stamp recorded."""
    try:
        stamp = json.loads(_stamp_path(spec).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(stamp, dict) or stamp.get("inputs") != inputs:
        return False
    recorded = stamp.get("outputs") or {}
    expected = [str(p) for p in _outputs(spec)]
    return sorted(recorded) == sorted(expected) and all(
        recorded[p] is not None and _digest(Path(p)) == recorded[p] for p in expected)


def _write_stamp(spec: FigureSpec, inputs: str) -> None:
    atomic_write(_stamp_path(spec), json.dumps({"inputs": inputs, "outputs": {str(p): _digest(p) for p in
                                                                                _outputs(spec)}}, indent=1) + "\n")


def _stored_claims(spec: FigureSpec) -> list[claims_mod.ClaimResult]:
    """The outcome of the figure's last check, read back from its claims CSV (what an up-to-date figure reports)."""
    csv_path = results_path(spec.runtime["results_dir"], spec.paper, spec.fig, spec.scale)
    claims_csv = csv_path.with_name(csv_path.stem + "_claims.csv")
    if not spec.runtime.get("check", True) or not claims_csv.exists():
        return []
    with open(claims_csv, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("panel") in spec.panels]
    passed = {"True": True, "False": False}
    return [claims_mod.ClaimResult(r["panel"], r["id"], r["text"], r["gate"] == "True", passed.get(r["passed"]),
                                   r["detail"]) for r in rows]


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


def _finish(spec: FigureSpec, runs: list[RunSpec], out: Path | None, inputs: str | None, current: bool,
            results: list[dict]):
    """Report a figure's failed runs (one line per distinct error), plot it and check its claims. A figure with a
    failed run (out is None) wrote nothing to results/, and is neither drawn nor checked. A figure whose results
    are current (nothing changed since they were written) is reported in one line with its last claims."""
    rt = spec.runtime
    if current:
        csv_path = results_path(rt["results_dir"], spec.paper, spec.fig, spec.scale)
        print(f"{spec.paper} fig {spec.fig}: up to date [{spec.scale}]: {len(runs)} runs, 0 ran, 0 failed -> {csv_path}")
        return results, _stored_claims(spec)
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
    if inputs is not None:
        _write_stamp(spec, inputs)
    return results, claim_results


def plot_figure(spec: FigureSpec) -> Path:
    import pandas as pd

    from repro.plotting.figure import draw

    csv = results_path(spec.runtime["results_dir"], spec.paper, spec.fig, spec.scale)
    df = pd.read_csv(csv, low_memory=False)
    png = csv.with_suffix(".png")
    draw(df, f"{spec.paper} fig{spec.fig}: {spec.title}", spec.panels, [png, csv.with_suffix(".pdf")], spec.layout)
    return png


def check_figure(spec: FigureSpec, quiet: bool = False) -> list[claims_mod.ClaimResult]:
    import pandas as pd

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
