"""The figure index: which papers and figures exist, read straight from conf/<paper>/fig<N>.yaml.

`repro list`, `repro status` and alias resolution use this (no Hydra, no OmegaConf: it must stay fast); `repro run`
composes the chosen file through Hydra (repro/runner/compose.py). Each file is parsed with PyYAML (libyaml's
CSafeLoader when available) set up as OmegaConf's own loader is (the same float and timestamp rules, duplicate keys
refused), so an entry's `meta` equals `OmegaConf.to_container(OmegaConf.load(file), resolve=False)`. Parsed files
are cached in ~/.cache/repro/index.pkl (XDG_CACHE_HOME moves it), keyed on each file's path, mtime, size and
content digest, so a command re-parses only the files that changed.
"""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

PAPERS = ("laprop", "adam_variance", "sgd_fluctuation", "minibatch_noise", "escape_rate", "snake", "gambler",
          "label_smoothing", "volumization", "meta_alignment")


class UserError(Exception):
    """Bad input from the user: printed as one line, exit status 2, nothing written."""


def project_root() -> Path:
    """The checkout holding conf/ (REPRO_ROOT overrides; an editable install finds it next to repro/)."""
    env = os.environ.get("REPRO_ROOT")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[2]


def conf_dir() -> Path:
    return project_root() / "conf"


@dataclass(frozen=True)
class FigureEntry:
    paper: str
    fig: str                      # "1", "2", "T1"
    file: Path
    title: str
    panels: tuple[str, ...]       # panel aliases (catalog aliases)
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def name(self) -> str:
        return f"fig{self.fig}"


def _fig_sort_key(fig: str):
    m = re.fullmatch(r"(\D*)(\d+)", fig)
    return (m.group(1), int(m.group(2))) if m else (fig, 0)


def index() -> dict[str, list[FigureEntry]]:
    """paper -> its figures in order. Files are conf/<paper>/fig<N>.yaml."""
    return _index(str(conf_dir()))


@functools.lru_cache(maxsize=None)
def yaml_loader():
    """A PyYAML loader class that reads YAML as OmegaConf.load does (omegaconf._utils.get_yaml_loader), on libyaml's
    C parser when PyYAML has it."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        def construct_mapping(self, node, deep=False):
            keys = set()
            for key_node, _ in node.value:
                if key_node.tag != yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG:
                    continue
                if key_node.value in keys:
                    raise yaml.constructor.ConstructorError("while constructing a mapping", node.start_mark,
                                                            f"found duplicate key {key_node.value}",
                                                            key_node.start_mark)
                keys.add(key_node.value)
            return super().construct_mapping(node, deep=deep)

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"""^(?:
         [-+]?[0-9]+(?:_[0-9]+)*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?[0-9]+(?:_[0-9]+)*(?:[eE][-+]?[0-9]+)
        |\.[0-9]+(?:_[0-9]+)*(?:[eE][-+][0-9]+)?
        |[-+]?[0-9]+(?:_[0-9]+)*(?::[0-5]?[0-9])+\.[0-9_]*
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""", re.X),
        list("-+0123456789."))
    Loader.yaml_implicit_resolvers = {k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
                                      for k, v in Loader.yaml_implicit_resolvers.items()}
    return Loader


def read_config(path: Path, text: str | None = None):
    """A figure file as plain data, equal to OmegaConf.to_container(OmegaConf.load(path), resolve=False)."""
    import yaml

    data = yaml.load(path.read_text() if text is None else text, Loader=yaml_loader())
    return {} if data is None else data


def _parsed(files: list[Path]) -> dict[Path, dict]:
    """file -> its parsed config, from the cache where the file's (mtime, size, content digest) is unchanged."""
    from repro.runner import cache as cache_mod

    cache, dirty, out = cache_mod.load("index"), False, {}
    for f in files:
        data = f.read_bytes()
        key = cache_mod.file_key(f, data)
        hit = cache.get(str(f))
        if hit is not None and hit[0] == key:
            out[f] = hit[1]
            continue
        try:
            cfg = read_config(f, data.decode())
        except Exception as e:  # a broken file is named in one line, not a parser traceback
            raise UserError(f"cannot read {f}: {' '.join(str(e).split())}") from None
        cache[str(f)], dirty, out[f] = (key, cfg), True, cfg
    if dirty:
        cache_mod.save("index", cache)
    return out


@functools.lru_cache(maxsize=None)
def _index(root: str) -> dict[str, list[FigureEntry]]:
    base = Path(root)
    out: dict[str, list[FigureEntry]] = {}
    paper_dirs = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(("_", "hydra")))
    parsed = _parsed([f for d in paper_dirs for f in d.glob("fig*.yaml")])
    for paper_dir in paper_dirs:
        entries = []
        for f in paper_dir.glob("fig*.yaml"):
            cfg = parsed[f]
            entries.append(FigureEntry(paper=str(cfg["paper"]), fig=str(cfg["fig"]), file=f,
                                       title=str(cfg.get("title", "")), panels=tuple(cfg.get("panels", {})),
                                       meta=cfg))
        if entries:
            out[paper_dir.name] = sorted(entries, key=lambda e: _fig_sort_key(e.fig))
    return out


def paper_names() -> list[str]:
    """The ten papers in catalog order, then any other paper that has figure configs (plugins, tests)."""
    idx = index()
    return [*PAPERS, *(k for k in idx if k not in PAPERS)]


def find(paper: str, fig: str | None) -> tuple[list[FigureEntry], str | None]:
    """Resolve `paper=P fig=N|alias` to figure entries and, for a panel alias, the panel name.
    fig=None means every figure of the paper."""
    idx = index()
    if paper not in idx:
        raise UserError(f"unknown paper {paper!r}; choose one of: {', '.join(idx)}")
    figs = idx[paper]
    if fig is None:
        return figs, None
    fig = str(fig)
    for e in figs:
        if e.fig == fig or e.name == fig:
            return [e], None
    for e in figs:
        if fig in e.panels:
            return [e], fig
    choices = [e.fig for e in figs] + [p for e in figs for p in e.panels]
    raise UserError(f"unknown fig {fig!r} for paper={paper}; choose one of: {', '.join(choices)}")
