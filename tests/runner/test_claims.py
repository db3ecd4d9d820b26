"""The claim engine: claims fed violating data must fail."""
import numpy as np
import pandas as pd
import pytest

from repro.runner.claims import at_scale, evaluate_claim


def frame(rows):
    base = {"panel": "p", "kind": "experiment", "step": np.nan}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_ratio_claim_passes_and_fails():
    claim = {"id": "c", "left": {"series": "sim", "metric": "var"}, "right": {"series": "theory", "metric": "var"},
             "by": ["x"], "test": "abs(left/right - 1) < tol", "vars": {"tol": {"tiny": 0.1, "full": 0.01}}}
    rows = [{"series": "sim", "metric": "var", "x": x, "value": v} for x, v in [(1, 1.05), (2, 2.02)]]
    rows += [{"series": "theory", "metric": "var", "x": x, "value": float(x), "kind": "theory"} for x in (1, 2)]
    df = frame(rows)
    assert evaluate_claim(df, claim, "p", "tiny").passed is True
    bad = evaluate_claim(df, claim, "p", "full")
    assert bad.passed is False and "x=1" in bad.detail


def test_last_step_and_seed_fraction():
    claim = {"id": "c", "left": {"series": "a", "metric": "loss"}, "right": {"series": "b", "metric": "loss"},
             "by": ["seed"], "test": "left < right", "require": ">=0.8"}
    rows = []
    for seed in range(5):
        for step in (1, 2):
            a_last = 0.5 if seed < 4 else 2.0       # a below b at the last step in 4 of 5 seeds
            rows.append({"series": "a", "metric": "loss", "seed": seed, "step": step, "value": 9.0 if step == 1 else a_last})
            rows.append({"series": "b", "metric": "loss", "seed": seed, "step": step, "value": 1.0})
    df = frame(rows)
    assert evaluate_claim(df, claim, "p", "tiny").passed is True
    assert evaluate_claim(df, {**claim, "require": "all"}, "p", "tiny").passed is False
    assert evaluate_claim(df, {**claim, "left": {**claim["left"], "step": 1}}, "p", "tiny").passed is False


def test_monotone_bound_missing_and_scales():
    df = frame([{"series": "s", "metric": "rate", "r": r, "value": v} for r, v in [(0.2, 1), (1, 2), (1.9, 3)]])
    mono = {"id": "m", "type": "monotone", "left": {"series": "s", "metric": "rate"}, "by": ["r"], "x": "r"}
    assert evaluate_claim(df, mono, "p", "tiny").passed is True
    df.loc[1, "value"] = 5
    assert evaluate_claim(df, mono, "p", "tiny").passed is False
    bound = {"id": "b", "left": {"series": "s", "metric": "rate"}, "by": ["r"], "test": "left <= 4"}
    assert evaluate_claim(df, bound, "p", "tiny").passed is False
    assert evaluate_claim(df, {**bound, "left": {"series": "zzz", "metric": "rate"}}, "p", "tiny").passed is False
    assert evaluate_claim(df, {**bound, "scales": ["full"]}, "p", "tiny").passed is None
    assert evaluate_claim(df, {**bound, "test": {"tiny": None, "full": "left < 1"}}, "p", "tiny").passed is None
    assert evaluate_claim(df, {**bound, "test": "nonsense_column > 1"}, "p", "tiny").passed is False


@pytest.mark.parametrize("value,scale,expect", [({"tiny": 1, "full": 2}, "full", 2), ([{"tiny": 1, "full": 2}], "tiny", [1]),
                                                ({"a": {"tiny": 1, "full": 2}}, "tiny", {"a": 1})])
def test_at_scale(value, scale, expect):
    assert at_scale(value, scale) == expect
