"""The run store verifies what it reads (issue 15, items 2, 3, 7): DONE records the row count and a hash of
metrics.csv; a run that fails verification is reported in one line and rerun, never collected. A figure whose
runs failed writes nothing to results/; failing gating claims make `repro run` exit 1 after the table."""
import json
from pathlib import Path

import pandas as pd
import pytest

from repro.cli import main


def _runs(root):
    return sorted((Path(root) / "runs/toy/fig1").glob("*/DONE"))


def _experiment_run(root):
    """The run dir of one experiment (not theory) run."""
    for done in _runs(root):
        cfg = json.loads((done.parent / "config.json").read_text())
        if cfg["kind"] == "experiment":
            return done.parent
    raise AssertionError("no experiment run")


def test_done_records_rows_and_hash(toy_root):
    assert main(["run", "paper=toy", "fig=1"]) == 0
    rdir = _experiment_run(toy_root)
    record = json.loads((rdir / "DONE").read_text())
    import hashlib
    assert record["sha256"] == hashlib.sha256((rdir / "metrics.csv").read_bytes()).hexdigest()
    assert record["rows"] == len(pd.read_csv(rdir / "metrics.csv"))


def _corrupt_half(p):
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])            # cut in half (mid-line)


def _corrupt_lines(p):
    lines = p.read_bytes().splitlines(keepends=True)
    p.write_bytes(b"".join(lines[: len(lines) // 2]))  # cut at a line end: fewer rows


def _corrupt_value(p):
    p.write_text(p.read_text().replace(",var,", ",var,9", 1))   # same rows, other numbers


@pytest.mark.parametrize("damage,why", [
    (_corrupt_half, "ends mid-line"),
    (_corrupt_lines, "rows, DONE recorded"),
    (_corrupt_value, "changed since the run finished"),
    (lambda p: p.unlink(), "metrics.csv is missing"),
    (lambda p: p.with_name("provenance.json").write_bytes(b"\x00garbage{"), "provenance.json is not a JSON object"),
])
def test_a_damaged_run_is_reported_in_one_line_and_rerun(toy_root, capsys, damage, why):
    assert main(["run", "paper=toy", "fig=1"]) == 0
    ref = pd.read_csv(toy_root / "results/toy/fig1_tiny.csv")
    rdir = _experiment_run(toy_root)
    damage(rdir / "metrics.csv")
    capsys.readouterr()
    assert main(["run", "paper=toy", "fig=1"]) == 0
    out, err = capsys.readouterr()
    lines = [x for x in err.splitlines() if rdir.name in x]
    assert len(lines) == 1 and why in lines[0] and "rerun" in lines[0], err
    assert "6 runs, 1 ran" in out
    pd.testing.assert_frame_equal(pd.read_csv(toy_root / "results/toy/fig1_tiny.csv"), ref)


def test_collection_never_reads_an_unverified_run(toy_root):
    from repro.runner.collect import collect
    from repro.runner.compose import load_spec
    from repro.runner.figures import index
    from repro.runner.pipeline import code_version, plan

    assert main(["run", "paper=toy", "fig=1"]) == 0
    rdir = _experiment_run(toy_root)
    _corrupt_half(rdir / "metrics.csv")
    spec = load_spec(index()["toy"][0], [])
    out = collect(spec, plan(spec), spec.runtime["runs_dir"], spec.runtime["results_dir"], code_version)
    df = pd.read_csv(out)
    assert rdir.name not in set(df["run_key"].dropna())


def test_a_figure_whose_runs_failed_writes_nothing(toy_root, capsys):
    code = main(["run", "paper=toy", "fig=1", "panels.quad.params.fail=true"])
    assert code == 1
    err = capsys.readouterr().err
    assert not (toy_root / "results").exists()
    summary = [x for x in err.splitlines() if x.startswith("repro: toy fig1 [tiny]")]
    assert len(summary) == 1 and "4 run(s) failed, nothing written: RuntimeError: asked to fail" in summary[0]
    assert "Traceback" not in err


def test_missing_data_writes_nothing_and_exits_nonzero(toy_root, capsys):
    """A figure whose runs all fail on their data (here: every run raises) leaves an earlier CSV untouched."""
    assert main(["run", "paper=toy", "fig=1"]) == 0
    csv = toy_root / "results/toy/fig1_tiny.csv"
    before = csv.read_bytes()
    assert main(["run", "paper=toy", "fig=1", "panels.quad.params.fail=true"]) == 1
    assert csv.read_bytes() == before


def test_run_exits_1_on_a_failing_gating_claim_after_the_table(toy_root, capsys):
    cfg = toy_root / "conf/toy/fig1.yaml"
    cfg.write_text(cfg.read_text().replace("tol: {tiny: 0.15", "tol: {tiny: 0.0001"))
    assert main(["run", "paper=toy", "fig=1"]) == 1
    out, err = capsys.readouterr()
    assert "FAIL  quad/matches_theory" in out and (toy_root / "results/toy/fig1_tiny.csv").exists()
    assert "repro: toy fig1 [tiny]: 1 gating claim(s) failed: quad/matches_theory" in err


def test_check_without_results_says_so_and_exits_1(toy_root, capsys):
    assert main(["check", "paper=toy"]) == 1
    err = capsys.readouterr().err
    assert "no results for paper=toy" in err
    assert main(["check", "paper=toy", "fig=1", "scale=full"]) == 1
    out, err = capsys.readouterr()
    assert "toy fig1 [full]: no results" in err and "claims passed 0" not in err


def test_bad_data_stops_the_figure_after_the_first_run_in_one_line(toy_root, capsys):
    """Item 6: a bad data file stops the figure: the runs after the first data error are not started, and the
    error is one line naming the file (not one traceback per run)."""
    code = main(["run", "paper=toy", "fig=1", "panels.quad.params.bad_data=true", "devices=cpu", "slots_per_device=1"])
    assert code == 1
    err = capsys.readouterr().err
    assert len(list((toy_root / "runs/toy/fig1").glob("*/FAILED"))) == 1      # 6 runs, the first experiment run started, the rest not
    lines = [x for x in err.splitlines() if "DataInvalid" in x]
    assert len(lines) == 2 and all("toy.idx: not an idx file" in x for x in lines), err   # the FAILED line + summary
    assert "and 5 more run(s)" in lines[0] and not (toy_root / "results").exists()
