"""Facets: one plot entry or claim that ranges over the values of a facet, expanded when the config is loaded.

    plot:
      - {title: "{activation.label}, y = {target.label}", series: ["{activation}", truth],
         for_each: {activation: {relu: {label: "(a) ReLU"}, tanh: {label: "(b) tanh"}},
                    target: {x: {label: x, set: {ylim: [-30, 30]}}, sin: {label: sin x}}}}
    claims:
      - {id: thm1, text: "ReLU net on y={target} ...", left: {series: relu, metric: thm1_rel}, ...,
         for_each: {target: grid}}

`for_each` maps facet names to their values: a list, a mapping value -> fields (each field `f` is substituted as
`{name.f}`; the field `set` overrides keys of the expanded entry), or `grid` (the panel's grid values for that
column). Several facets expand as their product, the first outermost. In every string of the entry (recursively)
`{name}` becomes the value and `{name.field}` its field. A facet that is a grid column of the panel also filters:
`name == value` is added to the entry's `where` (a plot entry) or to the `where` of its `left` and `right`
selections (a claim). A facet that is not a grid column must appear as `{name}` somewhere in the entry. A claim's
id gets `_{value}` per facet unless it holds `{name}` itself; ids stay unique in a panel.

A panel's `labels: {series: legend text}` reaches each of its plot entries (an entry's own `labels` win); a
figure's `layout: {rows: R, cols: C}` arranges the axes (default: three columns).
"""
from __future__ import annotations

import copy
import itertools
import re

from repro.runner.figures import UserError

_PLACEHOLDER = re.compile(r"\{(\w+)(?:\.(\w+))?\}")
LAYOUT_KEYS = ("rows", "cols")


def _grid_columns(panel: dict) -> dict:
    cols = dict(panel.get("grid") or {})
    for s in (panel.get("series") or {}).values():
        for k, v in ((s or {}).get("grid") or {}).items():
            cols.setdefault(k, v)
    return cols


def _values(where: str, name: str, spec, grid: dict) -> list[tuple[object, dict]]:
    """[(value, fields)] of one facet."""
    if spec == "grid":
        if name not in grid:
            raise UserError(f"{where}.for_each.{name}=grid: {name!r} is not a grid column of the panel; "
                            f"grid columns: {', '.join(grid) or 'none'}")
        spec = list(grid[name])
    if isinstance(spec, list) and spec and all(not isinstance(v, (list, dict)) for v in spec):
        return [(v, {}) for v in spec]
    if isinstance(spec, dict) and spec and all(isinstance(f, dict) or f is None for f in spec.values()):
        return [(v, dict(f or {})) for v, f in spec.items()]
    raise UserError(f"{where}.for_each.{name}: give a non-empty list of values, a mapping value -> fields, or grid")


def _used(obj, name: str) -> bool:
    if isinstance(obj, str):
        return any(m.group(1) == name for m in _PLACEHOLDER.finditer(obj))
    if isinstance(obj, dict):
        return any(_used(v, name) for v in obj.values())
    if isinstance(obj, list):
        return any(_used(v, name) for v in obj)
    return False


def _substitute(obj, env: dict, where: str):
    if isinstance(obj, str):
        def repl(m):
            name, field = m.group(1), m.group(2)
            if name not in env:
                return m.group(0)
            value, fields = env[name]
            if field is None:
                return str(value)
            if field not in fields:
                raise UserError(f"{where}: {{{name}.{field}}} but the value {value!r} of facet {name!r} has no field "
                                f"{field!r}; its fields: {', '.join(fields) or 'none'}")
            return str(fields[field])
        return _PLACEHOLDER.sub(repl, obj)
    if isinstance(obj, dict):
        return {k: _substitute(v, env, where) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_substitute(v, env, where) for v in obj]
    return obj


def _and(where: str | None, name: str, value) -> str:
    cond = f"{name} == {value!r}"
    return f"({where}) & ({cond})" if where else cond


