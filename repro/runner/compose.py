"""Compose a figure's Hydra config and resolve it for one scale: conf/<paper>/fig<N>.yaml -> FigureSpec.

Order of precedence (last wins): the figure file, its `scales.<scale>` profile, the user's overrides. Hydra applies
the overrides at compose time (so unknown keys and bad syntax are caught by Hydra), then the scale profile is merged
and the user's overrides of panel keys are applied once more on top, so `panels.X.params.T=5` beats the profile.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from repro.runner.facets import check_layout
from repro.runner.figures import FigureEntry, UserError, conf_dir, project_root
from repro.runner.spec import deep_merge, resolve_panels, spec_hash  # noqa: F401  (re-exported)

SCALES = ("tiny", "full")
PRECISIONS = ("fp32", "bf16", "fp16")
LAUNCHERS = ("local", "slurm", "submitit_local")
INT64_MAX = 2 ** 63 - 1
NOT_TYPE_CHECKED = {"devices"}   # takes several types (auto | cpu | 0 | [0, 1] | "0,1"): checked by resolve_devices
RUNTIME_KEYS = ("scale", "panel", "devices", "slots_per_device", "threads", "precision", "launcher", "slurm", "data_dir",
                "runs_dir", "results_dir", "force", "plot", "check")


@dataclass
class FigureSpec:
    paper: str
    fig: str
    title: str
    scale: str
    panels: dict            # alias -> resolved panel dict (scale profile applied)
    runtime: dict           # devices, precision, dirs ...
    spec_hash: str          # hash of the resolved panels: changes when anything semantic changes
    layout: dict | None = None   # {rows, cols} of the plot's axes grid (repro/runner/facets.py); None: 3 columns

    @property
    def name(self) -> str:
        return f"fig{self.fig}"


def _type_name(v) -> str:
    return "a list" if isinstance(v, (list, tuple)) else "a mapping" if isinstance(v, dict) else type(v).__name__


def _check_types(base: DictConfig, cfg: DictConfig, keys: list[str]) -> None:
    """A value of the wrong type is a user error (OmegaConf does not type-check untyped YAML)."""
    for key in keys:
        new = OmegaConf.select(cfg, key, default=None)
        if isinstance(new, int) and not isinstance(new, bool) and abs(new) > INT64_MAX:
            raise UserError(f"value for {key} is too large: {new} (integers must fit in 64 bits)")
        old = OmegaConf.select(base, key, default=None)
        if old is None or new is None or key in NOT_TYPE_CHECKED:
            continue
        old_v = OmegaConf.to_container(old) if isinstance(old, DictConfig) or OmegaConf.is_list(old) else old
        new_v = OmegaConf.to_container(new) if isinstance(new, DictConfig) or OmegaConf.is_list(new) else new
        ok = (isinstance(old_v, bool) == isinstance(new_v, bool)) and (
            (isinstance(old_v, (int, float)) and isinstance(new_v, (int, float)))
            or (isinstance(old_v, str) and isinstance(new_v, str))
            or (isinstance(old_v, (list, tuple)) and isinstance(new_v, (list, tuple)))
            or (isinstance(old_v, dict) and isinstance(new_v, dict)))
        if isinstance(old_v, int) and not isinstance(old_v, bool) and isinstance(new_v, float) and not new_v.is_integer():
            ok = False
        if not ok:
            raise UserError(f"wrong type for {key}: expected {_type_name(old_v)} like {old_v!r}, got {new_v!r}")


def override_keys(overrides: list[str]) -> list[str]:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as e:  # hydra's OverrideParseException, with a multi-line message
        raise UserError(f"bad override: {str(e).splitlines()[0]}") from None
    for o, text in zip(parsed, overrides):
        if not str(o.key_or_group).strip():
            raise UserError(f"bad override {text!r}: no key before '='; write key=value (e.g. scale=full)")
    return [o.key_or_group for o in parsed if not o.is_delete()]


def compose_config(entry: FigureEntry, overrides: list[str]) -> DictConfig:
    """Compose conf/config.yaml + the figure file + overrides with Hydra's compose API."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    keys = override_keys(overrides)   # a syntax error or a missing key is one line, before Hydra sees it
    GlobalHydra.instance().clear()
    select = f"+{entry.paper}={entry.name}"
    base = None
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            base = compose(config_name="config", overrides=[select])
            cfg = compose(config_name="config", overrides=[select, *overrides]) if overrides else base
    except (HydraException, OmegaConfBaseException, ValueError, TypeError) as e:
        msg = (str(e).splitlines() or [type(e).__name__])[0]
        if base is not None:
            for key in override_keys(overrides):
                parent, _, leaf = key.rpartition(".")
                node = OmegaConf.select(base, parent) if parent else base
                if isinstance(node, DictConfig) and leaf not in node:
                    msg = f"unknown key {key!r}; valid keys{' under ' + parent if parent else ''}: {', '.join(map(str, node))}"
                    break
        raise UserError(f"bad override for paper={entry.paper} fig={entry.fig}: {msg}") from None
    finally:
        GlobalHydra.instance().clear()
    try:
        OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as e:   # ${oc.env:NOPE}, a missing ${key}
        key = getattr(e, "full_key", None) or "?"
        raise UserError(f"cannot resolve {key}: {(str(e).splitlines() or ['?'])[0]}") from None
    for key in keys:   # `panels.p.grid.lr.0=3`: an element of a list
        parts = key.split(".")
        for i in range(1, len(parts)):
            node = OmegaConf.select(base, ".".join(parts[:i]), default=None)
            if OmegaConf.is_list(node):
                raise UserError(f"cannot override one element of the list {'.'.join(parts[:i])} ({key}); "
                                f"give the whole list: {'.'.join(parts[:i])}=[...]")
    _check_types(base, cfg, keys)
    return cfg


