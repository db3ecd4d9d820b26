"""escape_rate's network helpers (repro/nn/escape_nets.py) against explicit per-sample Jacobians and gradients, and
the summary rows of the experiments (repro/experiments/escape_rate.py)."""
import math

import numpy as np
import pytest
import torch
from torch.func import functional_call, jacrev, vmap

from repro.experiments import escape_rate as er
from repro.experiments import registry
from repro.nn import escape_nets as nets


def _params(model):
    return {k: v.detach() for k, v in model.named_parameters()}


def _explicit_jacobian(model, x):
    """[N, P] Jacobian of the scalar output, from torch.func.jacrev per sample."""
    params = _params(model)

    def f(p, xi):
        return functional_call(model, p, (xi.unsqueeze(0),))[0, 0]

    J = vmap(jacrev(f), in_dims=(None, 0))(params, x)
    return torch.cat([J[k].reshape(len(x), -1) for k in params], 1).double()


def _explicit_grads(model, loss, x, y):
    """[N, P] per-sample gradients by a python loop of autograd calls."""
    ell = nets.per_sample_loss(loss)
    rows = []
    for i in range(len(x)):
        model.zero_grad()
        ell(model(x[i:i + 1]), y[i:i + 1]).sum().backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]).double())
    return torch.stack(rows)


def test_glorot_mlp_size_and_init():
    net = nets.glorot_mlp([784, 100, 100, 1], generator=torch.Generator().manual_seed(0))
    assert nets.n_params(net) == 88_701    # the catalog's P
    w = net[0].weight.detach()
    bound = math.sqrt(6 / (784 + 100))
    assert w.abs().max() <= bound and w.abs().max() > 0.95 * bound and w.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert (net[0].bias == 0).all()
    same = nets.glorot_mlp([784, 100, 100, 1], generator=torch.Generator().manual_seed(0))
    assert torch.equal(same[2].weight, net[2].weight)


def test_keskar_cnn_shape_and_glorot_conv():
    net = nets.keskar_cnn(generator=torch.Generator().manual_seed(0))
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    convs = [m for m in net if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64] * 3 + [128] * 3 + [256] * 3
    expected = sum(ci * co * 9 + co for ci, co in zip([3, 64, 64, 64, 128, 128, 128, 256, 256],
                                                      [64, 64, 64, 128, 128, 128, 256, 256, 256])) + 256 * 16 * 10 + 10
    assert nets.n_params(net) == expected
    bound = math.sqrt(6 / (64 * 9 + 64 * 9))
    assert convs[1].weight.abs().max() <= bound and convs[1].weight.abs().max() > 0.95 * bound


