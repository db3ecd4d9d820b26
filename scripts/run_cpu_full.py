"""Run at full scale every figure whose config says `full_on_cpu: true`, then rewrite results/README.md.

    python scripts/run_cpu_full.py [paper ...]

These are the theory and simulation figures whose full setting fits this 2-core machine; their CSVs and plots
are committed under results/. `full_on_cpu: <panel alias>` runs only that panel (its figure's other panels need a
GPU or data this machine lacks; collect keeps their rows, if any); the whole figure is then drawn and checked
again, so that its plot shows every panel and its claims CSV records them all (an unrun panel as NOT RUN).
The figures' runs share one pool of workers where their run-time settings agree
(repro.runner.pipeline.run_figures). Exits non-zero if a run failed (claims are reported, not enforced: a failing
claim is a finding to write down, see `repro check`).
"""
from __future__ import annotations

import sys
import time

from repro.cli import main as repro
from repro.runner.compose import load_spec
from repro.runner.figures import index
from repro.runner.pipeline import check_figure, plot_figure, run_figures


def main(papers: list[str]) -> int:
    entries = [e for paper, figs in index().items() if not papers or paper in papers
               for e in figs if e.meta.get("full_on_cpu")]
    only = {id(e): e.meta["full_on_cpu"] for e in entries if isinstance(e.meta["full_on_cpu"], str)}
    specs = [load_spec(e, ["scale=full"], panel=only.get(id(e))) for e in entries]
    t = time.time()
    out = run_figures(specs, progress=sys.stderr.isatty())
    failed = sum(r["status"] != "done" for results, _ in out for r in results)
    for e, (results, _) in zip(entries, out):   # a panel ran: draw and check the whole figure
        if id(e) in only and all(r["status"] == "done" for r in results):
            whole = load_spec(e, ["scale=full"])
            plot_figure(whole)
            check_figure(whole, quiet=True)
    print(f"== {len(specs)} figures at full scale: {time.time() - t:.1f} s wall, {failed} failed run(s)")
    repro(["report"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