def _cuda_count() -> int:
    import torch
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def resolve_devices(value, cuda_count=None):
    """devices= as the user may write it -> "auto" | "cpu" | [CUDA indices], checked against the GPUs present.
    Accepts auto, cpu, an int (0), a list of ints ([0,1]) and a comma string ("0,1")."""
    allowed = "use auto, cpu, a CUDA index (devices=0), a list (devices=[0,1]) or a comma string (devices=0,1)"
    if value in ("auto", "cpu"):
        return value
    ids = value
    if isinstance(value, str):
        try:
            ids = [int(x) for x in value.replace("[", "").replace("]", "").split(",") if x.strip()]
        except ValueError:
            raise UserError(f"bad devices {value!r}; {allowed}") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        ids = [value]
    if not (isinstance(ids, list) and ids and all(isinstance(d, int) and not isinstance(d, bool) for d in ids)):
        raise UserError(f"bad devices {value!r}; {allowed}")
    if any(d < 0 for d in ids) or len(set(ids)) != len(ids):
        raise UserError(f"bad devices {ids}: CUDA indices are distinct and >= 0; {allowed}")
    n = _cuda_count() if cuda_count is None else cuda_count
    missing = [d for d in ids if d >= n]
    if missing:
        present = f"present: {', '.join(map(str, range(n)))}" if n else "no CUDA device is present (use devices=cpu)"
        raise UserError(f"devices={ids}: no CUDA device {', '.join(map(str, missing))} on this machine; {present}")
    return ids


def _positive_or_null(key: str, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"bad {key}={value!r}: use null (automatic) or an integer >= 1")
    return value


def _project_dir(key: str, value) -> str:
    """A run-time folder: relative paths are relative to the project root (never the current folder); it must be
    a folder we can write to (or creatable there). Checked without creating anything."""
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"bad {key}={value!r}: give a folder path")
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = project_root() / path
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        what = "is a file" if probe == path else f"is under {probe}, which is a file"
        raise UserError(f"bad {key}={value}: {path} {what}; give a folder")
    if not _writable(probe):
        raise UserError(f"bad {key}={value}: cannot write to {probe}; give a writable folder")
    return str(path)


def _writable(folder: Path) -> bool:
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:   # root passes os.access everywhere (read-only mounts, /proc): try a file, removed at once
        with tempfile.TemporaryFile(dir=folder):
            pass
        return True
    except OSError:
        return False


_NOTED: set[str] = set()


