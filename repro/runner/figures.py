"""The figure index: which papers and figures exist, read straight from conf/<paper>/fig<N>.yaml.

`repro list` and alias resolution use this (plain OmegaConf loads, no Hydra: it must stay fast); `repro run`
composes the chosen file through Hydra (repro/runner/compose.py).
"""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

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
def _index(root: str) -> dict[str, list[FigureEntry]]:
    base = Path(root)
    out: dict[str, list[FigureEntry]] = {}
    for paper_dir in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(("_", "hydra"))):
        entries = []
        for f in paper_dir.glob("fig*.yaml"):
            try:
                cfg = OmegaConf.to_container(OmegaConf.load(f), resolve=False)
            except Exception as e:  # a broken file is named in one line, not a parser traceback
                raise UserError(f"cannot read {f}: {' '.join(str(e).split())}") from None
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
