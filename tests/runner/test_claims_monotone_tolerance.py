"""`type: monotone` with `tolerance`: monotone up to t over every earlier/later pair, not only neighbours."""
import numpy as np
import pandas as pd

from repro.runner.claims import evaluate_claim


def frame(values):
    return pd.DataFrame([{"panel": "p", "kind": "experiment", "step": np.nan, "series": "s", "metric": "loss",
                          "n": n, "value": v} for n, v in enumerate(values)])


CLAIM = {"id": "m", "type": "monotone", "direction": "decreasing", "tolerance": 0.15,
         "left": {"series": "s", "metric": "loss"}, "by": ["n"], "x": "n"}


def test_small_bumps_pass_and_strictness_without_tolerance():
    df = frame([3.0, 2.0, 2.1, 1.0, 1.1])
    assert evaluate_claim(df, CLAIM, "p", "tiny").passed is True
    strict = {k: v for k, v in CLAIM.items() if k != "tolerance"}
    assert evaluate_claim(df, strict, "p", "tiny").passed is False


def test_bump_too_large_or_slow_creep_fails():
    assert evaluate_claim(frame([3.0, 2.0, 2.2, 1.0]), CLAIM, "p", "tiny").passed is False
    # each step rises by 0.1 < 0.15, but 1.0 -> 1.3 rises by 0.3 over the run
    assert evaluate_claim(frame([1.0, 1.1, 1.2, 1.3]), CLAIM, "p", "tiny").passed is False


def test_increasing_direction():
    up = {**CLAIM, "direction": "increasing"}
    assert evaluate_claim(frame([1.0, 2.0, 1.9, 3.0]), up, "p", "tiny").passed is True
    assert evaluate_claim(frame([1.0, 2.0, 1.5, 3.0]), up, "p", "tiny").passed is False
