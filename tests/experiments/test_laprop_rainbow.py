"""LaProp fig=7 (rainbow): checkpoint/resume gives exactly the rows of an uninterrupted run; the reference loader
gives the catalog's numbers; params are checked."""
import math

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ale_py")
from repro.data.reference import reference_root  # noqa: E402
from repro.experiments.laprop import rainbow as lr  # noqa: E402
from repro.rl.rainbow import Interrupted  # noqa: E402
from repro.runner.context import RunContext  # noqa: E402

SMALL = dict(total_steps=500, buffer_size=500, learning_starts=150, batch_size=4, target_update=100,
             beta_frames=500, eval_every=250, eval_games=1, eval_life_steps=30, eval_max_steps=60,
             checkpoint_every=250, eps_decay=300.0, optimizer="laprop", optimizer_eps=1e-15, torch_threads=1)


def _frame(rows):
    return pd.DataFrame(rows).sort_values(["metric", "step"], kind="stable").reset_index(drop=True)


@pytest.mark.slow
def test_a_stopped_run_resumes_to_exactly_the_uninterrupted_rows(tmp_path):
    stop = 333   # between two regular checkpoints (250, 500): saved on stopping, mid-interval statistics included
    ctx = RunContext(seed=0, scale="tiny", checkpoint_dir=tmp_path / "ck")
    straight = list(lr.rainbow(dict(SMALL), ctx))
    assert not list((tmp_path / "ck").glob("*.pt")), "a completed run removes its checkpoint"

    p = dict(SMALL, stop_after_steps=stop)
    first = []
    with pytest.raises(Interrupted):
        for row in lr.rainbow(p, ctx):
            first.append(row)
    [ck] = (tmp_path / "ck").glob("*.pt")
    assert ck == lr.rainbow_checkpoint(SMALL, ctx)   # run-only keys are not in the hash
    assert len(first) < len(straight)
    resumed = list(lr.rainbow(dict(SMALL), ctx))
    a, b = _frame(straight), _frame(resumed)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert set(a["metric"]) >= {"eval_score_mean", "loss", "steps_done", "steps_target", "nonfinite_losses"}
    assert (a.loc[a.metric == "eval_score_mean", "step"].tolist() == [250, 500])
    assert a.loc[a.metric == "n_updates", "value"].max() > 0
    assert np.isfinite(a.loc[a.metric == "loss", "value"]).all()


def test_another_seed_or_optimizer_gets_another_checkpoint_and_changes_the_run(tmp_path):
    ctx = RunContext(seed=1, checkpoint_dir=tmp_path)
    base = lr.rainbow_checkpoint(SMALL, ctx)
    assert base.parent == tmp_path
    assert lr.rainbow_checkpoint(SMALL, RunContext(seed=2, checkpoint_dir=tmp_path)) != base
    assert lr.rainbow_checkpoint(dict(SMALL, optimizer="adam"), ctx) != base
    assert lr.rainbow_checkpoint(dict(SMALL, max_wall_s=5, keep_checkpoint=True), ctx) == base
    assert lr.rainbow_checkpoint(SMALL, RunContext(seed=1)) is None   # no checkpoint directory: no resume


def test_unknown_params_are_rejected():
    with pytest.raises(ValueError, match="unknown laprop.rainbow params"):
        lr.rainbow_args({"total_step": 10})


def test_reference_loader_gives_the_catalogs_numbers():
    rows = pd.DataFrame(lr.reference_rainbow({}, RunContext(seed=None)))
    mean = rows[rows.metric == "eval_score_mean"]
    assert mean.groupby("optimizer").size().to_dict() == {"adam": 150, "laprop": 60}
    window = mean[(mean.step >= 200_000) & (mean.step <= 12_000_000)].groupby("optimizer")["value"].mean()
    assert window["adam"] == pytest.approx(313.5, abs=0.1) and window["laprop"] == pytest.approx(341.7, abs=0.1)
    assert mean.step.min() == 200_000 and mean.step.max() == 30_000_000
    assert set(rows.metric) == {"eval_score_mean", "eval_score_std"} and set(rows.game) == {"Breakout"}


def test_reference_loader_honours_the_override(monkeypatch, tmp_path):
    (tmp_path / "laprop").mkdir()
    pd.DataFrame({"game": ["Breakout"], "optimizer": ["adam"], "agent_steps": [200000], "eval_score_mean": [1.5],
                  "eval_score_std": [0.5]}).to_csv(tmp_path / "laprop" / "rainbow_breakout_eval.csv", index=False)
    monkeypatch.setenv("REPRO_REFERENCE", str(tmp_path))
    assert reference_root() / "laprop" == tmp_path / "laprop"
    rows = list(lr.reference_rainbow({}, RunContext(seed=None)))
    assert [(r["metric"], r["value"], r["step"]) for r in rows] == [("eval_score_mean", 1.5, 200000),
                                                                    ("eval_score_std", 0.5, 200000)]
    monkeypatch.delenv("REPRO_REFERENCE")
    assert (reference_root() / "laprop" / "rainbow_breakout_eval.csv").exists()


def test_sem_rows_are_the_standard_error_of_the_games():
    rows = list(lr._rows(("eval", 7, [1.0, 3.0, 8.0]), {"game": "Breakout", "optimizer": "adam"}))
    by = {r["metric"]: r["value"] for r in rows}
    assert by["eval_score_mean"] == 4.0 and by["eval_games"] == 3.0
    assert by["eval_score_std"] == pytest.approx(np.std([1, 3, 8], ddof=1) / math.sqrt(3))
