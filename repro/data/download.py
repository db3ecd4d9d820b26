"""Data sets on disk: `data_dir` resolution, checksummed downloads, and the one-line message when a file is
missing. Used by every real-data loader in repro/data/.

A loader asks `require(data_dir, relpath, url=..., sha256=...)`: if the file is there (and matches its checksum)
it is returned; else a download is tried when a URL is known; if that fails (no network here, in CI or on the GPU
box) DataMissing says exactly which file to put where, and, for a data set of the registry (repro/data/sources.py),
the `repro data fetch dataset=...` that downloads it. The runner records it as the run's error, one line.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path


class DataMissing(RuntimeError):
    """A data file is not on disk and could not be fetched. The message is one line that says what to do."""


class DataInvalid(DataMissing, ValueError):
    """A data file is there but is not what its loader expects (wrong magic number, size, shape, checksum, too
    short). The message is one line naming the file and what is wrong; the figure stops, writing nothing."""


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    return Path(data_dir or os.environ.get("REPRO_DATA", "data")).expanduser().resolve()


def file_hash(path, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    """The hex digest of a file, read in chunks (md5 for torchvision's published sums, sha256 for ours)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256sum(path: Path) -> str:
    return file_hash(path, "sha256")


def require(data_dir, relpath: str, *, url: str | None = None, sha256: str | None = None,
            timeout: float = 30.0) -> Path:
    """The path of `relpath` under data_dir, downloading it from `url` if missing. Raises DataMissing."""
    path = resolve_data_dir(data_dir) / relpath
    if path.exists():
        if sha256 and sha256sum(path) != sha256:
            raise DataMissing(f"{path} has the wrong checksum (expected sha256 {sha256[:12]}...): replace it"
                              + (f" with a fresh copy of {url}" if url else ""))
        return path
    if url:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r, \
                    tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
                shutil.copyfileobj(r, tmp)
            if sha256 and sha256sum(Path(tmp.name)) != sha256:
                os.unlink(tmp.name)
                raise DataMissing(f"download of {url} did not match its sha256; put a good copy at {path}")
            os.replace(tmp.name, path)
            return path
        except OSError:
            pass
    hint = f" (download it from {url})" if url else ""
    raise DataMissing(f"missing data file: put {relpath} at {path}{hint}, or set data_dir=... or the REPRO_DATA "
                      f"variable to the folder that holds it" + fetch_hint(relpath))


def fetch_hint(relpath: str) -> str:
    """"; or run `repro data fetch dataset=X`" for a file of a registered data set with a public download, else ""
    (the loaders of the others say how to obtain them)."""
    from repro.data.sources import for_path

    ds = for_path(relpath)
    return f"; or run `repro data fetch dataset={ds.name}` (it downloads and verifies it)" if ds and ds.public else ""
