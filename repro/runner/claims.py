"""The claim engine: a figure's claims are data in its config, evaluated here over its tidy CSV.

A claim selects rows (`left`, optionally `right`), aggregates each within groups (`by` columns, `agg`), joins the
two on those columns, optionally filters (`where`), and evaluates `test`, an expression over the columns `left`,
`right`, the `by` columns and any `vars` in the whitelisted grammar of repro/expr.py (numbers, arithmetic,
comparisons, and/or/not, abs sqrt log log10 exp min max ...; nothing else is evaluated). `require` says how many
groups must pass: all (default), any, or a fraction like ">=0.8" (e.g. "A below B in >= 4/5 seeds": by [seed]).
`type: monotone` checks that `left` aggregated over `x` is strictly monotone, or, with `tolerance: t`, monotone up to t
(no later value below an earlier one by more than t when increasing; above it, when decreasing). Any value may be written {tiny: a, full: b};
a claim whose value is null at a scale is not evaluated there. `gate: false` marks a reported-only claim.
`device: cuda` (or a list, e.g. [cuda]) evaluates a claim only on rows measured on that device (their `device`
column, e.g. a timing claim about a GPU): rows measured elsewhere are dropped (rows without a device, such as
theory rows, are kept), and when no `left` row was measured there the claim is neither passed nor failed but
"not evaluated on this device (rows measured on cpu)" (passed None; `repro check` shows N/A).

    - id: laprop_bounded
      text: LaProp's max step <= 1/sqrt(1-nu) in every cell
      left: {series: laprop, metric: max_step}
      by: [mu, nu]
      test: left <= 1/sqrt(1-nu) + 1e-9
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from repro import expr
from repro.runner.spec import FIXED

if TYPE_CHECKING:   # pandas is imported where a claim is evaluated: reading outcomes back must stay fast
    import pandas as pd

AGGS = {"mean", "median", "max", "min", "first", "last", "count", "std", "var", "sum"}
LABEL_COLS = set(FIXED)   # the runner's own columns of a tidy CSV: one definition, in collect


@dataclass
class ClaimResult:
    panel: str
    id: str
    text: str
    gate: bool
    passed: bool | None      # None: not evaluated at this scale (SKIP) or on this device (N/A, see `device`)
    detail: str


NOT_ON_DEVICE = "not evaluated on this device"


NOT_RUN = "not evaluated: the panel has no rows in the CSV"


def not_on_device(passed, detail) -> bool:
    """True for a result that a `device:` claim left unevaluated because its rows were measured elsewhere."""
    return passed is None and str(detail).startswith(NOT_ON_DEVICE)


def panel_not_run(passed, detail) -> bool:
    """True for a claim of a panel that has no rows at all in the figure's CSV: the panel was not run at this scale
    (its data are not on this machine, say) while the figure's other panels were. Like a figure without results it is
    neither pass nor fail, and `repro check` counts it and exits non-zero."""
    return passed is None and str(detail).startswith(NOT_RUN)


def mark(r: "ClaimResult") -> str:
    """The outcome as `repro check` prints it: PASS, FAIL, fail (not gating), SKIP (scale) or N/A (device)."""
    if r.passed is None:
        return "N/A" if not_on_device(r.passed, r.detail) else "NOT RUN" if panel_not_run(r.passed, r.detail) else "SKIP"
    return "PASS" if r.passed else ("FAIL" if r.gate else "fail (not gating)")


def _on_device(pdf: pd.DataFrame, c: dict) -> tuple[pd.DataFrame, str | None]:
    """The panel's rows for a claim with `device:` (see the module doc): (rows, None), or (_, why not evaluated)."""
    import pandas as pd

    want = [str(d) for d in (c["device"] if isinstance(c["device"], list) else [c["device"]])]
    dev = pdf["device"].astype(str).str.split(":").str[0] if "device" in pdf.columns else pd.Series("nan", pdf.index)
    known = pdf["device"].notna() if "device" in pdf.columns else pd.Series(False, pdf.index)
    left = select(pdf, c["left"]).index
    if not (known.loc[left] & dev.loc[left].isin(want)).any():
        seen = sorted(set(dev.loc[left][known.loc[left]]))
        return pdf, (f"{NOT_ON_DEVICE} (rows measured on {', '.join(seen)}; the claim needs {', '.join(want)})"
                     if seen else f"{NOT_ON_DEVICE} (the rows carry no device; the claim needs {', '.join(want)})")
    return pdf[~known | dev.isin(want)], None


