"""A small, whitelisted expression language for what configs compute: claims' `test` and `where`, selections'
`where`, plots' `where` and guide curves, and sweeps' `cost_weight`. Configs are data: nothing here can import,
call an arbitrary function, read an attribute or reach Python's builtins (pandas' python engine and eval could).
A leaf module (it imports nothing from repro), so the runner and the plotting layer both use it.

Grammar (a subset of Python expressions, parsed with `ast` and checked node by node):
  names       columns of the frame, the claim's `vars`, run parameters; True, False, None, nan, inf
  literals    numbers, strings, lists and tuples of literals (for `in`)
  arithmetic  + - * / // % ** and unary - +
  comparison  == != < <= > >= (chained: a < b < c), `in` / `not in` a list
  logic       and, or, not, and the element-wise & | ~ (pandas' spelling); `x if cond else y`
  functions   abs sqrt log log10 log2 exp min max (min/max of one column aggregate it; of several, element-wise),
              mean median sum std var count first last (aggregations of one column), isnan, isfinite
Evaluated vectorised: over pandas columns `and` is element-wise as in pandas.eval. Anything else is rejected
with ExprError naming the construct.
"""
from __future__ import annotations

import ast
import functools
import operator
import sys
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def _is_series(x) -> bool:
    """x is a pandas Series (without importing pandas, which a config check does not need: ~0.5 s)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(x, pandas.Series)


def _isna(x):
    import pandas as pd

    return pd.isna(x)


class ExprError(ValueError):
    """An expression outside the grammar (a config error), or a name it does not know (an evaluation error)."""


def _agg(name):
    def f(x):
        if _is_series(x):
            return {"first": lambda s: s.iloc[0], "last": lambda s: s.iloc[-1]}.get(name, lambda s: s.agg(name))(x)
        if isinstance(x, np.ndarray):
            import pandas as pd

            return pd.Series(x).agg(name) if name not in ("first", "last") else x[0 if name == "first" else -1]
        return x
    return f


def _minmax(np_elementwise, name):
    def f(*args):
        if len(args) == 1:
            return _agg(name)(args[0])
        return functools.reduce(np_elementwise, args)
    return f


FUNCTIONS = {
    "abs": np.abs, "sqrt": np.sqrt, "log": np.log, "log10": np.log10, "log2": np.log2, "exp": np.exp,
    "isnan": _isna, "isfinite": np.isfinite,
    "min": _minmax(np.minimum, "min"), "max": _minmax(np.maximum, "max"),
    **{a: _agg(a) for a in ("mean", "median", "sum", "std", "var", "count", "first", "last")},
}
CONSTANTS = {"True": True, "False": False, "None": None, "nan": float("nan"), "inf": float("inf")}
BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
          ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
          ast.BitAnd: operator.and_, ast.BitOr: operator.or_}
UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
           ast.Gt: operator.gt, ast.GtE: operator.ge}
ALLOWED = (ast.Expression, ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple, ast.BinOp, ast.UnaryOp,
           ast.BoolOp, ast.Compare, ast.Call, ast.IfExp, ast.And, ast.Or, ast.Not, ast.Invert, ast.In, ast.NotIn,
           *BINOPS, *UNARY, *COMPARE)


def _what(node: ast.AST) -> str:
    text = ast.unparse(node) if not isinstance(node, (ast.expr_context, ast.operator, ast.cmpop, ast.boolop,
                                                        ast.unaryop)) else ""
    return f"{type(node).__name__}" + (f" `{text[:40]}`" if text else "")


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> ast.Expression:
    """The checked syntax tree of `text`; ExprError (one line) when it is not in the grammar."""
    if not isinstance(text, str):
        raise ExprError(f"expected an expression string, got {text!r}")
    if "`" in text or "@" in text:
        raise ExprError(f"{'backticks' if '`' in text else '@ (a pandas local variable)'} not allowed in {text!r}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ExprError(f"not an expression: {text!r} ({e.msg})") from None
    for node in ast.walk(tree):
        if not isinstance(node, ALLOWED):
            raise ExprError(f"{_what(node)} not allowed in {text!r}; allowed: columns, numbers, strings, "
                            f"arithmetic, comparisons, and/or/not, {', '.join(FUNCTIONS)}")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
                raise ExprError(f"call {ast.unparse(node.func)!r} not allowed in {text!r}; functions: "
                                f"{', '.join(FUNCTIONS)}")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool, type(None))):
            raise ExprError(f"constant {node.value!r} not allowed in {text!r}")
        if isinstance(node, (ast.List, ast.Tuple)):
            if any(not isinstance(e, (ast.Constant, ast.UnaryOp)) for e in node.elts):
                raise ExprError(f"lists hold literals only, in {text!r}")
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise ExprError(f"name {node.id!r} not allowed in {text!r}")
    return tree


def validate(text: str) -> None:
    parse(text)


def names(text: str) -> set[str]:
    """The variable names an expression reads (not functions or constants)."""
    tree = parse(text)
    funcs = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in funcs and n.id not in CONSTANTS}


def _vector(x) -> bool:
    return isinstance(x, np.ndarray) or _is_series(x)


def _and(a, b):
    return a & b if _vector(a) or _vector(b) else bool(a) and bool(b)


def _or(a, b):
    return a | b if _vector(a) or _vector(b) else bool(a) or bool(b)


def _not(a):
    return ~a.astype(bool) if _vector(a) else not a


def _in(a, values):
    if _is_series(a):
        return a.isin(values)
    if isinstance(a, np.ndarray):
        return np.isin(a, values)
    return a in values


def _eval(node: ast.AST, env):
    if isinstance(node, ast.Expression):
        return _eval(node.body, env)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise ExprError(f"unknown name {node.id!r}")
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(e, env) for e in node.elts]
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, env), _eval(node.right, env)
        if isinstance(node.op, ast.Div) and not (_vector(left) or _vector(right)):
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.float64(left) / right if isinstance(left, (int, float)) else left / right
        return BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env)
        return _not(v) if isinstance(node.op, ast.Not) else ~v if isinstance(node.op, ast.Invert) \
            else UNARY[type(node.op)](v)
    if isinstance(node, ast.BoolOp):
        combine = _and if isinstance(node.op, ast.And) else _or
        return functools.reduce(combine, (_eval(v, env) for v in node.values))
    if isinstance(node, ast.Compare):
        out, left = None, _eval(node.left, env)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, env)
            if isinstance(op, (ast.In, ast.NotIn)):
                r = _in(left, right if isinstance(right, list) else [right])
                r = _not(r) if isinstance(op, ast.NotIn) else r
            else:
                r = COMPARE[type(op)](left, right)
            out = r if out is None else _and(out, r)
            left = right
        return out
    if isinstance(node, ast.Call):
        return FUNCTIONS[node.func.id](*(_eval(a, env) for a in node.args))
    if isinstance(node, ast.IfExp):
        cond = _eval(node.test, env)
        if _vector(cond):
            return np.where(cond, _eval(node.body, env), _eval(node.orelse, env))
        return _eval(node.body, env) if cond else _eval(node.orelse, env)
    raise ExprError(f"{_what(node)} not allowed")   # unreachable after parse


class _FrameEnv(dict):
    def __init__(self, frame: pd.DataFrame, extra: dict | None):
        super().__init__(extra or {})
        self.frame = frame

    def __contains__(self, key):
        return key in self.frame.columns or dict.__contains__(self, key)

    def __getitem__(self, key):
        if key in self.frame.columns:
            return self.frame[key]
        return dict.__getitem__(self, key)


def evaluate(text: str, env: dict):
    """Evaluate over plain values (scalars or arrays): a sweep's cost_weight, a plot's guide curve."""
    return _eval(parse(text), env)


def evaluate_frame(text: str, frame: pd.DataFrame, extra: dict | None = None) -> pd.Series:
    """Evaluate over a frame's columns (and `extra` names); the result as a Series aligned with the frame."""
    import pandas as pd

    out = _eval(parse(text), _FrameEnv(frame, extra))
    if isinstance(out, pd.Series):
        return out
    if isinstance(out, np.ndarray) and out.shape == (len(frame),):
        return pd.Series(out, index=frame.index)
    return pd.Series([out] * len(frame), index=frame.index)


