"""Issue 16: the command line answers at once. The fast config index equals OmegaConf's reading, list/status/--cfg
import neither torch nor matplotlib nor pandas, and a figure whose results are current is left alone ("fig N: up to
date") until one of their inputs changes."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from repro.cli import main

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "matplotlib", "pandas")


def test_fast_index_reads_every_config_as_omegaconf_does():
    from omegaconf import OmegaConf

    from repro.runner.figures import read_config

    files = sorted((REPO / "conf").glob("*/fig*.yaml"))
    assert len(files) > 50
    for f in files:
        slow = OmegaConf.to_container(OmegaConf.load(f), resolve=False)
        fast = read_config(f)
        # equal values, types and key order (the order of panels is the order of `repro list`)
        assert json.dumps(fast, default=repr) == json.dumps(slow, default=repr), f
        assert fast == slow, f


def test_yaml_edge_cases_read_as_omegaconf_does(tmp_path):
    from omegaconf import OmegaConf

    from repro.runner.figures import read_config

    f = tmp_path / "fig1.yaml"
    f.write_text("a: 1e-8\nb: 1.0e+3\nc: 2001-12-14\nd: ${x}\ne: .inf\nf: 0x10\ng: yes\nh: null\ni: '1e-3'\n")
    assert read_config(f) == OmegaConf.to_container(OmegaConf.load(f), resolve=False)
    f.write_text("a: 1\na: 2\n")
    with pytest.raises(Exception, match="duplicate key"):
        read_config(f)


def test_cached_index_equals_a_fresh_one_and_sees_changes(toy_root):
    from repro.runner import figures

    figures._index.cache_clear()
    cold = figures.index()
    assert (toy_root / "cache/repro/index.pkl").exists()
    figures._index.cache_clear()
    warm = figures.index()
    assert [(e.paper, e.fig, e.title, e.panels, e.meta) for e in cold["toy"]] == \
           [(e.paper, e.fig, e.title, e.panels, e.meta) for e in warm["toy"]]
    cfg = toy_root / "conf/toy/fig1.yaml"
    st = cfg.stat()
    cfg.write_text(cfg.read_text().replace("T: 50,", "T: 51,"))   # same size ...
    os.utime(cfg, ns=(st.st_atime_ns, st.st_mtime_ns))              # ... and same mtime: the digest tells
    figures._index.cache_clear()
    assert figures.index()["toy"][0].meta["panels"]["quad"]["params"]["T"] == 51


def test_list_status_and_cfg_import_no_torch_matplotlib_or_pandas(toy_root):
    code = ("import sys; from repro.cli import main; args = sys.argv[1:]; rc = main(args);"
            f"heavy = [m for m in {HEAVY!r} if m in sys.modules]; print('HEAVY', heavy); sys.exit(rc)")
    for args in ([], ["list"], ["status"], ["run", "paper=toy", "fig=1", "--cfg"]):
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "HEAVY []" in out.stdout, (args, out.stdout[-500:])


def _outputs(root: Path) -> list[Path]:
    base = root / "results/toy/fig1_tiny"
    return [base.with_suffix(".csv"), base.with_suffix(".png"), base.with_suffix(".pdf"),
            base.with_name("fig1_tiny_claims.csv")]


def _run(capsys, *extra) -> tuple[int, str]:
    code = main(["run", "paper=toy", "fig=1", *extra])
    return code, capsys.readouterr().out


def _redone(out: str) -> bool:
    return "up to date" not in out and "plot:" in out and "claims:" in out


def test_up_to_date_figure_is_left_alone_until_an_input_changes(toy_root, capsys, monkeypatch):
    from repro.runner import figures, pipeline

    code, out = _run(capsys)
    assert code == 0 and _redone(out)
    files = _outputs(toy_root)
    mtimes = {p: p.stat().st_mtime_ns for p in files}

    code, out = _run(capsys)   # nothing new: one line, no file rewritten
    assert code == 0 and "toy fig 1: up to date [tiny]" in out and "plot:" not in out, out
    assert len(out.strip().splitlines()) == 1
    assert {p: p.stat().st_mtime_ns for p in files} == mtimes

    # each input or output that changes redoes collect, plot and check (and the next run is current again)
    def redo(what, *extra):
        code, out = _run(capsys, *extra)
        assert code == 0 and _redone(out), f"{what}: {out}"
        code, out = _run(capsys)
        assert "up to date" in out, f"after {what}: {out}"

    redo("--force", "--force")
    for p in files:   # a missing CSV, PNG, PDF or claims file
        p.unlink()
        redo(f"missing {p.name}")
        assert p.exists()
    files[0].write_text("".join(files[0].read_text().splitlines(True)[:-1]))   # a modified CSV (a row cut)
    redo("modified CSV")
    files[1].write_bytes(files[1].read_bytes() + b"x")   # a modified PNG
    redo("modified PNG")

    key = next(d for d in (toy_root / "runs/toy/fig1").iterdir() if d.is_dir())
    (key / "DONE").unlink()   # a run that is rerun
    redo("a rerun")

    cfg = toy_root / "conf/toy/fig1.yaml"   # a claim changes: the runs and spec_hash do not, the claims do
    cfg.write_text(cfg.read_text().replace("text: a reported-only claim that fails", "text: reported, reworded"))
    figures._index.cache_clear()
    redo("a changed claim")
    cfg.write_text(cfg.read_text().replace("logy: true", "logy: false"))   # the plot changes
    figures._index.cache_clear()
    redo("a changed plot")

    monkeypatch.setattr(pipeline, "_code_digest", lambda: "other code")   # the code that collects/draws/checks
    redo("changed code")

    code, out = _run(capsys, "plot=false")   # a different set of steps is a different stamp
    assert code == 0 and "up to date" not in out and "claims:" in out


def test_up_to_date_figure_keeps_its_exit_status(toy_root, capsys):
    cfg = toy_root / "conf/toy/fig1.yaml"
    cfg.write_text(cfg.read_text().replace("tol: {tiny: 0.15", "tol: {tiny: 0.0001"))
    assert main(["run", "paper=toy", "fig=1"]) == 1   # a gating claim fails
    err = capsys.readouterr().err
    assert "gating claim(s) failed: quad/matches_theory" in err
    assert main(["run", "paper=toy", "fig=1"]) == 1   # up to date: the same outcome, read back
    captured = capsys.readouterr()
    assert "up to date" in captured.out and "gating claim(s) failed: quad/matches_theory" in captured.err


def test_the_version_cache_watches_every_experiment_module_packages_included():
    """A version bump in a paper package's module (repro/experiments/snake/series.py) must change the digest under
    which the experiments' code versions are cached, or a rerun would reuse runs of the old code."""
    from repro.runner import pipeline

    files = {p.relative_to(pipeline.REPRO).as_posix() for p in pipeline._experiment_sources()}
    assert {"experiments/snake/series.py", "experiments/laprop/networks.py", "experiments/escape_rate.py"} <= files