def at_scale(value, scale: str):
    """{tiny: a, full: b} -> the value for this scale (recursively)."""
    if isinstance(value, dict):
        if value and set(value) <= {"tiny", "full"}:
            return at_scale(value.get(scale), scale)
        return {k: at_scale(v, scale) for k, v in value.items()}
    if isinstance(value, list):
        return [at_scale(v, scale) for v in value]
    return value


def select(df: pd.DataFrame, sel: dict) -> pd.DataFrame:
    out = df
    for col in ("panel", "series", "metric", "kind"):
        if col in sel and sel[col] is not None:
            want = sel[col] if isinstance(sel[col], list) else [sel[col]]
            out = out[out[col].astype(str).isin([str(w) for w in want])]
    step = sel.get("step", "last")
    if len(out) and step != "all" and out["step"].notna().any():
        curve = [c for c in out.columns if c not in ("step", "value", "diverged", "precision", "scale")
                 and out[c].notna().any()]
        keys = [out[c].astype(str) for c in curve]
        if step == "last":
            out = out[out["step"] == out.groupby(keys, dropna=False)["step"].transform("max")]
        elif step == "first":
            out = out[out["step"] == out.groupby(keys, dropna=False)["step"].transform("min")]
        else:
            out = out[out["step"] == float(step)]
    if sel.get("where"):
        out = expr.query(out, sel["where"])
    return out


def _aggregate(df: pd.DataFrame, on: list[str], agg: str) -> pd.DataFrame:
    import pandas as pd

    if agg not in AGGS:
        raise ValueError(f"unknown agg {agg!r}; choose one of {sorted(AGGS)}")
    if not on:
        return pd.DataFrame({"value": [df["value"].agg(agg) if len(df) else np.nan]})
    missing = [c for c in on if c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} not in the CSV")
    return df.groupby(on, dropna=False)["value"].agg(agg).reset_index()


def _fmt(x) -> str:
    if isinstance(x, (float, np.floating)):
        return f"{x:.4g}"
    return str(x)


