"""for_each facets in plot entries and claims, a figure's layout, legend labels (repro/runner/facets.py)."""
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from repro.cli import main
from repro.plotting.figure import _line, grid_shape
from repro.runner.claims import evaluate
from repro.runner.facets import check_layout, expand_entries, expand_panel
from repro.runner.figures import UserError

PANEL = {"grid": {"target": ["x", "sin"]}, "series": {"relu": {}, "tanh": {}}}


def test_claim_for_each_ids_substitution_and_where():
    claims = [{"id": "thm1", "text": "on y={target.label}", "left": {"series": "relu", "metric": "m"},
               "right": {"series": "relu", "metric": "n", "where": "seed > 0"}, "test": "left < 1",
               "for_each": {"target": {"x": {"label": "x"}, "sin": {"label": "sin x"}}}},
              {"id": "{activation}_fails", "text": "{activation}", "left": {"series": "{activation}", "metric": "m"},
               "test": "left > 1", "for_each": {"activation": ["relu", "tanh"]}}]
    out = expand_entries(claims, PANEL, "panels.p.claims", claim=True)
    assert [c["id"] for c in out] == ["thm1_x", "thm1_sin", "relu_fails", "tanh_fails"]
    assert out[1]["text"] == "on y=sin x" and "for_each" not in out[1]
    assert out[1]["left"]["where"] == "target == 'sin'"                       # a grid column filters ...
    assert out[1]["right"]["where"] == "(seed > 0) & (target == 'sin')"
    assert out[3]["left"] == {"series": "tanh", "metric": "m"}                  # ... a facet that is not, substitutes
    # the expanded claims evaluate on their own facet value only
    df = pd.DataFrame([{"panel": "p", "series": "relu", "kind": "experiment", "metric": "m", "target": t,
                        "step": float("nan"), "value": v} for t, v in (("x", 0.5), ("sin", 5.0))])
    res = {r.id: r.passed for r in evaluate(df, {"p": {"claims": [{**c, "right": None} for c in out[:2]]}}, "full")}
    assert res == {"thm1_x": True, "thm1_sin": False}


def test_plot_for_each_product_set_and_labels():
    panel = {**PANEL, "labels": {"relu": "Cor. 2"},
             "plot": [{"title": "{activation}, {target}", "series": ["{activation}"], "where": "seed == 0",
                       "for_each": {"activation": ["relu", "tanh"],
                                    "target": {"x": {"set": {"ylim": [-3, 3]}}, "sin": None}}}]}
    plot = expand_panel("p", panel)["plot"]
    assert [e["title"] for e in plot] == ["relu, x", "relu, sin", "tanh, x", "tanh, sin"]
    assert plot[0]["ylim"] == [-3, 3] and "ylim" not in plot[1]
    assert plot[3]["series"] == ["tanh"] and plot[3]["where"] == "(seed == 0) & (target == 'sin')"
    assert plot[0]["labels"] == {"relu": "Cor. 2"}
    fig, ax = plt.subplots()
    rows = pd.DataFrame({"series": ["relu", "relu"], "kind": ["theory"] * 2, "step": [1, 2], "value": [1.0, 2.0]})
    _line(ax, rows, plot[0])
    assert ax.get_legend_handles_labels()[1] == ["Cor. 2"]
    plt.close(fig)


def test_grid_values_and_config_errors():
    out = expand_entries([{"title": "{target}", "for_each": {"target": "grid"}}], PANEL, "panels.p.plot", False)
    assert [e["title"] for e in out] == ["x", "sin"]
    with pytest.raises(UserError, match="unknown facet 'depth'.*grid column of the panel \\(target\\)"):
        expand_entries([{"title": "t", "for_each": {"depth": [1, 2]}}], PANEL, "panels.p.plot", False)
    with pytest.raises(UserError, match="non-empty list"):
        expand_entries([{"title": "{target}", "for_each": {"target": []}}], PANEL, "panels.p.plot", False)
    with pytest.raises(UserError, match="unique.*c_x"):
        expand_entries([{"id": "c", "for_each": {"target": ["x"]}}, {"id": "c_x"}], PANEL, "panels.p.claims", True)


def test_layout():
    assert check_layout({"rows": 2, "cols": 4}, 8, "f") == {"rows": 2, "cols": 4}
    assert grid_shape(8, {"rows": 2, "cols": 4}) == (2, 4) and grid_shape(8, None) == (3, 3)
    assert grid_shape(8, {"rows": 2}) == (2, 4)
    for bad, what in (({"rows": 2, "depth": 1}, "depth"), ({"rows": 0}, "rows=0"), ({"rows": 1, "cols": 2}, "1x2")):
        with pytest.raises(UserError, match=what):
            check_layout(bad, 3, "f")


def test_config_mistakes_exit_2_with_one_line(toy_root, capsys):
    conf = toy_root / "conf" / "toy" / "fig1.yaml"
    good = conf.read_text()
    conf.write_text(good + "layout: {rows: 1, cols: 1, depth: 2}\n")
    assert main(["plot", "paper=toy", "fig=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "depth" in err and "rows and cols" in err
    conf.write_text(good.replace("- {metric: var, x: step, hue: lr, logy: true}",
                                 "- {metric: var, x: step, for_each: {optimizer: [sgd]}}"))
    assert main(["plot", "paper=toy", "fig=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown facet 'optimizer'" in err and "(lr)" in err