def _launcher(container: dict) -> str:
    """launcher=slurm needs a reachable Slurm (sbatch) and submitit; else one line, unless slurm.local_fallback."""
    launcher = container["launcher"]
    if launcher != "slurm":
        return launcher
    why = None
    if shutil.which("sbatch") is None:
        why = "no Slurm here (sbatch is not on PATH)"
    else:
        try:
            import submitit  # noqa: F401
        except ImportError:
            why = "submitit is not installed (pip install -e '.[slurm]')"
    if why is None:
        return launcher
    if not (container.get("slurm") or {}).get("local_fallback"):
        raise UserError(f"launcher=slurm cannot reach a cluster: {why}; use launcher=local, "
                        f"or slurm.local_fallback=true to run on this machine")
    if why not in _NOTED:
        _NOTED.add(why)
        print(f"repro: launcher=slurm: {why}; running locally (slurm.local_fallback=true)", file=sys.stderr)
    return "local"


def resolve(cfg: DictConfig, overrides: list[str], panel: str | None = None) -> FigureSpec:
    """Turn a composed config into a FigureSpec for its `scale`, with user overrides beating the profile."""
    from omegaconf.errors import OmegaConfBaseException

    try:
        container = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as e:   # ${oc.env:NOPE}, a missing ${key}
        key = getattr(e, "full_key", None) or "?"
        raise UserError(f"cannot resolve {key}: {(str(e).splitlines() or ['?'])[0]}") from None
    scale = container["scale"]
    if scale not in SCALES:
        raise UserError(f"unknown scale {scale!r}; choose one of: {', '.join(SCALES)}")
    if container["precision"] not in PRECISIONS:
        raise UserError(f"unknown precision {container['precision']!r}; choose one of: {', '.join(PRECISIONS)}")
    if container["launcher"] not in LAUNCHERS:
        raise UserError(f"unknown launcher {container['launcher']!r}; choose one of: {', '.join(LAUNCHERS)}")
    container["devices"] = resolve_devices(container["devices"])
    for key in ("slots_per_device", "threads"):
        container[key] = _positive_or_null(key, container.get(key))
    container["launcher"] = _launcher(container)
    for key in ("runs_dir", "results_dir"):
        container[key] = _project_dir(key, container[key])
    data_dir = Path(str(container["data_dir"])).expanduser()   # read only: relative to the project root too
    container["data_dir"] = str(data_dir if data_dir.is_absolute() else project_root() / data_dir)
    from repro import expr

    try:   # every expression of the figure (both scales) in the whitelisted grammar, before anything runs
        expr.check_config(container.get("panels"), f"paper={container.get('paper')} fig={container.get('fig')}")
    except expr.ExprError as e:
        raise UserError(str(e)) from None
    panels = resolve_panels(container, scale)
    for key in override_keys(overrides):
        if key.startswith("panels."):
            _, alias, *rest = key.split(".")
            node = panels[alias]
            for part in rest[:-1]:
                node = node.setdefault(part, {})
            value = OmegaConf.select(cfg, key)
            node[rest[-1]] = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    for alias, p in panels.items():   # an empty list where a grid is expected
        for where, grid in [("", p.get("grid"))] + [(f"series.{n}.", (s or {}).get("grid"))
                                                     for n, s in (p.get("series") or {}).items()]:
            for k, v in (grid or {}).items():
                if not isinstance(v, list) or not v:
                    raise UserError(f"panels.{alias}.{where}grid.{k}={v!r}: a grid takes a non-empty list of values")
    panel = panel or container.get("panel")
    if panel is not None:
        if panel not in panels:
            raise UserError(f"unknown panel {panel!r}; choose one of: {', '.join(panels)}")
        panels = {panel: panels[panel]}
    runtime = {k: container[k] for k in RUNTIME_KEYS if k in container}
    layout = check_layout(container.get("layout"), sum(len(p.get("plot") or []) for p in panels.values()),
                          f"paper={container.get('paper')} fig={container.get('fig')}")
    return FigureSpec(paper=str(container["paper"]), fig=str(container["fig"]), title=str(container.get("title", "")),
                      scale=scale, panels=panels, runtime=runtime, spec_hash=spec_hash(panels), layout=layout)


def load_spec(entry: FigureEntry, overrides: list[str] = (), panel: str | None = None) -> FigureSpec:
    overrides = list(overrides)
    return resolve(compose_config(entry, overrides), overrides, panel)
