"""Label noise shared by the label-noise papers: gambler (Ziyin et al., "Learning Not to Learn in the Presence of Noisy
Labels", arXiv 2002.06541), label_smoothing and volumization (catalogs ../shared/catalog/<paper>.md, "Noise models" /
"Setting" / "Shared experimental protocol").

Every function takes the clean labels (a numpy array or a torch tensor, any integer dtype, shape [N] or [N, 1]) and
returns `NoisyLabels(labels, clean, rate)`: the corrupted labels (int64 tensor [N] on the input's device, CPU for numpy
input), the clean mask (bool [N]; True where the label was left equal to the truth, the authors' `noise_or_not`) and
the realised noise rate (fraction of changed labels). Every figure can therefore report clean and corrupted points
apart.

Models:
- `noisify(labels, "symmetric" | "pairflip", rate, num_classes, random_state=0)`: the Co-teaching `noisify`
  convention used by gambler's MNIST/CIFAR-10 code and by label_smoothing. The nominal transition matrix P
  (`transition_matrix`) has rows summing to 1:
    symmetric: P[i, i] = 1 - r, P[i, j] = r/(K-1) for j != i   (clean rate a = 1 - r);
    pairflip:  P[i, i] = 1 - r, P[i, (i+1) mod K] = r.
  One `numpy.random.RandomState(random_state)` draws, for every sample in index order, one multinomial trial from the
  row of its clean label (`multiclass_noisify`), so the corruption is a fixed function of (labels, P, random_state):
  the same for every training seed. The catalogs' default random_state = 0 is the authors' (their `noisify` hard-codes
  it); pass another value for the catalogs' `noise_seed` option. rate = 0 returns the labels unchanged (no draws).
- `flip_exact(labels, rate, generator)`: gambler's binary IMDB noise (and volumization's IMDB noise): exactly
  int(N*r) samples, chosen uniformly without replacement, get the other label (1 - y).
- `replace_uniform(labels, rate, num_classes, generator)`: volumization's MNIST/CIFAR noise: each label is replaced
  with probability r*K/(K-1) by a uniform draw from all K classes (a draw may return the clean label), so a fraction
  r ends up wrong and the nominal matrix is the symmetric one.
- `realised_transition(clean, noisy, num_classes)`: the empirical transition matrix, row i = distribution of the
  noisy label among samples of clean class i.

Deviations from the authors' code (all by choice, documented in the catalogs):
- Co-teaching's `noisify_*` assert that the realised rate is > 0 and print the matrix; here rate > 0 with no
  change (possible only for tiny N) is allowed and nothing is printed.
- IMDB: the authors draw the flipped set with unseeded Python `random.sample`, so the corruption differs per run and
  cannot be reproduced. Here it is drawn from the `generator` passed in (the experiments pass a fixed noise seed, so
  every training seed sees the same flip, as for the images; pass the run's stream to restore per-run noise). The
  count int(N*r) is the authors' (Python truncation of the float product, as coded).
- Volumization: the authors' replacement uses unseeded numpy; here the `generator` (numpy Generator or int seed).
- Labels come back as torch int64 [N] (the authors keep numpy arrays, [N, 1] in Co-teaching's datasets).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

NOISE_TYPES = ("symmetric", "pairflip")


@dataclass(frozen=True)
class NoisyLabels:
    """Corrupted labels, the clean mask (the authors' `noise_or_not`) and the realised noise rate."""
    labels: torch.Tensor      # int64 [N]
    clean: torch.Tensor       # bool [N], True where labels == the clean label
    rate: float               # fraction of corrupted labels, 1 - clean.mean()

    @property
    def corrupted(self) -> torch.Tensor:
        return ~self.clean


def _as_numpy(labels) -> tuple[np.ndarray, torch.device]:
    if isinstance(labels, torch.Tensor):
        return labels.detach().cpu().numpy().reshape(-1).astype(np.int64), labels.device
    return np.asarray(labels).reshape(-1).astype(np.int64), torch.device("cpu")


def _result(y: np.ndarray, noisy: np.ndarray, device) -> NoisyLabels:
    clean = noisy == y
    rate = float(1.0 - clean.mean()) if len(y) else 0.0
    return NoisyLabels(torch.as_tensor(noisy, dtype=torch.int64, device=device),
                       torch.as_tensor(clean, dtype=torch.bool, device=device), rate)


def _numpy_generator(generator) -> np.random.Generator:
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, torch.Generator):    # derive a numpy stream from a torch stream (one draw)
        return np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator,
                                                      device=generator.device)))
    return np.random.default_rng(generator)


