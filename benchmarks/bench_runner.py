"""Runner overhead: `repro list` latency and the per-run cost of compose + spawn + write, against a bare
`python -c pass` measured in the same process. Targets: list < 1 s, < 2 s overhead per run.

    python benchmarks/bench_runner.py
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOY = REPO / "tests" / "runner"


def wall(cmd, env=None, repeat=3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    bare = wall([sys.executable, "-c", "pass"])
    listing = wall([sys.executable, "-m", "repro.cli", "list"])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "conf").mkdir()
        shutil.copy(REPO / "conf" / "config.yaml", root / "conf")
        shutil.copytree(TOY / "toyconf" / "toy", root / "conf" / "toy")
        env = dict(os.environ, REPRO_ROOT=str(root), REPRO_PLUGINS="toy_experiments",
                   PYTHONPATH=os.pathsep.join([str(TOY), str(REPO)]))
        run = [sys.executable, "-m", "repro.cli", "run", "paper=toy", "fig=1", "plot=false", "check=false",
               f"runs_dir={root / 'runs'}", f"results_dir={root / 'results'}", "--force",
               "panels.quad.params.T=1", "panels.quad.params.chains=1"]
        few = wall([*run, "panels.quad.seeds=1"], env=env)                          # 2 sgd + 2 theory runs
        many = wall([*run, "panels.quad.seeds=21"], env=env)                        # 42 sgd + 2 theory runs
        per_run = (many - few) / 40
        noop = wall([*run[:-3], "panels.quad.params.T=1", "panels.quad.params.chains=1"], env=env)
    print(f"python -c pass           {bare:7.3f} s")
    print(f"repro list               {listing:7.3f} s   ratio {listing / bare:5.1f}x   (target < 1 s)")
    print(f"repro run, 4 runs        {few:7.3f} s   ratio {few / bare:5.1f}x")
    print(f"repro run, 44 runs       {many:7.3f} s   ratio {many / bare:5.1f}x")
    print(f"marginal cost per run    {per_run:7.3f} s   ratio {per_run / bare:5.2f}x  (target < 2 s)")
    print(f"repro run, all cached    {noop:7.3f} s   ratio {noop / bare:5.1f}x")


if __name__ == "__main__":
    main()
