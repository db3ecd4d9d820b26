"""`repro data list` and `repro data fetch`: what the figures need under data_dir, and downloading it.

    repro data list  [paper=P [fig=N]] [dataset=NAME[,NAME]] [data_dir=DIR]
    repro data fetch [paper=P [fig=N]] [dataset=NAME[,NAME]] [data_dir=DIR] [base_url=URL] [timeout=SECONDS]

The data sets are those of repro/data/sources.py. `fetch` without a selection fetches every data set a figure config
needs at full scale. Each file is streamed to a temporary name in its target folder (`.<name>.part-*`), its size is
checked against Content-Length and its checksum against the one recorded in sources.py, and only then is it renamed
into place; on any failure the temporary file is removed, so no partial or unverified file is ever taken for a real
one. A data set without a published checksum is pinned on first fetch: the sha256 is written beside the file
(`<file>.sha256`) and checked from then on. Archives are kept next to what they unpack to (as torchvision does), so
that `list` can verify them later.

`base_url=` (or $REPRO_DATA_BASE_URL) replaces the scheme and host of every source URL, keeping its path: a local
mirror, and the tests' server on 127.0.0.1.

Exit status: 0 when every requested data set with a public download is in place and verified (those without one get
a line saying how to obtain them); 1 when a download failed (checksum mismatch, truncated transfer, HTTP error);
2 with one line when the network cannot be reached, or on bad input.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from repro.data.download import resolve_data_dir
from repro.data.sources import REGISTRY, DataSet, Download, by_name, needed_by
from repro.runner.figures import PAPERS, UserError, find, index

KEYS = ("paper", "fig", "dataset", "data_dir", "base_url", "timeout")
CHUNK = 1 << 20


class FetchError(RuntimeError):
    """A download or unpack failed; the message is one line, and nothing unverified was left behind."""


class NoNetwork(FetchError):
    """No source of a file could be reached at all."""


class ChecksumMismatch(FetchError):
    """A download did not match its recorded checksum (or its first-use pin); it was deleted."""


# ----------------------------------------------------------------------------------------------------------------
# checksums
# ----------------------------------------------------------------------------------------------------------------

def _digests(path: Path) -> dict[str, str]:
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            md5.update(block)
            sha.update(block)
    return {"md5": md5.hexdigest(), "sha256": sha.hexdigest()}


def _pin_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _read_pin(path: Path) -> str | None:
    pin = _pin_path(path)
    return pin.read_text().split()[0] if pin.exists() and pin.read_text().strip() else None


def _mismatch(d: Download, digests: dict[str, str], pinned: str | None) -> str | None:
    """None if the digests satisfy the download's checksum (or its first-use pin), else a description."""
    check = d.checksum
    if check is None:
        if pinned is None or digests["sha256"] == pinned:
            return None
        return f"sha256 {digests['sha256'][:16]}... differs from the one pinned on first fetch ({pinned[:16]}...)"
    algo, want = check
    if algo == "sha256-prefix":
        got = digests["sha256"]
        return None if got.startswith(want) else f"sha256 {got[:16]}... does not start with {want}"
    got = digests[algo]
    return None if got == want else f"{algo} {got} != expected {want}"


def file_state(data_dir: Path, d: Download) -> str:
    """"verified" | "pinned" (first-use pin matches) | "unpinned" (present, no checksum, no pin) | "mismatch" |
    "missing"."""
    path = data_dir / d.dest
    if not path.is_file():
        return "missing"
    pinned = _read_pin(path)
    if d.checksum is None and pinned is None:
        return "unpinned"
    if _mismatch(d, _digests(path), pinned):
        return "mismatch"
    return "pinned" if d.checksum is None else "verified"


# ----------------------------------------------------------------------------------------------------------------
# download
# ----------------------------------------------------------------------------------------------------------------

def rebase(url: str, base_url: str | None) -> str:
    """`url` with its scheme and host replaced by base_url's (its path kept, under base_url's path)."""
    if not base_url:
        return url
    parts = urllib.parse.urlsplit(url)
    return base_url.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")