def query(frame: pd.DataFrame, text: str, extra: dict | None = None) -> pd.DataFrame:
    """frame.query(text) in the grammar: the rows where the expression is true."""
    mask = evaluate_frame(text, frame, extra)
    return frame[mask.fillna(False).astype(bool)] if mask.dtype == object else frame[mask.astype(bool)]


# ---------------------------------------------------------------------------------------------------------------
# every expression of a figure config
# ---------------------------------------------------------------------------------------------------------------

def _values(v):
    """The strings of a value that may be written {tiny: a, full: b}."""
    if isinstance(v, dict) and v and set(v) <= {"tiny", "full"}:
        return [x for x in v.values() if x is not None]
    return [] if v is None else [v]


def config_expressions(panels: dict):
    """(where, expression) for every expression in a figure's panels (raw or resolved): claims' test/where and
    their selections' where, plots' where and guide y, the panel's cost_weight."""
    for alias, p in (panels or {}).items():
        p = p or {}
        profiles = [p, *((p.get("scales") or {}).values())]
        for prof in profiles:
            prof = prof or {}
            for e in _values(prof.get("cost_weight")):
                yield f"panel {alias} cost_weight", e
            for i, entry in enumerate(prof.get("plot") or []):
                entry = entry or {}
                for e in _values(entry.get("where")):
                    yield f"panel {alias} plot {i + 1} where", e
                for e in _values((entry.get("guide") or {}).get("y")):
                    yield f"panel {alias} plot {i + 1} guide y", e
            for claim in prof.get("claims") or []:
                claim = claim or {}
                cid = claim.get("id", "?")
                for key in ("test", "where"):
                    for e in _values(claim.get(key)):
                        yield f"claim {alias}/{cid} {key}", e
                for side in ("left", "right"):
                    for sel in _values(claim.get(side)):
                        for e in _values(sel.get("where") if isinstance(sel, dict) else None):
                            yield f"claim {alias}/{cid} {side}.where", e


def check_config(panels: dict, figure: str) -> None:
    """Raise ExprError naming the figure, the claim (or plot, cost_weight) and the construct on the first
    expression outside the grammar."""
    for where, text in config_expressions(panels):
        try:
            parse(text)
        except ExprError as e:
            raise ExprError(f"{figure} {where}: {e}") from None
