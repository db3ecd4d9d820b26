"""First-passage simulator of escape_rate fig=3b (repro/sim/first_passage.py) against a plain per-chain loop that
draws the same minibatches, and its statistics against the stationary chains of repro/sim/linear.py."""
import numpy as np
import pytest
import torch

from repro.sim.first_passage import first_passage_regression


def _data(N, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(N, d, generator=g, dtype=torch.float64), torch.randn(N, generator=g, dtype=torch.float64)


def _reference(X, y, B, lr, levels, runs, seed, max_steps, block):
    """Per chain, per step, float64; the same generator calls as the simulator (one randint per block over the
    chains still running)."""
    Xn, yn = X.numpy(), y.numpy()
    N, d = Xn.shape
    theta = np.linalg.lstsq(Xn, yn, rcond=None)[0]
    rho = yn - Xn @ theta
    L0 = 0.5 * np.mean(rho**2)
    H = Xn.T @ Xn / N
    g = torch.Generator().manual_seed(seed)
    steps = -np.ones((runs, len(levels)), dtype=np.int64)
    alive = list(range(runs))
    delta = np.zeros((runs, d))
    done = 0
    while done < max_steps and alive:
        K = min(block, max_steps - done)
        idx = torch.randint(N, (K, len(alive), B), generator=g).numpy()
        for j, chain in enumerate(alive):
            dl = delta[chain].copy()
            for k in range(K):
                xb, rb = Xn[idx[k, j]], rho[idx[k, j]]
                dl = dl - lr * (xb.T @ (xb @ dl - rb)) / B
                excess = 0.5 * dl @ H @ dl
                for m, c in enumerate(levels):
                    if steps[chain, m] < 0 and excess > (c - 1) * L0:
                        steps[chain, m] = done + k + 1
            delta[chain] = dl
        done += K
        alive = [c for c in alive if steps[c, -1] < 0]
    return steps


@pytest.mark.parametrize("d,B,block", [(1, 1, 64), (1, 3, 1000), (2, 1, 50), (3, 2, 37)])
def test_first_passage_matches_a_plain_loop(d, B, block):
    X, y = _data(300, d)
    levels, runs, lr, max_steps = [1.05, 1.2, 1.5], 12, 0.3, 400
    fp = first_passage_regression(X, y, B, lr, levels, runs, generator=torch.Generator().manual_seed(7),
                                  max_steps=max_steps, block=block, dtype=torch.float64)
    ref = _reference(X, y, B, lr, levels, runs, 7, max_steps, block)
    np.testing.assert_array_equal(fp.steps.numpy(), ref)
    assert (ref > 0).any() and (ref < 0).any() or (ref > 0).all()
    # levels are crossed in order, and the times and censoring follow the steps
    s = np.where(ref < 0, max_steps + 1, ref)
    assert (np.diff(s, axis=1) >= 0).all()
    np.testing.assert_array_equal(fp.censored().numpy(), (ref < 0).sum(0))
    np.testing.assert_allclose(fp.times(lr).numpy(), np.where(ref > 0, ref, max_steps) * lr)


def test_censoring_and_level_checks():
    X, y = _data(200, 1)
    fp = first_passage_regression(X, y, 1, 0.01, [1.5, 3.0], 8, generator=torch.Generator().manual_seed(0),
                                  max_steps=5)
    assert (fp.steps == -1).all() and fp.censored().tolist() == [8, 8]
    with pytest.raises(ValueError):
        first_passage_regression(X, y, 1, 0.1, [1.5, 1.2], 4, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError):
        first_passage_regression(X, y, 1, 0.1, [1.0, 1.2], 4, generator=torch.Generator().manual_seed(0))


def test_block_size_does_not_change_the_law():
    """Different block sizes draw different minibatches, but the first-passage law is the same."""
    X, y = _data(2000, 1, seed=1)
    means = []
    for block in (50, 4096):
        fp = first_passage_regression(X, y, 1, 0.1, [1.2, 1.4], 2000, generator=torch.Generator().manual_seed(block),
                                      max_steps=10**6, block=block)
        T = fp.times(0.1)
        means.append((T.mean(0), T.std(0) / len(T) ** 0.5))
    (m1, s1), (m2, s2) = means
    assert (torch.abs(m1 - m2) < 4 * torch.sqrt(s1**2 + s2**2)).all()


def test_sde_control_matches_a_plain_euler_maruyama_loop():
    X, y = _data(500, 2, seed=2)
    levels, runs, lr, B, max_steps, block = [1.1, 1.3], 6, 0.2, 2, 300, 40
    fp = first_passage_regression(X, y, B, lr, levels, runs, generator=torch.Generator().manual_seed(3),
                                  max_steps=max_steps, block=block, noise="sde", dtype=torch.float64)
    Xn, yn = X.numpy(), y.numpy()
    theta = np.linalg.lstsq(Xn, yn, rcond=None)[0]
    L0 = 0.5 * np.mean((yn - Xn @ theta) ** 2)
    H = Xn.T @ Xn / len(Xn)
    ev, V = np.linalg.eigh(H)
    H_half = (V * np.sqrt(ev)) @ V.T
    g = torch.Generator().manual_seed(3)
    steps = -np.ones((runs, len(levels)), dtype=np.int64)
    alive, delta, done = list(range(runs)), np.zeros((runs, 2)), 0
    while done < max_steps and alive:
        K = min(block, max_steps - done)
        xi = torch.randn(K, len(alive), 2, generator=g, dtype=torch.float64).numpy() @ H_half
        for j, chain in enumerate(alive):
            dl = delta[chain].copy()
            for k in range(K):
                L = L0 + 0.5 * dl @ H @ dl
                dl = dl - lr * H @ dl + lr * np.sqrt(2 * L / B) * xi[k, j]
                for m, c in enumerate(levels):
                    if steps[chain, m] < 0 and 0.5 * dl @ H @ dl > (c - 1) * L0:
                        steps[chain, m] = done + k + 1
            delta[chain] = dl
        done += K
        alive = [c for c in alive if steps[c, -1] < 0]
    np.testing.assert_array_equal(fp.steps.numpy(), steps)
    assert (steps > 0).any()
    with pytest.raises(ValueError):
        first_passage_regression(X, y, 1, 0.1, [1.5], 2, generator=torch.Generator(), noise="levy")
