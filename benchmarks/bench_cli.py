"""How fast the command line answers (issue 16): CPU time (user + sys of the child process, which a busy machine
disturbs far less than wall time), median of several repeats, against a bare `python -c pass` measured in the
same process. Uses the real conf/ (every figure config) with runs and results in a temporary folder.

    python benchmarks/bench_cli.py [repeats]

Targets: `repro list` and `repro status` <= 1.0 s; `repro run paper=laprop fig=1 scale=tiny` whose runs are done
and whose CSV, plot and claims are up to date <= 1.5 s; `repro run ... --cfg` <= 1.5 s.

Each command is run once unmeasured first (the config index and experiment-version caches under XDG_CACHE_HOME,
here a temporary folder, are then warm, as they are after any first command). Measured on the 2-core development
machine under load from other work, CPU seconds, median of 5:

                                   before (e485e3e)   after (issue 16)
    python -c pass                      0.040          0.050
    repro list                          2.49           0.12
    repro status                        2.35           0.11
    repro run (all done)                9.55           0.57   ("laprop fig 1: up to date [tiny]: ...")
    repro run --cfg                     2.79           0.54
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cpu(cmd, env, repeat: int) -> float:
    """Median CPU seconds (user + sys) of the child process `cmd`."""
    times = []
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)   # warm caches
    for _ in range(repeat):
        before = os.times()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
        _, err = proc.communicate()
        after = os.times()
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{err.decode()[-2000:]}")
        times.append((after.children_user - before.children_user) + (after.children_system - before.children_system))
    return statistics.median(times)


def main() -> None:
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
                   XDG_CACHE_HOME=str(Path(tmp) / "cache"), REPRO_ROOT=str(REPO))
        env.pop("REPRO_RUNS", None)
        repro = [sys.executable, "-m", "repro.cli"]
        dirs = [f"runs_dir={tmp}/runs", f"results_dir={tmp}/results"]
        run = [*repro, "run", "paper=laprop", "fig=1", "scale=tiny", *dirs]
        subprocess.run(run, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
        rows = [("python -c pass", cpu([sys.executable, "-c", "pass"], env, repeat), None),
                ("repro list", cpu([*repro, "list"], env, repeat), 1.0),
                ("repro status", cpu([*repro, "status"], env, repeat), 1.0),
                ("repro run (all done)", cpu(run, env, repeat), 1.5),
                ("repro run --cfg", cpu([*run, "--cfg"], env, repeat), 1.5)]
    bare = rows[0][1]
    for name, t, target in rows:
        goal = f"target <= {target:.1f} s  {'ok' if t <= target else 'MISSED'}" if target else ""
        print(f"{name:<24} {t:6.3f} s CPU   ratio {t / bare:6.1f}x   {goal}")


if __name__ == "__main__":
    main()
