"""meta_alignment (arXiv 2012.02813): the real loaders' cache of their precomputed inputs (frozen ResNet features,
BERT feature sequences, filterbank frames), so a figure's many runs (methods x seeds x k) extract them once.

Two levels: in memory (per process, keyed by the family, the resolved data_dir and the loader's keyword arguments)
and, when the runner gives a cache folder (ctx.cache_dir), on disk as `<cache_dir>/meta_alignment/<family>-<key>.pt`,
where the key also covers a fingerprint of the input files (count, total size and newest mtime of every file under
the folders the loader reads, and the weights files), so restaged data or weights are never served stale.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import torch

from repro.data.episodes import CrossModalData

_MEMORY: dict[tuple, CrossModalData] = {}


def fingerprint(paths) -> list:
    """(path, files, bytes, newest mtime) of every path (a folder: everything under it; missing: zeros)."""
    out = []
    for p in paths:
        p = Path(p)
        files = size = newest = 0
        if p.is_file():
            st = p.stat()
            files, size, newest = 1, st.st_size, st.st_mtime_ns
        elif p.is_dir():
            for root, _dirs, names in os.walk(p):
                for name in names:
                    st = os.stat(os.path.join(root, name))
                    files, size, newest = files + 1, size + st.st_size, max(newest, st.st_mtime_ns)
        out.append([str(p), files, size, newest])
    return out


def cached(family: str, data_dir, cache_dir, kw: dict, inputs, build) -> CrossModalData:
    """build() -> CrossModalData, or its cached copy (see the module doc). `inputs`: the files/folders it reads."""
    mem_key = (family, str(Path(data_dir or ".").resolve()), json.dumps(kw, sort_keys=True, default=str))
    if mem_key in _MEMORY:
        return dataclasses.replace(_MEMORY[mem_key])
    path = None
    if cache_dir:
        blob = json.dumps([mem_key, fingerprint(inputs)], default=str).encode()
        path = Path(cache_dir) / "meta_alignment" / f"{family}-{hashlib.blake2b(blob, digest_size=10).hexdigest()}.pt"
        if path.exists():
            data = CrossModalData(**torch.load(path, map_location="cpu", weights_only=True))
            _MEMORY[mem_key] = data
            return dataclasses.replace(data)
    data = build()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save({f.name: getattr(data, f.name) for f in dataclasses.fields(data)}, tmp)
        os.replace(tmp, path)
    _MEMORY[mem_key] = data
    return dataclasses.replace(data)
