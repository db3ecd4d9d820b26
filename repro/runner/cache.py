"""Small pickled caches that make the command line answer at once: ~/.cache/repro/<name>.pkl (XDG_CACHE_HOME moves
it). Each cache holds data derived from files together with what identifies those files (path, mtime, size,
content digest), so a stale entry is never used; a missing, cut or unwritable cache only costs the work again."""
from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path


def cache_file(name: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "repro" / f"{name}.pkl"


def load(name: str) -> dict:
    try:
        with open(cache_file(name), "rb") as f:
            data = pickle.load(f)
        return data if isinstance(data, dict) else {}
    except Exception:   # missing, cut or written by another version: start over
        return {}


def save(name: str, data: dict) -> None:
    path = cache_file(name)
    try:   # best effort: a read-only home only makes the next command do the work again
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass


def file_key(path: Path, data: bytes | None = None) -> tuple:
    """(mtime_ns, size, sha1 of the content) of a file: what a cached entry derived from it is keyed on."""
    st = path.stat()
    data = path.read_bytes() if data is None else data
    return st.st_mtime_ns, st.st_size, hashlib.sha1(data).hexdigest()


def files_digest(paths) -> str:
    """One digest of several files' names and contents (a missing file counts as missing)."""
    h = hashlib.sha1()
    for p in paths:
        p = Path(p)
        h.update(str(p).encode() + b"\0")
        h.update(p.read_bytes() if p.is_file() else b"<missing>")
        h.update(b"\0")
    return h.hexdigest()
