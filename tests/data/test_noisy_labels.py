"""repro.data.noisy_labels against the catalogs (gambler.md "Noise models", label_smoothing.md "Setting",
volumization.md "Shared experimental protocol"): realised vs nominal transition matrices (a binomial z-test that a
wrong matrix fails), exact corrupted counts, and the same corruption under every training seed."""
import numpy as np
import pytest
import torch

from repro.data.noisy_labels import (
    flip_exact,
    multiclass_noisify,
    noisify,
    realised_transition,
    replace_uniform,
    transition_matrix,
)

K, N = 10, 60000
Z_MAX = 4.5   # per entry; with 100 entries, a correct sampler exceeds it with probability < 1e-3


def balanced_labels(n=N, k=K, seed=1):
    return np.random.RandomState(seed).permutation(np.arange(n) % k)


def max_z(clean, noisy, P):
    """Largest |T_ij - P_ij| / SE_ij, SE_ij = sqrt(P_ij (1 - P_ij) / n_i) the binomial standard error of a row's
    fraction; entries with P_ij in {0, 1} must match exactly (z = inf otherwise)."""
    T, n = realised_transition(clean, noisy, len(P))
    se = np.sqrt(P * (1 - P) / n[:, None])
    dev = np.abs(T - P)
    z = np.where(se > 0, dev / np.where(se > 0, se, 1), np.where(dev > 0, np.inf, 0.0))
    return float(z.max())


@pytest.mark.parametrize("noise_type,rate", [("symmetric", 0.2), ("symmetric", 0.5), ("symmetric", 0.8),
                                             ("symmetric", 0.85), ("pairflip", 0.45)])
def test_realised_matrix_matches_nominal(noise_type, rate):
    y = balanced_labels()
    out = noisify(y, noise_type, rate, K)
    P = transition_matrix(noise_type, rate, K)
    assert max_z(y, out.labels, P) < Z_MAX
    # overall rate: binomial SE sqrt(r (1 - r) / N)
    assert abs(out.rate - rate) < Z_MAX * np.sqrt(rate * (1 - rate) / N)


@pytest.mark.parametrize("noise_type,rate,wrong", [("symmetric", 0.5, 0.47), ("symmetric", 0.2, 0.18),
                                                   ("pairflip", 0.45, 0.42)])
def test_the_check_rejects_a_wrong_matrix(noise_type, rate, wrong):
    """The z-test has power: realised noise at `rate` fails against the nominal matrix of a nearby rate, and
    pairflip fails against symmetric."""
    y = balanced_labels()
    out = noisify(y, noise_type, rate, K)
    assert max_z(y, out.labels, transition_matrix(noise_type, wrong, K)) > Z_MAX
    other = "symmetric" if noise_type == "pairflip" else "pairflip"
    assert max_z(y, out.labels, transition_matrix(other, rate, K)) > Z_MAX


def test_nominal_matrices():
    P = transition_matrix("symmetric", 0.5, 10)
    assert np.allclose(P.sum(1), 1) and np.allclose(np.diag(P), 0.5) and np.isclose(P[0, 1], 0.5 / 9)
    Q = transition_matrix("pairflip", 0.45, 10)
    assert np.isclose(Q[9, 0], 0.45) and np.isclose(Q[3, 4], 0.45) and np.isclose(Q[3, 3], 0.55)
    assert np.count_nonzero(Q) == 20
    B = transition_matrix("symmetric", 0.3, 2)      # binary symmetric = flip with probability r
    assert np.allclose(B, [[0.7, 0.3], [0.3, 0.7]])
    with pytest.raises(ValueError):
        transition_matrix("asymmetric", 0.2, 10)


def test_coteaching_draws():
    """The corruption is Co-teaching's: one RandomState(0), one multinomial trial per sample in index order."""
    y = balanced_labels(3000)
    P = transition_matrix("symmetric", 0.5, K)
    flipper = np.random.RandomState(0)
    reference = [int(np.flatnonzero(flipper.multinomial(1, P[label]))[0]) for label in y]
    assert multiclass_noisify(y, P).tolist() == reference
    assert noisify(y, "symmetric", 0.5, K).labels.tolist() == reference
    assert noisify(y.reshape(-1, 1), "symmetric", 0.5, K).labels.tolist() == reference   # Co-teaching's [N, 1]


def test_same_corruption_under_every_training_seed():
    y = balanced_labels(5000)
    runs = []
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        np.random.seed(seed)
        runs.append(noisify(torch.as_tensor(y), "symmetric", 0.5, K).labels)
    assert all(torch.equal(runs[0], r) for r in runs[1:])
    other = noisify(y, "symmetric", 0.5, K, random_state=1).labels   # the noise_seed option does change it
    assert not torch.equal(runs[0], other)
    # the same fixed flip for the binary exact-count noise when the experiment passes a fixed noise seed
    b = y % 2
    assert torch.equal(flip_exact(b, 0.3, 0).labels, flip_exact(b, 0.3, 0).labels)
    assert not torch.equal(flip_exact(b, 0.3, 0).labels, flip_exact(b, 0.3, 1).labels)


def test_clean_mask_and_types():
    y = torch.as_tensor(balanced_labels(2000), dtype=torch.int32)
    out = noisify(y, "symmetric", 0.65, K)
    assert out.labels.dtype == torch.int64 and out.clean.dtype == torch.bool and out.labels.shape == (2000,)
    assert torch.equal(out.clean, out.labels == y.long())
    assert torch.equal(out.corrupted, ~out.clean)
    assert out.rate == pytest.approx(1 - out.clean.float().mean().item())
    zero = noisify(y, "pairflip", 0.0, K)
    assert torch.equal(zero.labels, y.long()) and bool(zero.clean.all()) and zero.rate == 0.0


@pytest.mark.parametrize("n", [25000, 17500, 1201])
@pytest.mark.parametrize("rate", [0.1, 0.2, 0.3, 0.4])
def test_binary_flip_exact_count(n, rate):
    y = balanced_labels(n, 2)
    out = flip_exact(y, rate, np.random.default_rng(5))
    assert int(out.corrupted.sum()) == int(n * rate)          # exactly int(N*r), as coded
    assert torch.equal(out.labels[out.corrupted], 1 - torch.as_tensor(y)[out.corrupted.numpy()])
    assert torch.equal(out.labels[out.clean], torch.as_tensor(y)[out.clean.numpy()])
    assert flip_exact(y, rate, torch.Generator().manual_seed(3)).rate == pytest.approx(int(n * rate) / n)
    with pytest.raises(ValueError):
        flip_exact(np.arange(4), 0.1)


@pytest.mark.parametrize("rate", [0.4, 0.8])
def test_volumization_replacement(rate):
    """Replace w.p. r K/(K-1) by a uniform class: the realised matrix is the symmetric one at rate r."""
    y = balanced_labels()
    out = replace_uniform(y, rate, K, 7)
    assert max_z(y, out.labels, transition_matrix("symmetric", rate, K)) < Z_MAX
    assert max_z(y, out.labels, transition_matrix("symmetric", rate * 0.95, K)) > Z_MAX
    with pytest.raises(ValueError):
        replace_uniform(y, 0.95, K)
