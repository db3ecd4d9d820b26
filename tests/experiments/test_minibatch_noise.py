"""minibatch_noise simulations (repro/sim/minibatch.py) and experiment functions: the exact-in-law gradient shortcuts
against the noise formulas, small simulations against the catalog's reference values, and the fig=1 code path on
generated MNIST-format files read by the real loader."""
import math

import numpy as np
import pytest
import torch

from repro.experiments import minibatch_noise as mn
from repro.runner.context import RunContext
from repro.sim import minibatch as msim
from repro.sim.linear import Optimizer
from repro.theory import minibatch as mt


@pytest.fixture(autouse=True)
def one_thread():
    """Small-tensor simulations, as the figures run them (threads: 1): on a shared 2-core machine two intra-op
    threads make these loops tens of times slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _rows(fn, p, seed=0, **ctx):
    return {r["metric"]: r["value"] for r in fn(p, RunContext(seed=seed, **ctx))}


# ---------------------------------------------------------------------------------------------- gradient oracles


@pytest.mark.parametrize("A", [[1.5], [1.0, 0.5]])
def test_label_noise_oracle_has_the_lemma1_moments(A):
    """The 1-D chi shortcut and the D > 1 Cholesky form draw the minibatch gradient exactly in law: mean Aδ and
    covariance (1/S)(AδδᵀA + δᵀAδ A + σ²A) at a fixed δ."""
    runs, S, sigma2 = 400_000, 5, 0.7
    D = len(A)
    delta = torch.tensor([0.6, -0.8][:D], dtype=torch.float64).expand(runs, D)
    g = msim.label_noise_gradient(A, math.sqrt(sigma2), S, runs, _gen(), dtype=torch.float64)(delta.clone()).numpy()
    Am, d = np.diag(A), delta[0].numpy()
    np.testing.assert_allclose(g.mean(0), Am @ d, atol=4e-3)
    np.testing.assert_allclose(np.cov(g.T).reshape(D, D), mt.label_noise_C(Am, np.outer(d, d), sigma2, S), rtol=0.02,
                               atol=1e-3)


def test_l2_oracle_1d_shortcut_moments():
    runs, S, a, gamma, u = 400_000, 4, 4.0, -2.5, 1.0
    grad, center = msim.l2_gradient([a], gamma, u, S, runs, _gen(), dtype=torch.float64)
    delta = torch.full((runs, 1), 0.3, dtype=torch.float64)
    g = grad(delta.clone()).numpy()[:, 0]
    k, w_star = a + gamma, a * u / (a + gamma)
    assert center.item() == pytest.approx(w_star)
    v = 0.3 + w_star - u
    assert g.mean() == pytest.approx(k * 0.3, abs=0.02)
    assert g.var() == pytest.approx(2 * a * a * v * v / S, rel=0.02)


# ---------------------------------------------------------------------------------------------- small simulations


def test_sgd_momentum_simulation_matches_theorem2():
    # catalog: with mu = 0.5 (lambda = 1, S = 10, a = sigma^2 = 1) the simulation gives 0.2140 vs 0.2143
    stats = msim.simulate("label", {"A": [1.0], "S": 10, "sigma2": 1.0}, Optimizer(1.0, momentum=0.5), 3000, 2000,
                          generator=_gen(1))
    theory = mt.label_noise_cov([[1.0]], 1.0, 10, 1.0, 0.5)[0, 0]
    assert stats.variance()[0].item() == pytest.approx(theory, rel=0.03)


def test_input_noise_simulation_matches_the_corrected_test_loss():
    r = _rows(mn.sgd_chains, dict(source="input", A=[1.0], B=[0.5], u=1.0, S=8, lr=0.8, runs=2000, steps=3000))
    assert r["var"] == pytest.approx(0.0667, rel=0.03)
    assert r["L_test"] == pytest.approx(0.0889, rel=0.03)              # not the printed 0.1056
    assert abs(r["L_test"] / 0.1056 - 1) > 0.1
    assert r["L_train"] == pytest.approx(mt.input_noise_losses([[1.0]], 0.5, 1.0, 8, 0.8)[0], rel=0.03)


def test_l2_simulation_matches_eq11_and_interpolates_at_zero():
    r = _rows(mn.sgd_chains, dict(source="l2", A=[1.0], u=1.0, gamma=1.0, S=1, lr=0.5, runs=1000, steps=3000))
    assert r["L_test"] == pytest.approx(0.25, rel=0.04)
    r0 = _rows(mn.sgd_chains, dict(source="l2", A=[1.0], u=1.0, gamma=0.0, S=1, lr=0.5, runs=200, steps=2000))
    assert r0["L_test"] < 1e-12 and r0["diverged_fraction"] == 0.0
    rd = _rows(mn.sgd_chains, dict(source="l2", A=[4.0], u=1.0, gamma=0.0, S=64, lr=1.0, runs=50, steps=200))
    assert rd["diverged_fraction"] == 1.0


def test_tail_estimates_and_flag():
    r = _rows(mn.sgd_chains, dict(source="label", A=[1.0], sigma2=1.0, S=10, lr=1.0, runs=200, steps=3000,
                                  burn_in=500, tail=True, thin=2))
    assert r["beta_var"] == pytest.approx(10.0, rel=0.08)
    assert r["beta_tmle"] == pytest.approx(10.0, rel=0.25)
    assert r["flag_beta_lt_4"] == 0.0
    heavy = _rows(mn.sgd_chains, dict(source="label", A=[1.0], sigma2=1.0, S=30, lr=1.8, runs=200, steps=3000,
                                      burn_in=500, tail=True, thin=2))
    assert heavy["flag_beta_lt_4"] == 1.0                              # beta = 3.33


def test_finite_data_simulation_matches_its_exact_fixed_point():
    p = dict(source="label", A=[1.5], sigma2=1.0, S=20, lr=1.0, sampling="replacement", N=2000, data_seed=3,
             runs=1000, steps=1500)
    r = _rows(mn.sgd_chains, p)
    exact_finite = _rows(mn.theory, {**p, "form": "exact_finite"})["var"]
    assert r["var"] == pytest.approx(exact_finite, rel=0.04)


def test_highdim_simulation_matches_the_realised_residual_theory():
    p = dict(D=50, lr=0.2, S=32, sigma2=1.0, data_seed=0, runs=4, steps=3000, burn_in=1000)
    sim = _rows(mn.highdim, {**p, "alpha": 2.5})
    theory = _rows(mn.highdim_theory, {**p, "alpha": 2.5, "form": "realised"})
    assert sim["trace"] == pytest.approx(theory["trace"], rel=0.10)
    over = _rows(mn.highdim, {**p, "alpha": 0.5})
    assert over["trace"] < 1e-8 and over["residual_var"] < 1e-20
    assert _rows(mn.highdim_theory, {**p, "alpha": 0.5, "form": "thm6"})["trace"] == 0.0


def test_table2_rows():
    p = dict(A=[1.0, 0.5], B=0.2, gamma=0.3, u=[1.0, 0.0], sigma2=1.0, lr=0.8, S=8, runs=500, steps=600)
    ctx = RunContext(seed=0)
    for theory in ("continuous", "discrete", "exact"):
        rows = list(mn.table2_theory({**p, "theory": theory}, ctx))
        assert len(rows) == 12 and {r["noise"] for r in rows} == {"label", "input", "l2"}
    sim = {(r["noise"], r["metric"]): r["value"] for r in mn.table2_sim(p, ctx)}
    exact = {(r["noise"], r["metric"]): r["value"] for r in mn.table2_theory({**p, "theory": "exact"}, ctx)}
    for key, v in exact.items():
        assert sim[key] == pytest.approx(v, rel=0.15), key


# ---------------------------------------------------------------------------------------------- fig=1


def test_two_layer_tanh_default_init_bounds():
    from repro.nn.two_layer import softmax_regression, two_layer_tanh

    net = two_layer_tanh(784, 64, 10, generator=_gen())
    assert net[0].weight.abs().max() <= 1 / 28 and net[2].weight.abs().max() <= 1 / 8
    assert net[0].weight.abs().max() > 0.9 / 28
    torch.testing.assert_close(two_layer_tanh(784, 64, 10, generator=_gen())[0].weight, net[0].weight)
    assert isinstance(net[1], torch.nn.Tanh)
    assert float(softmax_regression(784, 10).weight.detach().abs().sum()) == 0.0


def test_fig1_runs_through_the_real_loader(tmp_path):
    from repro.data.fixtures import write_mnist

    write_mnist(tmp_path, n_train=320, n_test=64, seed=1)
    base = dict(dataset="mnist", S=32, optimizer="sgd", lr=0.5, width=32, max_steps=6)
    rows = list(mn.width_stability({**base, "lr_rule": "per_width"}, RunContext(seed=0, data_dir=str(tmp_path))))
    r = {x["metric"]: x for x in rows}
    assert r["var_loss"]["data"] == "real" and r["steps"]["value"] == 6
    assert math.isfinite(r["var_loss"]["value"]) and r["lr_used"]["value"] == pytest.approx(0.5 / 32)
    big = {x["metric"]: x["value"] for x in mn.width_stability(
        {**base, "lr": 50.0, "lr_rule": "fixed", "max_steps": 200}, RunContext(seed=0, data_dir=str(tmp_path)))}
    assert big["var_loss"] >= 0
    wd = {x["metric"]: x["value"] for x in mn.weight_decay_mnist(
        dict(dataset="mnist", S=32, lr=1.5, epochs=1, gamma=-0.01), RunContext(seed=0, data_dir=str(tmp_path)))}
    assert 0 <= wd["test_acc"] <= 100 and wd["steps"] == 10


def test_fig1_fixture_dataset_is_labelled_synthetic():
    rows = list(mn.width_stability(dict(dataset="mnist_fixture", n_train=128, n_test=32, S=32, optimizer="adam",
                                        lr=0.01, lr_rule="fixed", width=16), RunContext(seed=0)))
    assert {r["data"] for r in rows} == {"synthetic"}
    with pytest.raises(ValueError):
        list(mn.width_stability(dict(dataset="cifar", S=32, optimizer="sgd", lr=0.5, lr_rule="fixed", width=16),
                                RunContext(seed=0)))