def _stream(url: str, dest: Path, timeout: float) -> tuple[Path, dict[str, str]]:
    """Download url to a temporary file beside dest; (its path, digests). Removes it on any failure."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.part-", dir=dest.parent)
    tmp = Path(tmp_name)
    md5, sha = hashlib.md5(), hashlib.sha256()
    connected = False
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "repro-data-fetch"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(req, timeout=timeout) as r:
            connected = True
            length = r.headers.get("Content-Length")
            n = 0
            while block := r.read(CHUNK):
                out.write(block)
                md5.update(block)
                sha.update(block)
                n += len(block)
            if length is not None and n != int(length):
                raise FetchError(f"{url}: transfer interrupted ({n} of {length} bytes); nothing kept")
        return tmp, {"md5": md5.hexdigest(), "sha256": sha.hexdigest()}
    except urllib.error.HTTPError as e:
        tmp.unlink(missing_ok=True)
        raise FetchError(f"{url}: HTTP {e.code} {e.reason}") from None
    except http.client.IncompleteRead as e:
        tmp.unlink(missing_ok=True)
        raise FetchError(f"{url}: transfer interrupted ({len(e.partial)} bytes short read); nothing kept") from None
    except (http.client.HTTPException, OSError) as e:
        tmp.unlink(missing_ok=True)
        if connected or isinstance(e, http.client.HTTPException):   # it broke off (reset, read timeout)
            raise FetchError(f"{url}: transfer interrupted ({type(e).__name__}: {e}); nothing kept") from None
        # refused, DNS, connect timeout (URLError is an OSError): the source cannot be reached
        reason = getattr(e, "reason", e)
        raise NoNetwork(f"cannot reach {urllib.parse.urlsplit(url).netloc} ({reason})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def download(data_dir: Path, d: Download, base_url: str | None = None, timeout: float = 60.0,
             log=lambda msg: None) -> Path:
    """Fetch one file from the first of its sources that gives a verified copy; returns its path. FetchError
    (NoNetwork when no source could be reached) with nothing left behind otherwise."""
    dest = data_dir / d.dest
    pinned = _read_pin(dest)
    new_dirs = [q for q in (dest.parent, *dest.parent.parents) if not q.exists()]   # removed again on failure
    errors: list[FetchError] = []
    for url in dict.fromkeys(rebase(u, base_url) for u in d.urls):   # de-duplicated, in order
        log(f"  {d.dest}: downloading {url} (~{_mb(d.size)})")
        try:
            tmp, digests = _stream(url, dest, timeout)
        except FetchError as e:
            errors.append(e)
            continue
        bad = _mismatch(d, digests, pinned)
        if bad:
            tmp.unlink(missing_ok=True)
            errors.append(ChecksumMismatch(f"{url}: checksum mismatch ({bad}); nothing kept at {dest}"))
            continue
        os.replace(tmp, dest)
        if d.checksum is None and pinned is None:
            _pin_path(dest).write_text(f"{digests['sha256']}  {dest.name}  (pinned on first fetch from {url})\n")
        return dest
    for q in new_dirs:                     # deepest first; only folders this call created, and only if empty
        try:
            q.rmdir()
        except OSError:
            break
    if all(isinstance(e, NoNetwork) for e in errors):
        raise NoNetwork(f"no network: {errors[-1]}; nothing downloaded for {d.dest}")
    # the most telling failure: a checksum mismatch, else an HTTP error or a broken transfer
    raise next(e for kind in (ChecksumMismatch, FetchError) for e in reversed(errors)
               if isinstance(e, kind) and not isinstance(e, NoNetwork))


# ----------------------------------------------------------------------------------------------------------------
# unpack
# ----------------------------------------------------------------------------------------------------------------

def _safe_member(name: str) -> bool:
    p = Path(name)
    return not p.is_absolute() and ".." not in p.parts


def unpack(data_dir: Path, d: Download) -> None:
    """gunzip to dest minus .gz, or extract an archive into data_dir/<into>; each result appears by rename only
    once complete (a folder it replaces is removed first)."""
    src = data_dir / d.dest
    if d.unpack is None:
        return
    try:
        if d.unpack == "gunzip":
            target = src.with_suffix("")
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.part-", dir=target.parent)
            try:
                with gzip.open(src, "rb") as g, os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(g, out, CHUNK)
                os.replace(tmp, target)
            finally:
                Path(tmp).unlink(missing_ok=True)
            return
        into = data_dir / d.into
        into.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".repro-extract-", dir=into) as tmp:
            if d.unpack == "tar":
                with tarfile.open(src, "r:*") as t:
                    members = t.getmembers()
                    bad = [m.name for m in members if not _safe_member(m.name) or m.issym() or m.islnk()]
                    if bad:
                        raise FetchError(f"{src}: unsafe member {bad[0]!r} in the archive; not extracted")
                    kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                    t.extractall(tmp, members=members, **kwargs)
            elif d.unpack == "zip":
                with zipfile.ZipFile(src) as z:
                    bad = [n for n in z.namelist() if not _safe_member(n)]
                    if bad:
                        raise FetchError(f"{src}: unsafe member {bad[0]!r} in the archive; not extracted")
                    z.extractall(tmp)
            else:
                raise ValueError(f"unknown unpack {d.unpack!r}")
            for entry in Path(tmp).iterdir():
                target = into / entry.name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
                os.replace(entry, target)
    except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile, gzip.BadGzipFile) as e:
        raise FetchError(f"{src}: cannot unpack ({type(e).__name__}: {' '.join(str(e).split())})") from None


# ----------------------------------------------------------------------------------------------------------------
# data sets
# ----------------------------------------------------------------------------------------------------------------

def _mb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def status(ds: DataSet, data_dir: Path) -> str:
    """One word or phrase: verified | verified (pinned on first fetch) | present, not verified | checksum mismatch |
    downloaded, not unpacked | missing."""
    have = all((data_dir / p).exists() for p in ds.paths)
    states = [file_state(data_dir, d) for d in ds.downloads]
    if "mismatch" in states:
        return "checksum mismatch"
    if ds.downloads and all(s in ("verified", "pinned") for s in states):
        if not have:
            return "downloaded, not unpacked"
        return "verified (pinned on first fetch)" if "pinned" in states else "verified"
    return "present, not verified" if have else "missing"


def fetch_dataset(ds: DataSet, data_dir: Path, base_url: str | None, timeout: float, log) -> str:
    """Make ds present and verified; returns the line to print. FetchError on failure."""
    if not ds.public:
        if all((data_dir / p).exists() for p in ds.paths):
            return f"{ds.name}: present (no public download; not verified)"
        return f"{ds.name}: no public download: {ds.how}"
    have = all((data_dir / p).exists() for p in ds.paths)
    states = [file_state(data_dir, d) for d in ds.downloads]     # hashes each file present once
    if have and all(s == "missing" for s in states):
        return (f"{ds.name}: present, not verified (placed by hand, no download to check; remove "
                f"{data_dir / _where(ds).split()[0]} to fetch a verified copy)")
    fresh = False
    for d, state in zip(ds.downloads, states):
        if state in ("verified", "pinned"):
            continue
        download(data_dir, d, base_url, timeout, log)
        fresh = True
    if fresh or not have:
        for d in ds.downloads:
            unpack(data_dir, d)
    missing = [p for p in ds.paths if not (data_dir / p).exists()]
    if missing:
        raise FetchError(f"{ds.name}: unpacked, but {data_dir / missing[0]} is not there")
    how = "pinned on first fetch" if ds.trust_on_first_use else ds.source
    return f"{ds.name}: {'downloaded and verified' if fresh else 'already verified'} ({how}) in {data_dir}"


# ----------------------------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------------------------

def _parse(args: list[str]) -> dict[str, str]:
    opts = {}
    for a in args:
        key, eq, value = a.partition("=")
        if not eq or key not in KEYS:
            raise UserError(f"unknown argument {a!r}; use key=value with keys: {', '.join(KEYS)}")
        opts[key] = value
    return opts


def select(opts: dict[str, str], default_all: bool) -> list[DataSet]:
    """The data sets chosen by dataset= / paper= [fig=]; with neither, all registered (default_all) or those any
    figure needs."""
    names, needs = by_name(), needed_by()
    if "fig" in opts and "paper" not in opts:
        raise UserError("fig= needs paper=<paper>")
    chosen: list[DataSet] = []
    if "dataset" in opts:
        for n in opts["dataset"].split(","):
            if n not in names:
                raise UserError(f"unknown dataset {n!r}; choose one of: {', '.join(names)}")
            chosen.append(names[n])
    if "paper" in opts:
        paper = opts["paper"]
        idx = index()
        if paper in idx:
            figs = {(paper, e.fig) for e in find(paper, opts.get("fig"))[0]}
            chosen += [d for d in REGISTRY if figs & set(needs[d.name])
                       or ("fig" not in opts and paper in d.planned)]
        elif paper in PAPERS:
            if "fig" in opts:
                raise UserError(f"paper={paper} has no figure configs yet; drop fig= for the data sets it will need")
            chosen += [d for d in REGISTRY if paper in d.planned]
        else:
            raise UserError(f"unknown paper {paper!r}; choose one of: {', '.join(dict.fromkeys([*PAPERS, *idx]))}")
    if "dataset" not in opts and "paper" not in opts:
        chosen = list(REGISTRY) if default_all else [d for d in REGISTRY if needs[d.name]]
    return list(dict.fromkeys(chosen))


def _where(ds: DataSet) -> str:
    tops = dict.fromkeys(p.split("/")[0] + ("/" if "/" in p else "") for p in ds.paths)
    return " ".join(tops)


def list_lines(datasets: list[DataSet], data_dir: Path) -> list[str]:
    needs = needed_by()
    rows = [("dataset", "status", "size", "in data_dir", "checksum", "needed by")]
    for ds in datasets:
        figs = needs[ds.name]
        by = "; ".join(f"{p} fig {','.join(f for q, f in figs if q == p)}" for p in dict.fromkeys(p for p, _ in figs))
        if ds.planned:
            by += ("; " if by else "") + "planned: " + ", ".join(ds.planned)
        check = ("no public download" if not ds.public else
                 "pinned on first fetch (no published checksum)" if ds.trust_on_first_use else ds.source)
        rows.append((ds.name, status(ds, data_dir), _mb(ds.size) if ds.size else "-", _where(ds), check, by or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + "  " + r[5] for r in rows]
    lines.append(f"data_dir: {data_dir}")
    lines += [f"{ds.name}: no public download: {ds.how}" for ds in datasets if not ds.public
              and status(ds, data_dir) == "missing"]
    return lines


def main(args: list[str]) -> int:
    """`repro data list|fetch ...`; UserError for bad input (the CLI prints it, exit 2)."""
    if not args or args[0] not in ("list", "fetch"):
        raise UserError("say `repro data list` or `repro data fetch` [paper=P] [fig=N] [dataset=NAME] [data_dir=DIR]")
    action, opts = args[0], _parse(args[1:])
    data_dir = resolve_data_dir(opts.get("data_dir"))
    if action == "list":
        print("\n".join(list_lines(select(opts, default_all=True), data_dir)))
        return 0
    base_url = opts.get("base_url") or os.environ.get("REPRO_DATA_BASE_URL") or None
    if base_url and urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
        raise UserError(f"base_url must be an http:// or https:// URL, got {base_url!r}")
    try:
        timeout = float(opts.get("timeout", 60))
    except ValueError:
        raise UserError(f"timeout must be a number of seconds, got {opts['timeout']!r}") from None
    data_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    tty = sys.stderr.isatty()   # progress lines on a terminal only: in logs each data set is one line

    def log(msg: str) -> None:
        if tty:
            print(msg, file=sys.stderr, flush=True)

    for ds in select(opts, default_all=False):
        try:
            print(fetch_dataset(ds, data_dir, base_url, timeout, log=log), flush=True)
        except NoNetwork as e:
            print(f"repro data: {ds.name}: {e}", file=sys.stderr)
            return 2
        except FetchError as e:
            print(f"repro data: {ds.name}: {e}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0
