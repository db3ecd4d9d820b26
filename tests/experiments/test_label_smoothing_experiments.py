"""repro/experiments/label_smoothing.py on small generated reference grids (known argmins, bars and power laws) and
on the shared files (the catalog's numbers)."""
import numpy as np
import pandas as pd
import pytest

from repro.experiments import label_smoothing as ls


def _write_grid(root, rows):
    (root / "label_smoothing").mkdir(exist_ok=True)
    cols = ["dataset", "model", "method", "n_classes", "p", "noise_rate", "clean_rate", "seed", "n_epochs",
            "test_acc_last", "test_loss_last", "train_loss_last", "test_acc_ep99", "test_acc_best",
            "test_acc_best_epoch", "test_loss_min", "test_loss_min_epoch"]
    df = pd.DataFrame([{c: r.get(c, 0) for c in cols} for r in rows], columns=cols)
    df.to_csv(root / "label_smoothing" / "mnist_grid_final.csv", index=False)


def _rows(fn, p):
    return pd.DataFrame(list(fn(p, None)))


def test_reference_grid_columns_on_a_generated_grid(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_REFERENCE", str(tmp_path))
    rows = []
    for a, best, lmin in ((0.5, 0.2, 0.6), (0.6, 0.25, 0.8), (1.0, 0.95, 1.0)):
        for p in (0.2, 0.25, 0.6, 0.8, 0.95, 1.0):
            rows.append({"dataset": "mnist", "p": p, "clean_rate": a, "noise_rate": round(1 - a, 2),
                         "test_acc_last": 90 - 10 * abs(p - best) + (5 if p == 0.95 and a == 1.0 else 0)
                         + (3 if p == 1.0 and a == 0.6 else 0),
                         "test_loss_last": 1 + (p - lmin) ** 2})
    _write_grid(tmp_path, rows)
    df = _rows(ls.reference_grid, {"step": 0.05, "p_strong": 0.2, "p_mild": 0.95})
    col = df[df["p"].isna() & df["clean_rate"].notna()].pivot_table(index="clean_rate", columns="metric",
                                                                     values="value")
    assert col["argmax_p_acc"].tolist() == [0.2, 0.25, 0.95]
    assert col["argmin_p_loss"].tolist() == [0.6, 0.8, 1.0]
    assert col.loc[0.5, "acc_gap_strong"] == pytest.approx(10 * 0.8)              # acc(0.2) - acc(1) at a = 0.5
    assert col.loc[0.5, "improvement"] == pytest.approx(-10 * 0.75 + 10 * 0.8)    # acc(0.95) - acc(1)
    prev = df[df["metric"] == "argmin_p_loss"].sort_values("clean_rate")["argmin_prev"].tolist()
    assert np.isnan(prev[0]) and prev[1:] == [0.6, 0.8]
    rel = df[df["metric"] == "rel_acc"].groupby("clean_rate")["value"].agg(["min", "max"])
    assert (rel["min"] == 0).all() and (rel["max"] == 1).all()
    assert df.loc[df["metric"] == "argmin_a_improvement", "value"].item() == 0.6
    only = _rows(ls.reference_grid, {"a_values": [0.6], "outputs": ["columns"]})
    assert set(only["clean_rate"].dropna()) == {0.6} and "test_acc" not in set(only["metric"])


def test_relaxation_recovers_a_generated_power_law(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_REFERENCE", str(tmp_path))
    rows = [{"p": p, "clean_rate": a, "noise_rate": round(1 - a, 2), "test_acc_best_epoch": 5.0 * (p - 0.1) ** k}
            for a, k in ((0.5, -0.7), (0.8, -0.5)) for p in np.round(np.arange(0.11, 1.001, 0.01), 2)]
    _write_grid(tmp_path, rows)
    df = _rows(ls.relaxation, {"p_max": 0.95})
    slope = df[df["metric"] == "slope"]
    per_a = slope[slope["fit"] == "per_a"].set_index("clean_rate")["value"]
    assert per_a.loc[0.5] == pytest.approx(-0.7, abs=1e-6) and per_a.loc[0.8] == pytest.approx(-0.5, abs=1e-6)
    pooled = slope[slope["fit"] == "pooled"]["value"].item()
    assert -0.7 < pooled < -0.5
    peak = df[df["metric"] == "peak_epoch"]
    fitted = peak["in_fit"].astype(bool)
    assert fitted.sum() == 2 * 85 and (peak.loc[~fitted, "p"] > 0.95).all()
    cut = _rows(ls.relaxation, {"p_max": 0.95, "p_fit_min": 0.2})
    assert cut[cut["metric"] == "n_fit"].query("fit == 'pooled'")["value"].item() == 2 * 76
    rho = df[df["metric"] == "spearman_p_peak"].set_index("clean_rate")["value"]
    assert rho.loc[0.5] == pytest.approx(-1.0) and rho.loc[0.8] == pytest.approx(-1.0)   # over every p, p = 1 too


def test_spearman_ranks_ties_and_constants():
    # the catalog's tiny fig=6 case: peaks 56, 36, 12, 16 for p = 0.3, 0.5, 0.8, 1.0: one adjacent swap, rho = -0.8
    assert ls.spearman([0.3, 0.5, 0.8, 1.0], [56, 36, 12, 16]) == pytest.approx(-0.8)
    assert ls.spearman([0.3, 0.5, 0.8, 1.0], [56, 36, 16, 12]) == pytest.approx(-1.0)
    assert ls.spearman([0.3, 0.5, 0.8, 1.0], [12, 16, 36, 56]) == pytest.approx(1.0)
    assert ls.spearman([0.3, 0.5, 0.8], [20, 20, 10]) == pytest.approx(-np.sqrt(3) / 2)   # a tie: average ranks
    assert np.isnan(ls.spearman([0.3, 0.5, 0.8], [10, 10, 10]))      # no trend at all: not a pass


def test_theory_curves_rows():
    df = _rows(ls.theory_curves, {"a_min": 0.4, "a_max": 0.6, "a_step": 0.1, "K": 10})
    g = df[df["metric"] == "gamma"].set_index("clean_rate")["value"]
    assert list(g.index) == [0.4, 0.5, 0.6] and g.loc[0.4] == pytest.approx(0.1)
    assert g.loc[0.5] == pytest.approx(0.5995, abs=1e-4)
    assert 0.475 <= df.loc[df["metric"] == "a_c", "value"].item() <= 0.48


def test_shared_grid_gives_the_catalogs_fig5_bars():
    df = _rows(ls.reference_grid, {"step": 0.05, "p_min": 0.15, "p_values": [0.95, 1.0], "outputs": ["columns"]})
    bars = df[df["metric"] == "improvement"].set_index("clean_rate")["value"]
    assert bars.loc[[0.85, 0.9, 0.95, 1.0]].round(2).tolist() == [0.02, 1.76, 1.37, 0.28]
    assert (bars.loc[bars.index <= 0.8] < 0).sum() == 14


class _Ctx:
    def generator(self, name):
        import torch
        return torch.Generator().manual_seed(0)


def test_memorizer_argmins_follow_the_picture():
    """Large sizes: the 1-NN memorizer's argmins are within 0.02 of alpha, beta, gamma (the sampling noise is
    ~0.005 here); its neighbours are of the true class."""
    from repro.theory import label_smoothing as th
    df = _rows(lambda p, c: ls.memorizer(p, _Ctx()), {"dim": 20, "sep": 10.0, "n_train": 10000, "n_test": 10000,
                                                     "p_min": 0.4, "p_max": 0.99, "p_step": 0.01,
                                                     "memorizer_a": [0.7]})
    got = df.set_index("metric")["value"]
    assert got["nn_true_class"] == 1.0
    assert abs(got["argmin_clean"] - 0.7) <= 0.02
    assert abs(got["argmin_noisy"] - th.beta(0.7)) <= 0.02
    assert abs(got["argmin_smoothed"] - th.gamma(0.7)) <= 0.02
