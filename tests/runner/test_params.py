"""fig<N>.params.csv: every parameter that shaped a row, fixed ones included, recoverable from results/ alone."""
import pandas as pd

from repro.cli import main


def test_fixed_parameter_recoverable_from_params_file_joined_on_run_key(toy_root, capsys):
    # like laprop fig=1's eps: T and chains are fixed (not swept), so the tidy CSV has no column for them
    assert main(["run", "paper=toy", "fig=1", "panels.quad.params.chains=1500"]) == 0
    csv = toy_root / "results" / "toy" / "fig1_tiny.csv"
    params = csv.with_name("fig1_tiny.params.csv")
    df = pd.read_csv(csv)
    assert "T" not in df.columns and "chains" not in df.columns
    p = pd.read_csv(params)
    assert list(p.columns[:9]) == ["paper", "fig", "panel", "series", "kind", "experiment", "version", "seed",
                                   "run_key"]
    assert len(p) == 2 * 2 + 2          # sgd: 2 lr x 2 seeds; theory: 2 lr
    joined = df[df["kind"] == "experiment"].merge(p, on="run_key", suffixes=("", "_p"))
    assert len(joined) == (df["kind"] == "experiment").sum()
    assert set(joined["T"]) == {50} and set(joined["chains"]) == {1500} and set(joined["lr_p"]) == {0.5, 1.0}
    # deterministic, and the same file from the spec alone (nothing rerun)
    first = params.read_bytes()
    assert main(["params", "paper=toy", "fig=1", "scale=tiny", "panels.quad.params.chains=1500"]) == 0
    assert params.read_bytes() == first
    # a spec that no longer matches the CSV's runs is stale: reported, nothing written
    assert main(["params", "paper=toy", "fig=1", "scale=tiny"]) == 1
    assert "stale" in capsys.readouterr().err and params.read_bytes() == first

