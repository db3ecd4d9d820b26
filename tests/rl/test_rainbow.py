"""The Rainbow agent's pieces against direct computations: the C51 projection (brute force, mass, double-Q action
choice), the factorised noisy layer, the KL loss, the schedules."""
import math

import numpy as np
import pytest
import torch

from repro.rl.rainbow import (CategoricalDQN, NoisyLinear, RainbowArgs, beta_at, epsilon_at, projected_target)


def _brute_projection(p, r, done, args):
    z = np.linspace(args.v_min, args.v_max, args.num_atoms)
    dz = z[1] - z[0]
    m = np.zeros(args.num_atoms)
    for j in range(args.num_atoms):
        tz = min(max(r + (0 if done else args.gamma * z[j]), args.v_min), args.v_max)
        b = (tz - args.v_min) / dz
        lo = math.floor(b)
        if lo == b:
            m[lo] += p[j]
        else:
            m[lo] += p[j] * (lo + 1 - b)
            m[lo + 1] += p[j] * (b - lo)
    return m


@pytest.mark.parametrize("double", [True, False])
def test_projection_matches_brute_force_and_uses_the_right_action(double):
    torch.manual_seed(0)
    args = RainbowArgs(double=double)
    online, target = CategoricalDQN(4, 3, args), CategoricalDQN(4, 3, args)
    g = torch.Generator().manual_seed(1)
    online.sample_noise(g)
    target.sample_noise(g)
    s2 = torch.randint(0, 256, (5, 4, 84, 84), dtype=torch.uint8)
    r = torch.tensor([0.0, 1.0, -1.0, 1.0, 0.0])
    d = torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0])
    m = projected_target(online, target, s2, r, d, args).numpy()
    np.testing.assert_allclose(m.sum(1), 1.0, rtol=1e-5)
    with torch.no_grad():
        chooser = online if double else target
        a = chooser.q_values(s2).argmax(1)
        p = target(s2).exp()[torch.arange(5), a].double().numpy()
    for k in range(5):
        np.testing.assert_allclose(m[k], _brute_projection(p[k], float(r[k]), bool(d[k]), args), atol=1e-6)
    if double:   # the choice matters: the online net's argmax is not the target net's for this init
        assert (online.q_values(s2).argmax(1) != target.q_values(s2).argmax(1)).any()


def test_noisy_linear_equals_the_explicit_noisy_weight():
    torch.manual_seed(0)
    layer = NoisyLinear(7, 5, 0.5)
    layer.sample_noise(torch.Generator().manual_seed(3))
    x = torch.randn(4, 7)
    f = lambda v: v.sign() * v.abs().sqrt()  # noqa: E731
    g = torch.Generator().manual_seed(3)
    eps_in, eps_out = f(torch.randn(7, generator=g)), f(torch.randn(5, generator=g))
    w = layer.weight_mu + layer.weight_sigma * torch.outer(eps_out, eps_in)
    b = layer.bias_mu + layer.bias_sigma * eps_out
    torch.testing.assert_close(layer(x), x @ w.T + b, rtol=1e-5, atol=1e-6)
    assert layer.weight_sigma[0, 0].item() == pytest.approx(0.5 / math.sqrt(7))
    before = layer(x)
    layer.sample_noise(torch.Generator().manual_seed(4))
    assert not torch.allclose(before, layer(x))


def test_schedules_are_the_catalogs():
    a = RainbowArgs()
    assert epsilon_at(0, a) == pytest.approx(1.0)
    assert epsilon_at(30_000, a) == pytest.approx(0.005 + 0.995 / math.e)
    assert epsilon_at(10_000_000, a) == pytest.approx(0.005)
    assert beta_at(0, a) == pytest.approx(0.4) and beta_at(50_000, a) == pytest.approx(0.7)
    assert beta_at(100_000, a) == 1.0 and beta_at(10**7, a) == 1.0
    assert (a.num_atoms, a.v_min, a.v_max, a.sigma_init, a.gamma, a.batch_size, a.lr) == \
        (51, -10, 10, 0.5, 0.99, 32, 6.25e-5)
    assert (a.train_freq, a.target_update, a.learning_starts, a.buffer_size, a.alpha) == \
        (4, 10_000, 80_000, 500_000, 0.5)
    assert (a.optimizer_eps, a.beta1, a.beta2, a.double, a.eps_final, a.eps_decay) == \
        (1.5e-4, 0.9, 0.999, True, 0.005, 30_000)
    assert (a.eval_every, a.eval_games, a.eval_life_steps, a.max_episode_steps) == (200_000, 20, 5_000, 9_950)


def test_network_outputs_log_distributions_over_the_support():
    args = RainbowArgs()
    net = CategoricalDQN(4, 4, args)
    out = net(torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8))
    assert out.shape == (2, 4, 51)
    torch.testing.assert_close(out.exp().sum(2), torch.ones(2, 4))
    assert sum(p.numel() for p in net.features.parameters()) == 32 * 4 * 64 + 32 + 64 * 32 * 16 + 64 + 64 * 64 * 9 + 64
