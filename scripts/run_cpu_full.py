"""Run at full scale every figure whose config says `full_on_cpu: true`, then rewrite results/README.md.

    python scripts/run_cpu_full.py [paper ...]

These are the theory and simulation figures whose full setting fits this 2-core machine; their CSVs and plots
are committed under results/. Exits non-zero if a run failed (claims are reported, not enforced: a failing
claim is a finding to write down, see `repro check`).
"""
from __future__ import annotations

import sys
import time

from repro.cli import main as repro
from repro.runner.figures import index


def main(papers: list[str]) -> int:
    code = 0
    for paper, figs in index().items():
        if papers and paper not in papers:
            continue
        for e in figs:
            if e.meta.get("full_on_cpu"):
                t = time.time()
                code |= repro(["run", f"paper={paper}", f"fig={e.fig}", "scale=full"])
                print(f"== {paper} fig{e.fig}: {time.time() - t:.1f} s wall")
    repro(["report"])
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