def test_mlp_gram_matches_the_explicit_jacobian_and_the_spectra_match_the_PxP_matrices():
    torch.manual_seed(0)
    net = nets.glorot_mlp([6, 5, 4, 1], generator=torch.Generator().manual_seed(1)).double()
    x = torch.randn(9, 6, dtype=torch.float64)
    f, K = nets.mlp_gram(net, x, chunk=4)        # chunks must not matter
    J = _explicit_jacobian(net, x)
    torch.testing.assert_close(K, J @ J.T, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(f, net(x)[:, 0].detach())
    y = torch.randn(9, dtype=torch.float64)
    losses = 0.5 * (f - y) ** 2
    exact, dec = nets.decoupling_spectra(K, losses)
    N = len(x)
    M_exact = J.T @ torch.diag(losses) @ J / N
    M_dec = losses.mean() * J.T @ J / N
    for small, big in ((exact, M_exact), (dec, M_dec)):
        ev = torch.linalg.eigvalsh(big)
        top = ev.flip(0)[:N]
        torch.testing.assert_close(small.flip(0), top, rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError):
        nets.mlp_gram(nets.glorot_mlp([6, 3, 2]), x.float())


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_noise_strength_dense_and_vmap_match_explicit_per_sample_gradients(loss):
    torch.manual_seed(0)
    net = nets.glorot_mlp([7, 6, 5, 4], generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        for m in net:
            if isinstance(m, torch.nn.Linear):
                m.bias.uniform_(-0.3, 0.3)      # nonzero biases exercise the bias terms
    x, y = torch.randn(13, 7), torch.randint(0, 4, (13,))
    G = _explicit_grads(net, loss, x, y)
    expected_noise = float((G * G).sum(1).mean() - G.mean(0).pow(2).sum())
    with torch.no_grad():
        expected_loss = float(nets.per_sample_loss(loss)(net(x), y).mean())
    for fn, chunk in ((nets.noise_strength_dense, 5), (nets.noise_strength_vmap, 4)):
        m = fn(net, loss, x, y, chunk=chunk)
        assert m["noise"] == pytest.approx(expected_noise, rel=1e-5)
        assert m["loss"] == pytest.approx(expected_loss, rel=1e-6)
        assert m["mean_sq_grad"] == pytest.approx(float((G * G).sum(1).mean()), rel=1e-5)


def test_noise_strength_vmap_on_a_cnn():
    net = nets.keskar_cnn((3, 4), convs_per_block=2, in_channels=3, image_size=8, generator=torch.Generator().manual_seed(0))
    x, y = torch.randn(6, 3, 8, 8), torch.randint(0, 10, (6,))
    G = _explicit_grads(net, "mse", x, y)
    m = nets.noise_strength_vmap(net, "mse", x, y, chunk=4)
    assert m["noise"] == pytest.approx(float((G * G).sum(1).mean() - G.mean(0).pow(2).sum()), rel=1e-5)
    with pytest.raises(ValueError):
        nets.noise_strength_dense(net, "mse", x, y)
    with pytest.raises(ValueError):
        nets.per_sample_loss("hinge")


def test_mse_noise_strength_is_twice_the_loss_weighted_jacobian_norm_for_a_scalar_output():
    """For a scalar MSE output, |grad l_mu|^2 = 2 l_mu |grad f_mu|^2 exactly: the paper's route to N ~ L."""
    net = nets.glorot_mlp([5, 4, 1], generator=torch.Generator().manual_seed(3)).double()
    x, t = torch.randn(8, 5, dtype=torch.float64), torch.randn(8, dtype=torch.float64)
    J = _explicit_jacobian(net, x)
    f = net(x)[:, 0].detach()
    ell = 0.5 * (f - t) ** 2
    G = (f - t)[:, None] * J
    torch.testing.assert_close((G * G).sum(1), 2 * ell * (J * J).sum(1))


def test_fit_rows_recover_a_power_law():
    epochs = np.arange(0, 61)
    L = 2.0 * np.exp(-epochs / 15.0)
    p = {"tail_epochs": 30, "early_epochs": 5}
    rows = {r["metric"]: r["value"] for r in er._fit_rows(epochs, L, 3.0 * L**1.5, p)}
    assert rows["slope_second_half"] == pytest.approx(1.5) and rows["slope_tail"] == pytest.approx(1.5)
    assert rows["pearson_second_half"] == pytest.approx(1.0)
    assert rows["ratio_change_early"] == pytest.approx((L[0] / L[5]) ** 0.5)
    assert rows["loss_range_tail"] == pytest.approx(L[31] / L[60])


def test_every_escape_rate_experiment_is_registered():
    for name in ("phi_vs_batch", "phi_theory", "first_passage", "first_passage_theory", "decoupling_spectrum",
                 "noise_vs_loss", "escape_schematic", "nn_first_passage", "hessian_spectrum", "minima_stability"):
        assert registry.get(f"escape_rate.{name}").experiment_name == f"escape_rate.{name}"


def test_escape_rate_plots_leave_empty_axes_when_every_run_failed():
    """A figure whose runs all failed (e.g. no MNIST at full scale) collects an empty CSV: its custom axes stay
    empty instead of raising (the failure itself was reported in one line per error)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from repro.plotting import escape_rate as pe  # noqa: F401  (registers the axes)
    from repro.plotting.registry import get as get_plot

    empty = pd.DataFrame(columns=["paper", "fig", "panel", "series", "kind", "metric", "value", "step"])
    for name in ("phi_vs_batch", "stationary_density", "first_passage", "spectra", "loss_and_noise",
                 "noise_against_loss", "schematic", "nn_first_passage", "eig_histogram", "loss_vs_lr"):
        fig, ax = plt.subplots()
        get_plot(f"escape_rate.{name}")(ax, empty, {"lr": 1.0, "checkpoint": 0, "series_name": "fc"})
        plt.close(fig)
