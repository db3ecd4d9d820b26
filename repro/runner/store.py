"""The run store: runs/<paper>/fig<N>/<run_key>/{config.json, provenance.json, metrics.csv, DONE}.

metrics.csv is append-only while the run lives (a killed run leaves a partial file, which a rerun truncates);
DONE is written last, atomically, and records what verifies the run: its row count and the sha256 of metrics.csv
(JSON). A run is finished only when DONE is there and the files agree with it (`verify_run`): a cut, edited or
deleted metrics.csv, or an unreadable provenance.json, makes it unfinished, so it is reported and rerun, and
collection never reads it. FAILED holds the error of a run that raised. A figure-level lock serialises concurrent
`repro run`s of the same figure.
"""
from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import io
import json
import os
import re
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
    """DONE is there and the run's files agree with it (see verify_run)."""
    return verify_run(run_dir(runs_dir, run)) is None


def metrics_digest(path: Path) -> tuple[int, str]:
    """(data rows, sha256) of a metrics.csv. Rows are CSV records after the header; a record whose field count
    differs from the header's, or a file that does not end with a newline (cut mid-line), raises ValueError."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if not data:
        return 0, digest
    if not data.endswith(b"\n"):
        raise ValueError("metrics.csv ends mid-line (cut)")
    records = list(csv.reader(io.StringIO(data.decode("utf-8", errors="strict"), newline="")))
    width = len(records[0])
    short = next((i for i, r in enumerate(records[1:], 2) if len(r) != width), None)
    if short is not None:
        raise ValueError(f"metrics.csv line {short} has {len(records[short - 1])} fields, the header {width}")
    return len(records) - 1, digest


def done_text(metrics: Path, wall: float) -> str:
    rows, sha = metrics_digest(metrics)
    return json.dumps({"rows": rows, "sha256": sha, "wall_time_s": round(wall, 3)}, sort_keys=True) + "\n"


_VERIFIED: dict[tuple, str | None] = {}


def verify_run(rdir: Path) -> str | None:
    """None when the run in `rdir` is finished and intact; else why not, in a few words."""
    rdir = Path(rdir)
    done, metrics, prov = rdir / "DONE", rdir / "metrics.csv", rdir / "provenance.json"
    try:
        stamp = tuple((p.stat().st_mtime_ns, p.stat().st_size) if p.exists() else None for p in (done, metrics, prov))
    except OSError as e:
        return f"unreadable ({e.strerror})"
    if stamp[0] is None:
        return "not finished (no DONE)"
    key = (str(rdir), stamp)
    if key not in _VERIFIED:
        _VERIFIED[key] = _verify(done, metrics, prov)
    return _VERIFIED[key]


def _verify(done: Path, metrics: Path, prov: Path) -> str | None:
    if not metrics.exists():
        return "metrics.csv is missing"
    if not prov.exists():
        return "provenance.json is missing"
    try:
        if not isinstance(json.loads(prov.read_text()), dict):
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        return "provenance.json is not a JSON object"
    text = done.read_text(errors="replace")
    try:
        rows, sha = metrics_digest(metrics)
    except (ValueError, UnicodeDecodeError) as e:
        return str(e)
    try:
        record = json.loads(text)
        want_rows, want_sha = int(record["rows"]), record.get("sha256")
    except (ValueError, TypeError, KeyError):
        m = re.match(r"(\d+) rows in ", text)   # DONE of an older repro: its row count only
        if not m:
            return "DONE is unreadable"
        want_rows, want_sha = int(m.group(1)), None
    if rows != want_rows:
        return f"metrics.csv has {rows} rows, DONE recorded {want_rows}"
    if want_sha is not None and sha != want_sha:
        return "metrics.csv changed since the run finished (sha256 differs from DONE)"
    return None


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
