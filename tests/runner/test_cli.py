"""list / status / plot / check / report / multirun through the CLI."""
import pandas as pd

from repro.cli import main


def test_list_status_check_report_plot(toy_root, capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "fig=1    quad" in out and "[derived]" in out and "tiny: missing" in out and "full: missing" in out
    assert main(["check", "paper=toy", "scale=tiny"]) == 1       # no CSV yet: the claim that it exists fails
    capsys.readouterr()
    assert main(["run", "paper=toy", "fig=quad"]) == 0            # a panel alias selects the panel
    assert main(["list", "paper=toy"]) == 0
    assert "tiny: done" in capsys.readouterr().out
    assert main(["check", "paper=toy"]) == 0
    assert "passed 1; gating failures 0; reported-only failures 1" in capsys.readouterr().out
    assert main(["status"]) == 0
    assert "toy" in capsys.readouterr().out
    png = toy_root / "results/toy/fig1_tiny.png"
    png.unlink()
    assert main(["plot", "paper=toy", "fig=1"]) == 0 and png.exists()
    assert main(["plot", "scale=full"]) == 0           # no full CSV yet: nothing to draw, no crash
    assert main(["report"]) == 0
    report = (toy_root / "results/README.md").read_text()
    assert "fig 1: Toy noisy quadratic" in report and "| quad/matches_theory" not in report   # tiny: never shown
    assert main(["run", "paper=toy", "fig=1", "scale=full"]) == 0
    assert main(["report"]) == 0
    report = (toy_root / "results/README.md").read_text()
    assert "| quad/matches_theory" in report and "pass" in report and "fig1_tiny" not in report
    # a config change makes the figure stale; a claim that fails makes it failed and check exits 1
    cfg = toy_root / "conf/toy/fig1.yaml"
    cfg.write_text(cfg.read_text().replace("T: 50,", "T: 51,"))
    from repro.runner import figures
    figures._index.cache_clear()
    assert main(["list", "paper=toy"]) == 0
    assert "tiny: stale" in capsys.readouterr().out
    cfg.write_text(cfg.read_text().replace("T: 51,", "T: 50,").replace("tol: {tiny: 0.15", "tol: {tiny: 0.0001"))
    figures._index.cache_clear()
    assert main(["check", "paper=toy", "fig=1", "scale=tiny"]) == 1
    assert main(["list", "paper=toy"]) == 0
    assert "tiny: failed" in capsys.readouterr().out


def test_multirun_sweeps_overrides(toy_root, capsys):
    assert main(["run", "paper=toy", "fig=1", "-m", "panels.quad.params.T=10,20"]) == 0
    for t in (10, 20):
        df = pd.read_csv(toy_root / f"runs/_multirun/panels.quad.params.T={t}/toy/fig1_tiny.csv")
        assert df["step"].max() == t
    assert not (toy_root / "results").exists()      # results/ keeps the canonical configuration only
    assert main(["run", "paper=toy", "fig=1", "-m", "panels.quad.params.T=10,abc"]) == 2


def test_skipped_entry_is_listed_with_its_reason_and_never_run(toy_root, capsys):
    (toy_root / "conf/toy/fig2.yaml").write_text(
        "# @package _global_\npaper: toy\nfig: 2\ntitle: borrowed\npanels:\n"
        "  borrowed:\n    provenance: paper\n    skip: copied from another paper\n")
    from repro.runner import figures
    figures._index.cache_clear()
    assert main(["list", "paper=toy"]) == 0
    out = capsys.readouterr().out
    assert "skip: borrowed: copied from another paper" in out and "tiny: skip" in out
    assert main(["run", "paper=toy", "fig=2"]) == 0
    assert "skipped: copied from another paper" in capsys.readouterr().out
    assert not (toy_root / "results/toy/fig2_tiny.csv").exists()