def expand_entries(entries: list | None, panel: dict, where: str, claim: bool) -> list:
    """The entries of one list (a panel's `plot` or `claims`) with every `for_each` expanded."""
    grid = _grid_columns(panel)
    out = []
    for i, entry in enumerate(entries or []):
        if not isinstance(entry, dict) or "for_each" not in entry:
            out.append(entry)
            continue
        at = f"{where}[{i}]"
        facets = entry["for_each"]
        if not isinstance(facets, dict) or not facets:
            raise UserError(f"{at}.for_each: give a mapping facet -> values, e.g. for_each: {{target: [x, sin]}}")
        body = {k: v for k, v in entry.items() if k != "for_each"}
        values = {}
        for name, spec in facets.items():
            if name not in grid and not _used(body, name):
                raise UserError(f"{at}.for_each: unknown facet {name!r}: use a grid column of the panel "
                                f"({', '.join(grid) or 'none'}) or write {{{name}}} in the entry's strings")
            values[name] = _values(at, name, spec, grid)
        for combo in itertools.product(*values.values()):
            env = dict(zip(values, combo))
            e = _substitute(copy.deepcopy(body), env, at)
            for name, (value, fields) in env.items():
                sets = fields.get("set") or {}
                if not isinstance(sets, dict):
                    raise UserError(f"{at}.for_each.{name}.{value}.set: give a mapping of entry keys")
                e.update(copy.deepcopy(sets))
                if name in grid:
                    if claim:
                        for side in ("left", "right"):
                            if isinstance(e.get(side), dict):
                                e[side] = {**e[side], "where": _and(e[side].get("where"), name, value)}
                    else:
                        e["where"] = _and(e.get("where"), name, value)
                if claim and not _used(body.get("id", ""), name):
                    e["id"] = f"{e.get('id', '?')}_{value}"
            out.append(e)
    if claim:
        ids = [c.get("id") for c in out if isinstance(c, dict)]
        dup = sorted({str(x) for x in ids if ids.count(x) > 1})
        if dup:
            raise UserError(f"{where}: claim ids must be unique in a panel; repeated: {', '.join(dup)}")
    return out


def expand_panel(alias: str, panel: dict) -> dict:
    """A resolved panel with its plot entries' and claims' facets expanded and its `labels` in each plot entry."""
    out = dict(panel)
    labels = panel.get("labels") or {}
    if not isinstance(labels, dict):
        raise UserError(f"panels.{alias}.labels: give a mapping series -> legend text")
    plot = expand_entries(panel.get("plot"), panel, f"panels.{alias}.plot", claim=False)
    out["plot"] = [{**e, "labels": {**labels, **(e.get("labels") or {})}} if labels and isinstance(e, dict) else e
                   for e in plot]
    if panel.get("plot") is None:
        out["plot"] = panel.get("plot")
    out["claims"] = expand_entries(panel.get("claims"), panel, f"panels.{alias}.claims", claim=True)
    if panel.get("claims") is None:
        out["claims"] = panel.get("claims")
    return out


def check_layout(layout, n_axes: int, figure: str):
    """A figure's `layout` -> {rows, cols} (or None), checked against its number of axes."""
    if layout is None:
        return None
    allowed = "layout takes rows and cols, positive integers with rows * cols >= the number of plot entries"
    if not isinstance(layout, dict) or not layout or set(layout) - set(LAYOUT_KEYS):
        bad = sorted(set(layout) - set(LAYOUT_KEYS)) if isinstance(layout, dict) else [repr(layout)]
        raise UserError(f"{figure}: bad layout {', '.join(map(str, bad)) or '{}'}; {allowed}")
    for k, v in layout.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise UserError(f"{figure}: bad layout.{k}={v!r}; {allowed}")
    rows, cols = layout.get("rows"), layout.get("cols")
    if rows and cols and rows * cols < n_axes:
        raise UserError(f"{figure}: layout {rows}x{cols} has room for {rows * cols} axes, the figure draws "
                        f"{n_axes}; {allowed}")
    return {"rows": rows, "cols": cols}
