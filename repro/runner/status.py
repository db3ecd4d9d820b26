"""What is on disk, per figure and scale: done / stale / missing / failed (and skip). No torch, no Hydra: fast.

  missing  no results CSV at that scale
  stale    a CSV exists but the figure's config changed since its claims were checked (spec hash differs)
  failed   a gating claim failed at the last check
  done     CSV present, config unchanged, every gating claim passed
"""
from __future__ import annotations

import csv
from pathlib import Path

from repro.runner.spec import resolve_panels, results_path, spec_hash
from repro.runner.figures import FigureEntry, index, paper_names, project_root


def figure_status(entry: FigureEntry, scale: str, results_dir: Path | None = None, exists=Path.exists) -> str:
    """`exists` decides which files count (`repro report` counts only the files git holds)."""
    panels = resolve_panels(entry.meta, scale)
    if all(p.get("skip") for p in panels.values()):
        return "skip"
    results_dir = results_dir or project_root() / "results"
    path = results_path(results_dir, entry.paper, entry.fig, scale)
    if not exists(path):
        return "missing"
    claims_csv = path.with_name(path.stem + "_claims.csv")
    if not exists(claims_csv):
        return "stale"
    rows = list(csv.DictReader(open(claims_csv)))
    if not rows or any(r["spec_hash"] != spec_hash(panels) for r in rows) or \
            {r["panel"] for r in rows} < set(panels):
        return "stale"
    if any(r["gate"] == "True" and r["passed"] == "False" for r in rows):
        return "failed"
    return "done"


def _tags(entry: FigureEntry) -> str:
    return ",".join(dict.fromkeys(str(p.get("provenance", "?")) for p in entry.meta["panels"].values()))


def list_lines(paper: str | None = None) -> list[str]:
    idx = index()
    lines = []
    for p in (paper_names() if paper is None else [paper]):
        figs = idx.get(p, [])
        lines.append(f"{p}  ({len(figs)} figures)" if figs else f"{p}  (no figure configs yet)")
        for e in figs:
            tiny, full = (resolve_panels(e.meta, s) for s in ("tiny", "full"))
            cost = lambda ps: " + ".join(dict.fromkeys(str(x.get("cost", "?")) for x in ps.values()))  # noqa: E731
            lines.append(f"  fig={e.fig:<4} {','.join(e.panels):<34} [{_tags(e)}] {e.title}")
            skip = [f"{a}: {x['skip']}" for a, x in full.items() if x.get("skip")]
            if skip:
                lines.append(f"           skip: {'; '.join(skip)}")
            lines.append(f"           tiny: {figure_status(e, 'tiny'):<8} ({cost(tiny)})   "
                         f"full: {figure_status(e, 'full'):<8} ({cost(full)})")
    return lines


def status_grid() -> str:
    idx = index()
    letters = {"done": "D", "stale": "s", "missing": ".", "failed": "F", "skip": "-"}
    width = max([len(e.fig) for figs in idx.values() for e in figs] + [2])
    out = ["status per figure as tiny/full  (D done, s stale, . missing, F failed, - skipped)"]
    for p in paper_names():
        cells = [f"{e.fig}:{letters[figure_status(e, 'tiny')]}{letters[figure_status(e, 'full')]}".ljust(width + 4)
                 for e in idx.get(p, [])]
        out.append(f"{p:<16} " + (" ".join(cells) if cells else "(none)"))
    return "\n".join(out)
