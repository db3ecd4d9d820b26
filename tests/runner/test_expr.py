"""The whitelisted expression grammar (issue 15, item 10): configs cannot run code; every expression in every
config parses and gives what pandas' python engine gave."""
import glob
import subprocess

import numpy as np
import pandas as pd
import pytest
import yaml

from repro import expr
from repro.runner.claims import evaluate_claim
REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


def _all_config_expressions():
    out = []
    for f in sorted(glob.glob(str(REPO / "conf" / "**" / "*.yaml"), recursive=True)):
        cfg = yaml.safe_load(open(f)) or {}
        if isinstance(cfg, dict) and "panels" in cfg:
            out += [(f, where, e) for where, e in expr.config_expressions(cfg["panels"])]
    return out


CONFIG_EXPRESSIONS = _all_config_expressions()


def test_every_config_expression_parses():
    assert len(CONFIG_EXPRESSIONS) > 300
    for f, where, e in CONFIG_EXPRESSIONS:
        expr.parse(e)   # raises ExprError, naming the construct


def _frame_for(names, n=64, seed=0):
    rng = np.random.default_rng(seed)
    cols = {}
    for name in sorted(names):
        kind = rng.integers(3)
        if name in ("noise", "mode", "optimizer", "series", "metric", "activation", "order", "model", "data",
                    "matrix", "target"):
            cols[name] = rng.choice(["gaussian", "cauchy", "none", "paper", "real", "2,1,1", "fc", "adam",
                                     "swish", "center_var"], size=n)
        elif name == "drift":
            cols[name] = rng.integers(2, size=n).astype(bool)
        else:
            v = rng.choice([0.0, 0.2, 0.5, 1.0, 1.5, 4.0, 5.5, 10.0, 12.0, 16.0, 30.0, 60.0, -1.0], size=n)
            v = v * rng.uniform(0.5, 2.0, size=n) if kind == 0 else v
            v[rng.random(n) < 0.1] = np.nan
            cols[name] = v
    return pd.DataFrame(cols)


def test_every_config_expression_gives_what_pandas_gave():
    """Over random frames with every column an expression names: identical results to pandas' python engine."""
    checked = 0
    for f, where, e in CONFIG_EXPRESSIONS:
        if "cost_weight" in where or "guide" in where:
            continue
        for seed in range(3):
            df = _frame_for(expr.names(e), seed=seed)
            with np.errstate(all="ignore"):
                try:
                    want = df.eval(e, engine="python")
                except Exception:
                    continue   # pandas could not evaluate it on this frame either
                got = expr.evaluate_frame(e, df)
            want = pd.Series(want, index=df.index) if np.ndim(want) == 0 else pd.Series(np.asarray(want), index=df.index)
            np.testing.assert_array_equal(got.to_numpy(), want.to_numpy(), err_msg=f"{f} {where}: {e}")
            checked += 1
    assert checked > 300


def test_cost_weights_and_guides_match_python_eval():
    import math
    for f, where, e in CONFIG_EXPRESSIONS:
        if "cost_weight" not in where and "guide" not in where:
            continue
        env = {n: 3.0 for n in expr.names(e)}
        env.update({"model": "fc"} if "model" in env else {})
        want = eval(e, {"__builtins__": {}, "sqrt": math.sqrt}, env)   # noqa: S307 (the reference)
        assert float(expr.evaluate(e, env)) == float(want), (f, e)


@pytest.mark.parametrize("bad", [
    "@pd.io.common.os.system('touch PWNED')",
    "__import__('os').system('touch PWNED')",
    "left.__class__",
    "(lambda: 1)()",
    "[x for x in left]",
    "open('/etc/passwd')",
    "getattr(left, 'x')",
    "`left` > 0",
    "left; 1",
    "abs(x=1)",
    "{1: 2}",
    "left.sum() > 0",
])
def test_anything_else_is_rejected_in_one_line(bad):
    with pytest.raises(expr.ExprError) as e:
        expr.parse(bad)
    assert "\n" not in str(e.value)


def test_a_claim_cannot_run_code(tmp_path):
    df = pd.DataFrame({"panel": "p", "series": "s", "metric": "m", "kind": "experiment", "step": np.nan,
                       "value": [1.0]})
    marker = tmp_path / "PWNED"
    claim = {"id": "evil", "left": {"series": "s", "metric": "m"},
             "test": f"@pd.io.common.os.system('touch {marker}') == 0"}
    res = evaluate_claim(df, claim, "p", "tiny")
    assert res.passed is False and "not allowed" in res.detail and not marker.exists()


def test_semantics():
    df = pd.DataFrame({"a": [1.0, np.nan, 5.5, 10.0], "s": ["x", "y", "x", "z"], "left": [1, 2, 3, 4]})
    assert expr.query(df, "a != a or a == 5.5")["left"].tolist() == [2, 3]
    assert expr.query(df, "s in ['x', 'z'] and not (left > 3)")["left"].tolist() == [1, 3]
    assert expr.query(df, "1 < left <= 3")["left"].tolist() == [2, 3]
    assert expr.evaluate_frame("max(left, 2) - min(left)", df).tolist() == [1, 1, 2, 3]
    assert expr.evaluate("1 if model == 'fc' else 10", {"model": "cnn"}) == 10
    assert expr.evaluate("abs(-2) * sqrt(4) + log10(100)", {}) == 6


def test_a_config_with_a_forbidden_expression_exits_2_naming_figure_and_claim(toy_root, repro_cmd):
    cfg = toy_root / "conf/toy/fig1.yaml"
    cfg.write_text(cfg.read_text().replace("test: left < 0", "test: \"@pd.io.common.os.system('touch PWNED')\""))
    out = subprocess.run(repro_cmd("run", "paper=toy", "fig=1"), capture_output=True, text=True)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "paper=toy fig=1 claim quad/reported test" in lines[0] and "@" in lines[0], out.stderr
    assert not (toy_root / "PWNED").exists() and not (toy_root / "runs").exists()