def transition_matrix(noise_type: str, rate: float, num_classes: int) -> np.ndarray:
    """The nominal [K, K] matrix P[clean, noisy] of Co-teaching's symmetric or pairflip noise (module docstring)."""
    if noise_type not in NOISE_TYPES:
        raise ValueError(f"noise_type must be one of {NOISE_TYPES}, got {noise_type!r}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate}")
    K = int(num_classes)
    if K < 2:
        raise ValueError("label noise needs at least 2 classes")
    if noise_type == "symmetric":
        P = np.full((K, K), rate / (K - 1))
        np.fill_diagonal(P, 1.0 - rate)
    else:
        P = (1.0 - rate) * np.eye(K)
        P[np.arange(K), (np.arange(K) + 1) % K] += rate
    return P


def multiclass_noisify(labels, P, random_state: int = 0) -> np.ndarray:
    """Co-teaching's draw: one RandomState(random_state), one multinomial trial per sample in index order from the row
    P[labels[i]]; returns the noisy labels as a numpy int64 array (the same numbers as the authors' code)."""
    y, _ = _as_numpy(labels)
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        raise ValueError("P must be a square matrix")
    if (P < 0).any() or not np.allclose(P.sum(1), 1.0):
        raise ValueError("P must be a row-stochastic matrix")
    if len(y) and (y.min() < 0 or y.max() >= len(P)):
        raise ValueError(f"labels must lie in [0, {len(P)})")
    flipper = np.random.RandomState(random_state)
    return np.fromiter((flipper.multinomial(1, P[i]).argmax() for i in y), dtype=np.int64, count=len(y))


def noisify(labels, noise_type: str, rate: float, num_classes: int, random_state: int = 0) -> NoisyLabels:
    """Symmetric or pairflip noise with the Co-teaching convention (module docstring); fixed by random_state."""
    P = transition_matrix(noise_type, rate, num_classes)
    y, device = _as_numpy(labels)
    noisy = multiclass_noisify(y, P, random_state) if rate > 0 else y.copy()
    return _result(y, noisy, device)


def flip_exact(labels, rate: float, generator=0) -> NoisyLabels:
    """Binary labels {0, 1}: exactly int(N*rate) samples, drawn uniformly without replacement from `generator` (a
    numpy Generator, a torch.Generator or an int seed), get 1 - y."""
    y, device = _as_numpy(labels)
    if len(y) and (y.min() < 0 or y.max() > 1):
        raise ValueError("flip_exact needs binary labels in {0, 1}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate}")
    count = int(len(y) * rate)
    idx = _numpy_generator(generator).choice(len(y), size=count, replace=False)
    noisy = y.copy()
    noisy[idx] = 1 - noisy[idx]
    return _result(y, noisy, device)


def replace_uniform(labels, rate: float, num_classes: int, generator=0) -> NoisyLabels:
    """Volumization's noise: replace each label with probability rate*K/(K-1) by a uniform draw from the K classes."""
    y, device = _as_numpy(labels)
    K = int(num_classes)
    p_replace = rate * K / (K - 1)
    if not 0.0 <= p_replace <= 1.0:
        raise ValueError(f"rate must be in [0, (K-1)/K] = [0, {(K - 1) / K:.4g}], got {rate}")
    rng = _numpy_generator(generator)
    replace = rng.random(len(y)) < p_replace
    noisy = np.where(replace, rng.integers(0, K, len(y)), y)
    return _result(y, noisy, device)


def realised_transition(clean, noisy, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(T, n): T[i, j] = fraction of samples of clean class i whose noisy label is j, and n[i] = their count (rows
    with n[i] = 0 are all-zero)."""
    c, _ = _as_numpy(clean)
    z, _ = _as_numpy(noisy)
    K = int(num_classes)
    counts = np.zeros((K, K))
    np.add.at(counts, (c, z), 1.0)
    n = counts.sum(1)
    return counts / np.maximum(n, 1.0)[:, None], n