def evaluate_claim(df: pd.DataFrame, claim: dict, panel: str, scale: str) -> ClaimResult:
    import pandas as pd

    c = at_scale(claim, scale)
    cid, text, gate = c.get("id", "?"), c.get("text", ""), bool(c.get("gate", True))
    if scale not in c.get("scales", ["tiny", "full"]) or c.get("test") is None and c.get("type") != "monotone":
        return ClaimResult(panel, cid, text, gate, None, f"not evaluated at scale={scale}")
    try:
        pdf = df[df["panel"] == panel]
        if c.get("device") is not None:
            pdf, why = _on_device(pdf, c)
            if why:
                return ClaimResult(panel, cid, text, gate, None, why)
        on = list(c.get("by", []))
        agg = c.get("agg", "mean")
        left = _aggregate(select(pdf, c["left"]), on, c.get("left", {}).get("agg", agg))
        if not len(left) or left["value"].isna().all() and not len(select(pdf, c["left"])):
            return ClaimResult(panel, cid, text, gate, False, "no rows match `left`")
        if c.get("type") == "monotone":
            x = c["x"]
            s = left.sort_values(x)["value"].to_numpy()
            d = np.diff(s)
            up = c.get("direction", "increasing") == "increasing"
            if c.get("tolerance") is None:
                ok = bool(np.all(d > 0) if up else np.all(d < 0))
            else:   # no later value falls below (rises above) an earlier one by more than the tolerance
                worst = np.maximum.accumulate(s) - s if up else s - np.minimum.accumulate(s)
                ok = bool(np.all(worst <= float(c["tolerance"])))
            return ClaimResult(panel, cid, text, gate, ok, "values " + ", ".join(_fmt(v) for v in s))
        frame = left.rename(columns={"value": "left"})
        if c.get("right"):
            right = _aggregate(select(pdf, c["right"]), on, c["right"].get("agg", agg)).rename(columns={"value": "right"})
            if not len(right):
                return ClaimResult(panel, cid, text, gate, False, "no rows match `right`")
            frame = frame.merge(right, on=on, how="inner") if on else pd.concat([frame, right], axis=1)
            if not len(frame):
                return ClaimResult(panel, cid, text, gate, False, f"left and right share no {on}")
        for k, v in (c.get("vars") or {}).items():
            frame[k] = v
        if c.get("where"):
            frame = expr.query(frame, c["where"])
            if not len(frame):
                return ClaimResult(panel, cid, text, gate, False, "no group left after `where`")
        ok = expr.evaluate_frame(c["test"], frame).astype(bool).to_numpy()
        n, k = len(ok), int(ok.sum())
        req = str(c.get("require", "all")).replace(" ", "")
        if req == "all":
            passed = k == n
        elif req == "any":
            passed = k > 0
        else:
            m = re.fullmatch(r">=?([0-9.]+)", req)
            if not m:
                raise ValueError(f"bad require {req!r}: all, any or >=fraction")
            passed = k / n >= float(m.group(1)) - 1e-12
        return ClaimResult(panel, cid, text, gate, passed, f"{k}/{n} pass; " + _describe(frame, ok, on, passed))
    except Exception as e:  # a malformed claim is a failed claim, with the reason
        return ClaimResult(panel, cid, text, gate, False, f"error: {type(e).__name__}: {e}")


def _describe(frame: pd.DataFrame, ok: np.ndarray, on: list[str], passed: bool) -> str:
    """Failing groups (up to 3) when the claim failed; else the range of what was measured."""
    cols = [col for col in (*on, "left", "right") if col in frame.columns]
    if not passed:
        bad = frame[~ok]
        rows = "; ".join(", ".join(f"{col}={_fmt(r[col])}" for col in cols) for _, r in bad.head(3).iterrows())
        return "failing: " + rows + (f" (+{len(bad) - 3} more)" if len(bad) > 3 else "")
    if len(frame) == 1:
        return ", ".join(f"{col}={_fmt(frame[col].iloc[0])}" for col in cols)
    parts = [f"left in [{_fmt(frame['left'].min())}, {_fmt(frame['left'].max())}]"]
    if "right" in frame.columns:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = frame["left"] / frame["right"]
        parts.append(f"left/right in [{_fmt(ratio.min())}, {_fmt(ratio.max())}], "
                     f"max abs(left/right - 1) = {_fmt((ratio - 1).abs().max())}")
    return ", ".join(parts)


def evaluate(df: pd.DataFrame, panels: dict, scale: str) -> list[ClaimResult]:
    out = []
    ran = set(df["panel"].astype(str)) if "panel" in df.columns else set()
    for alias, panel in panels.items():
        for claim in panel.get("claims") or []:
            if alias not in ran:
                c = at_scale(claim, scale)
                out.append(ClaimResult(alias, c.get("id", "?"), c.get("text", ""), bool(c.get("gate", True)), None,
                                       f"{NOT_RUN} (not run at scale={scale})"))
                continue
            out.append(evaluate_claim(df, claim, alias, scale))
    return out


def table(results: list[ClaimResult]) -> str:
    lines = []
    for r in results:
        lines.append(f"  {mark(r):<5} {r.panel}/{r.id}: {r.text}\n        {r.detail}")
    return "\n".join(lines)


def gating_failures(results: list[ClaimResult]) -> list[ClaimResult]:
    return [r for r in results if r.gate and r.passed is False]
