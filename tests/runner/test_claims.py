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


def test_device_claim_is_not_evaluated_on_rows_measured_elsewhere():
    """`device: cuda`: rows measured on the CPU neither pass nor fail the claim (N/A); CUDA rows are judged."""
    from repro.runner.claims import mark, table

    def timing(device, t100, t1000):
        return frame([{"series": "t", "metric": "time", "T": T, "value": v, "device": device}
                      for T, v in [(100, t100), (1000, t1000)]])

    claim = {"id": "flat", "left": {"series": "t", "metric": "time", "agg": "max"},
             "right": {"series": "t", "metric": "time", "agg": "min"}, "test": "left <= 3 * right", "device": "cuda"}
    cpu = evaluate_claim(timing("cpu", 1.0, 10.0), claim, "p", "full")       # would fail if it were evaluated
    assert cpu.passed is None and cpu.detail.startswith("not evaluated on this device") and "cpu" in cpu.detail
    assert mark(cpu) == "N/A" and "N/A" in table([cpu])
    assert evaluate_claim(timing("cpu", 1.0, 10.0), {**claim, "device": None}, "p", "full").passed is False
    assert evaluate_claim(timing("cuda", 1.0, 10.0), claim, "p", "full").passed is False
    assert evaluate_claim(timing("cuda", 1.0, 2.0), {**claim, "device": ["cuda"]}, "p", "full").passed is True
    # mixed rows: only the CUDA ones are judged (the slow CPU row is dropped)
    mixed = pd.concat([timing("cuda", 1.0, 2.0), timing("cpu", 1.0, 50.0)], ignore_index=True)
    assert evaluate_claim(mixed, claim, "p", "full").passed is True
    # no device column at all: not evaluated, and said so
    nodev = evaluate_claim(timing("cpu", 1.0, 2.0).drop(columns="device"), claim, "p", "full")
    assert nodev.passed is None and "carry no device" in nodev.detail
    # a scale skip stays a SKIP, not N/A
    assert mark(evaluate_claim(timing("cuda", 1.0, 2.0), {**claim, "scales": ["full"]}, "p", "tiny")) == "SKIP"


def test_a_panel_without_rows_is_not_run_rather_than_failed():
    """A figure whose other panels ran (panel (c) needs MNIST that is not on this machine): the missing panel's claims
    are NOT RUN (passed None), not gating failures; the panel that ran is judged as usual."""
    from repro.runner.claims import evaluate, gating_failures, mark, panel_not_run

    df = frame([{"series": "s", "metric": "m", "value": 1.0}])
    panels = {"p": {"claims": [{"id": "ran", "left": {"series": "s", "metric": "m"}, "test": "left > 2"}]},
              "absent": {"claims": [{"id": "gated", "left": {"series": "s", "metric": "m"}, "test": "left > 0"}]}}
    ran, absent = evaluate(df, panels, "full")
    assert ran.passed is False and gating_failures([ran, absent]) == [ran]
    assert absent.passed is None and panel_not_run(absent.passed, absent.detail) and mark(absent) == "NOT RUN"
