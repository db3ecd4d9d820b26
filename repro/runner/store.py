"""The run store: runs/<paper>/fig<N>/<run_key>/{config.json, provenance.json, metrics.csv, DONE}.

metrics.csv is append-only while the run lives (a killed run leaves a partial file, which a rerun truncates);
DONE is written last, atomically, so its presence is the only sign of a finished run. FAILED holds the error of
a run that raised. A figure-level lock serialises concurrent `repro run`s of the same figure.
"""
from __future__ import annotations

import contextlib
import csv
import fcntl
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from repro.runner.sweep import RunSpec


def figure_dir(runs_dir, paper: str, fig: str) -> Path:
    return Path(runs_dir) / paper / f"fig{fig}"


def run_dir(runs_dir, run: RunSpec) -> Path:
    return figure_dir(runs_dir, run.paper, run.fig) / run.run_key


def is_done(runs_dir, run: RunSpec) -> bool:
    return (run_dir(runs_dir, run) / "DONE").exists()


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.fchmod(fd, 0o644)   # mkstemp's 0600 would make results unreadable to others
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def figure_lock(runs_dir, paper: str, fig: str, wait_message=None):
    d = figure_dir(runs_dir, paper, fig)
    d.mkdir(parents=True, exist_ok=True)
    with open(d / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if wait_message:
                print(wait_message, file=sys.stderr)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class MetricsWriter:
    """Appends the experiment's raw rows; columns may grow (a new column rewrites the header once)."""

    def __init__(self, path: Path):
        self.path = path
        self.columns: list[str] = []
        self.rows_written = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(path, "w", newline="")

    def write(self, rows: list[dict]) -> None:
        new = [k for r in rows for k in r if k not in self.columns]
        if new:
            for k in new:
                if k not in self.columns:
                    self.columns.append(k)
            if self.rows_written:
                self.f.close()
                old = list(csv.DictReader(open(self.path, newline="")))
                self.f = open(self.path, "w", newline="")
                w = csv.DictWriter(self.f, fieldnames=self.columns)
                w.writeheader()
                w.writerows(old)
            else:
                csv.DictWriter(self.f, fieldnames=self.columns).writeheader()
        csv.DictWriter(self.f, fieldnames=self.columns).writerows(rows)
        self.rows_written += len(rows)
        self.f.flush()

    def close(self):
        self.f.close()


def git_state(root: Path) -> dict:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=5).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                    capture_output=True, text=True, timeout=5).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        sha, dirty = "", None
    return {"git_sha": sha, "git_dirty": dirty}


def write_json(path: Path, obj) -> None:
    atomic_write(path, json.dumps(obj, indent=1, sort_keys=True, default=str))
