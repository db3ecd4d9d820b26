"""Every registered figure composes and runs at tiny scale through the same path as full scale, and its tiny
claims pass (parametrized over the registry: a new figure config is covered without touching this file)."""
import pytest

from repro.runner import claims
from repro.runner.compose import load_spec
from repro.runner.figures import index
from repro.runner.pipeline import run_figure

FIGURES = [(e.paper, e.fig) for figs in index().values() for e in figs]


@pytest.mark.parametrize("paper,fig", FIGURES, ids=[f"{p}-fig{f}" for p, f in FIGURES])
def test_figure_runs_at_tiny_scale_and_its_claims_pass(paper, fig, tmp_path):
    [entry] = [e for e in index()[paper] if e.fig == fig]
    spec = load_spec(entry, ["scale=tiny", f"runs_dir={tmp_path / 'runs'}", f"results_dir={tmp_path / 'results'}"])
    assert spec.scale == "tiny"
    if all(p.get("skip") for p in spec.panels.values()):
        pytest.skip(f"listed as skipped: {next(iter(spec.panels.values()))['skip']}")
    results, claim_results = run_figure(spec, progress=False)
    assert all(r["status"] == "done" for r in results), [r for r in results if r["status"] != "done"]
    csv = tmp_path / "results" / paper / f"fig{fig}_tiny.csv"
    assert csv.exists() and csv.with_suffix(".png").exists()
    assert claim_results, "a figure without claims checks nothing"
    failed = claims.gating_failures(claim_results)
    assert not failed, claims.table(failed)


def test_every_figure_declares_what_done_requires():
    for figs in index().values():
        for e in figs:
            for alias, panel in e.meta["panels"].items():
                where = f"{e.paper} fig{e.fig} {alias}"
                # the catalogs' tags; gambler's "paper-v0" = read in the ICLR-2020 submission, an earlier version of the paper
                assert panel.get("provenance") in {"paper", "paper-v0", "code", "derived", "reconstructed"}, where
                if panel.get("skip"):
                    continue
                assert set(panel.get("scales", {})) == {"tiny", "full"}, where
                assert all("cost" in panel["scales"][s] for s in ("tiny", "full")), where
                assert panel.get("claims") and panel.get("plot"), where
