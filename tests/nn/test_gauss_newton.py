"""The Gauss–Newton Hessian (repro/nn/gauss_newton.py) on models whose Gauss–Newton matrix is known in closed form,
its two eigenvalue routes against each other, and the participation ratio / critical learning rate
(repro/theory/escape.py)."""
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from repro.nn import escape_nets as nets
from repro.nn import gauss_newton as gn
from repro.theory import escape as theory


def _linear_model(d, bias, seed=0):
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Linear(d, 1, bias=bias)).double()
    with torch.no_grad():
        m[0].weight.normal_()
        if bias:
            m[0].bias.normal_()
    return m


@pytest.mark.parametrize("bias", [False, True])
def test_linear_regression_gauss_newton_is_XtX_over_N(bias):
    g = torch.Generator().manual_seed(1)
    X = torch.randn(57, 4, generator=g, dtype=torch.float64) * torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
    model = _linear_model(4, bias)
    Xa = torch.cat([X, torch.ones(57, 1, dtype=torch.float64)], 1) if bias else X   # f = wᵀx + b: J = [X, 1]
    expected = Xa.T @ Xa / len(X)
    H = gn.gauss_newton_matrix(model, X, chunk=10)         # chunks must not matter
    torch.testing.assert_close(H, expected, rtol=1e-12, atol=1e-12)
    ev = gn.gauss_newton_eigenvalues(model, X)
    torch.testing.assert_close(ev, torch.linalg.eigvalsh(expected), rtol=1e-10, atol=1e-12)


def test_jacobian_matches_torch_func_and_both_eigenvalue_routes_agree():
    net = nets.glorot_mlp([6, 5, 4, 1], generator=torch.Generator().manual_seed(2)).double()
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.bias.uniform_(-0.3, 0.3)
    params = {k: v.detach() for k, v in net.named_parameters()}

    def f(p, xi):
        return functional_call(net, p, (xi.unsqueeze(0),))[0, 0]

    for N in (9, 80):   # N < P = 64 (Gram route) and N > P (P x P route)
        x = torch.randn(N, 6, generator=torch.Generator().manual_seed(N), dtype=torch.float64)
        Jd = vmap(jacrev(f), in_dims=(None, 0))(params, x)
        J = torch.cat([Jd[k].reshape(N, -1) for k in params], 1)
        torch.testing.assert_close(gn.mlp_jacobian(net, x), J, rtol=1e-10, atol=1e-12)
        ev = gn.gauss_newton_eigenvalues(net, x, chunk=7)
        assert len(ev) == 64
        torch.testing.assert_close(ev, torch.linalg.eigvalsh(J.T @ J / N), rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError):
        gn.mlp_jacobian(nets.glorot_mlp([6, 3, 2]), torch.randn(3, 6))


def test_participation_ratio_and_critical_learning_rate():
    assert theory.participation_ratio([3.0] * 7 + [0.0] * 100) == pytest.approx(7.0)
    assert theory.participation_ratio([5.0, 0.0, -1e-12]) == pytest.approx(1.0)
    # two outliers of ratio 1:3: p = (1/4, 3/4), n = 1/(1/16 + 9/16) = 1.6
    assert theory.participation_ratio([1.0, 3.0]) == pytest.approx(1.6)
    assert math.isnan(theory.participation_ratio([0.0, 0.0]))
    # the camera-ready's numbers: eta_c = 2B/((n - 2) h_max) = 0.104 and 0.033 at B = 8
    assert theory.critical_learning_rate(8, 8.54, 20.1) == pytest.approx(0.1035, abs=5e-4)
    assert theory.critical_learning_rate(8, 18.4, 28.1) == pytest.approx(0.0333, abs=5e-4)
    # at eta_c the exponent of c in the escape rate vanishes
    eta_c = float(theory.critical_learning_rate(8, 8.54, 20.1))
    assert theory.first_passage_slope(8, eta_c, 8.54, 20.1) == pytest.approx(0.0, abs=1e-12)
    assert np.isinf(theory.critical_learning_rate(8, 1.0, 2.0))


def test_double_well_points_are_the_stationary_points():
    pts = theory.double_well_points(loss_star=0.3, barrier=2.0)
    t = np.linspace(-0.5, 2.5, 3001)
    L = theory.double_well_loss(t, 0.3, 2.0)
    dL = np.gradient(L, t)
    assert L[np.argmin(np.abs(t - pts["theta_star"]))] == pytest.approx(pts["loss_star"])
    assert theory.double_well_loss(pts["theta_saddle"], 0.3, 2.0) == pytest.approx(pts["loss_saddle"])
    inner = (t > -0.2) & (t < 1.8)
    assert t[inner][np.argmax(L[inner])] == pytest.approx(pts["theta_saddle"], abs=1e-3)
    d2 = np.gradient(dL, t)
    assert d2[np.argmin(np.abs(t))] == pytest.approx(pts["h_star"], rel=1e-3)
    assert d2[np.argmin(np.abs(t - 1))] == pytest.approx(pts["h_saddle"], rel=1e-3)
