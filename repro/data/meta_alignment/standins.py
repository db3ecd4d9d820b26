"""The tiny-scale stand-ins of meta_alignment (CroMA, arXiv 2012.02813; catalog meta_alignment.md, "Offline
stand-ins for tiny scale" [reconstructed]). Each returns repro.data.episodes.CrossModalData with data="synthetic"
(digits_weak's target side is sklearn's bundled digits, real, but the pairing is made up: the rows say synthetic).
Generated from `data_seed` alone, so every run seed and method sees the same data set.

1. synth_strong (for text->image, strong pairs): prototypes mu_c ~ N(0, I_16), z = mu_c + 0.5 eps. Target (image
   side) = tanh(W_A z) + 0.1 noise, W_A in R^{64x16}; source (text side) = a length-20 sequence of 8-d frames
   s_tau = tanh(W_B z) sin(omega_tau) + 0.1 noise, omega_tau = pi (tau + 0.5) / 20 (free choices: W_B in R^{8x16},
   omega, noise scales). The same z makes a strong pair. Classes 20 meta-train / 5 meta-val / 10 meta-test: the
   catalog names 20 / 10; the 5 validation classes are added so that select_on=val has 5-way tasks to select on.
   Calibrated free choices (defaults): per_class 30; a class-independent rank-8 "nuisance" on the target side only,
   x_t += 4.0 * N(0, I_8) U^T (U a random orthonormal 64x8 basis). Why: without it the image side is as easy as the
   text side (nearest class mean on raw x_t, 5-way 5-shot on meta-test classes: 100 %), so no method can gain from
   the source. With it (measured, data_seed 0, 16 tasks): raw x_t 48.9 %, raw x_s 92.5 %, features of an MLP
   trained with labels on the 20 meta-train classes 92.0 %: the class information is there, but a few-shot learner
   must learn to ignore the nuisance, which the paired source (no nuisance) teaches through alignment.
2. digits_weak (for image->audio, weak pairs): target = sklearn load_digits (1,797 8x8 images, /16), source =
   MNIST-1D signals (40 steps). Pairing by digit only (10 clusters). 6 meta-train / 4 meta-test digits (no
   validation digits: its configs select the last checkpoint), 3-way. signals = 1000 MNIST-1D signals (100 per
   digit; 2000 only doubled the generation time).
   MNIST-1D: the catalog names PyPI `mnist1d` (0.0.2.post1). We do not depend on it: it imports `requests` at
   module level, seeds the *global* numpy and `random` state (a side effect on every other stream of the run) and
   pulls matplotlib. `mnist1d_signals` is a port of its `make_dataset` (templates, pad, dilate, scale, translate,
   correlated + iid noise, shear, subsample; the same calls in the same order) on a private
   numpy.random.RandomState(seed): with seed 42 and num_samples 5000 it reproduced mnist1d 0.0.2.post1's
   `make_dataset()` x, y and t exactly (max |diff| 0, checked once against the wheel while writing this file).
3. synth_lang (for text->speech language ID): 25 "languages" (14 meta-train / 5 meta-val / 6 meta-test; the catalog
   names 20 with a 14 / 6 split, the 5 validation languages are added as for synth_strong), each a first-order
   Markov chain over 30 tokens (initial and transition rows ~ Dirichlet(0.1)); text = 12 tokens; "speech" = the
   same tokens as 40-d frames, token embedding (N(0, I)) + N(0, 0.5^2) noise, 2 frames per token (24 x 40). Strong
   pairs. Calibrated free choices: concentration 0.1 and frame noise 0.5 (first version 0.3 and 1.0: every method,
   the Oracle included, stayed at chance, 20-21 % at 5-shot, with the tiny settings of fig=T1; with 0.1 / 0.5
   CroMA reaches ~39 % and Pre-training ~29 %, 3 seeds).
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch

from repro.data.episodes import CrossModalData

STANDINS = ("synth_strong", "digits_weak", "synth_lang")


def _split(n_classes: tuple[int, int, int], rng: np.random.Generator) -> dict:
    perm = rng.permutation(sum(n_classes)).tolist()
    a, b, _ = n_classes
    return {"meta_train": sorted(perm[:a]), "meta_val": sorted(perm[a:a + b]), "meta_test": sorted(perm[a + b:])}


def synth_strong(data_seed: int = 0, per_class: int = 30, splits=(20, 5, 10), z_dim: int = 16, a_dim: int = 64,
                 steps: int = 20, b_dim: int = 8, z_noise: float = 0.5, noise: float = 0.1, nuisance: float = 4.0,
                 nuisance_rank: int = 8) -> CrossModalData:
    rng = np.random.default_rng([data_seed, 1])
    n_classes = sum(splits)
    mu = rng.standard_normal((n_classes, z_dim))
    y = np.repeat(np.arange(n_classes), per_class)
    z = mu[y] + z_noise * rng.standard_normal((len(y), z_dim))
    w_a = rng.standard_normal((a_dim, z_dim)) / math.sqrt(z_dim)
    w_b = rng.standard_normal((b_dim, z_dim)) / math.sqrt(z_dim)
    x_t = np.tanh(z @ w_a.T) + noise * rng.standard_normal((len(y), a_dim))
    if nuisance > 0:   # class-independent low-rank variation on the target side only (see the module doc)
        u = np.linalg.qr(rng.standard_normal((a_dim, nuisance_rank)))[0]
        x_t = x_t + nuisance * rng.standard_normal((len(y), nuisance_rank)) @ u.T
    omega = np.pi * (np.arange(steps) + 0.5) / steps
    x_s = np.tanh(z @ w_b.T)[:, None, :] * np.sin(omega)[None, :, None]
    x_s = x_s + noise * rng.standard_normal(x_s.shape)
    yt = torch.as_tensor(y, dtype=torch.int64)
    return CrossModalData(
        name="synth_strong", data="synthetic", strength="strong",
        x_s=torch.as_tensor(x_s, dtype=torch.float32), y_s=yt.clone(),
        x_t=torch.as_tensor(x_t, dtype=torch.float32), y_t=yt.clone(),
        classes=_split(splits, rng), pair_t=torch.arange(len(y)),
        source_spec={"kind": "sequence", "dim": b_dim}, target_spec={"kind": "vector", "dim": a_dim},
        class_names={c: f"class {c}" for c in range(n_classes)}, dataset="synth_strong")


# ---- MNIST-1D (port of mnist1d 0.0.2.post1 data.make_dataset / transform.transform; see the module doc) ----
MNIST1D_ARGS = {"template_len": 12, "padding": (36, 60), "scale_coeff": 0.4, "max_translation": 48,
                "corr_noise_scale": 0.25, "iid_noise_scale": 2e-2, "shear_scale": 0.75, "final_seq_length": 40}


def _mnist1d_templates() -> tuple[np.ndarray, np.ndarray]:
    d = np.asarray([
        [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5], [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
        [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5], [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
        [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5], [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
        [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5], [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
        [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5], [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5]], dtype=float)
    d -= d.mean(1, keepdims=True)
    d /= d.std(1, keepdims=True)
    d -= d[:, :1]
    return d / 6.0, np.linspace(-5, 5, d.shape[1]) / 6.0


def _interpolate(x: np.ndarray, n: int) -> np.ndarray:
    from scipy.interpolate import interp1d

    return interp1d(np.linspace(0, 1, len(x)), x, axis=0, kind="linear")(np.linspace(0, 1, n))


def _mnist1d_transform(x, t, rs: np.random.RandomState, a=MNIST1D_ARGS, eps=1e-8):
    from scipy.ndimage import gaussian_filter

    low, high = a["padding"]
    p = low + int(rs.rand() * (high - low + 1))
    new_x = np.concatenate([x + eps, np.zeros(p)])
    new_x = _interpolate(new_x, a["template_len"] + high)
    new_t = _interpolate(t, a["template_len"] + high)
    new_x = new_x * (1 + a["scale_coeff"] * (rs.rand() - 0.5))
    k = rs.choice(a["max_translation"])
    new_x = np.concatenate([new_x[-k:], new_x[:-k]])
    mask = new_x != 0
    new_x = mask * new_x + (1 - mask) * gaussian_filter(a["corr_noise_scale"] * rs.randn(*new_x.shape), 2)
    new_x = new_x + a["iid_noise_scale"] * rs.randn(*new_x.shape)
    new_x = new_x - a["shear_scale"] * (rs.rand() - 0.5) * np.linspace(-0.5, 0.5, len(new_x))
    return _interpolate(new_x, a["final_seq_length"]), _interpolate(new_t, a["final_seq_length"])


@functools.lru_cache(maxsize=4)
def mnist1d_signals(num_samples: int = 5000, seed: int = 42) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x [num_samples, 40], y [num_samples], t [40]): mnist1d's make_dataset before its train/test split (the
    train part is x[:0.8 n]), on a private RandomState."""
    rs = np.random.RandomState(seed)
    templates, t = _mnist1d_templates()
    xs, ys, new_t = [], [], None
    for label in range(10):
        for _ in range(num_samples // 10):
            x, new_t = _mnist1d_transform(templates[label], t, rs)
            xs.append(x)
            ys.append(label)
    order = rs.permutation(len(ys))
    xs, ys = np.stack(xs)[order], np.asarray(ys)[order]
    new_t = new_t / xs.std()
    return (xs - xs.mean()) / xs.std(), ys, new_t


def digits_weak(data_seed: int = 0, signals: int = 1000, train_digits: int = 6) -> CrossModalData:
    from repro.data.digits import load_digits

    x_img, y_img = load_digits()
    x_sig, y_sig, _ = mnist1d_signals(int(signals), 42)
    perm = np.random.default_rng([data_seed, 2]).permutation(10).tolist()
    classes = {"meta_train": sorted(perm[:train_digits]), "meta_val": [], "meta_test": sorted(perm[train_digits:])}
    y_s = torch.as_tensor(y_sig, dtype=torch.int64)
    return CrossModalData(
        name="digits_weak", data="synthetic", strength="weak",
        x_s=torch.as_tensor(x_sig, dtype=torch.float32), y_s=y_s,
        x_t=x_img.reshape(-1, 1, 8, 8), y_t=y_img, classes=classes,
        cluster_s=y_s.clone(), cluster_t=y_img.clone(),
        source_spec={"kind": "signal", "length": 40}, target_spec={"kind": "image", "channels": 1, "size": 8},
        class_names={c: f"digit {c}" for c in range(10)}, dataset="digits+mnist1d")


def synth_lang(data_seed: int = 0, per_language: int = 60, splits=(14, 5, 6), vocab: int = 30, length: int = 12,
               frame_dim: int = 40, frames_per_token: int = 2, frame_noise: float = 0.5,
               concentration: float = 0.1) -> CrossModalData:
    rng = np.random.default_rng([data_seed, 3])
    n_lang = sum(splits)
    start = rng.dirichlet(np.full(vocab, concentration), size=n_lang)
    trans = rng.dirichlet(np.full(vocab, concentration), size=(n_lang, vocab))
    emb = rng.standard_normal((vocab, frame_dim))
    y = np.repeat(np.arange(n_lang), per_language)
    tokens = np.empty((len(y), length), dtype=np.int64)
    for i, lang in enumerate(y):   # inverse-CDF draws, one uniform per token
        u = rng.random(length)
        tokens[i, 0] = min(int(np.searchsorted(np.cumsum(start[lang]), u[0])), vocab - 1)
        for j in range(1, length):
            row = np.cumsum(trans[lang, tokens[i, j - 1]])
            tokens[i, j] = min(int(np.searchsorted(row, u[j])), vocab - 1)
    frames = np.repeat(emb[tokens], frames_per_token, axis=1)
    frames = frames + frame_noise * rng.standard_normal(frames.shape)
    yt = torch.as_tensor(y, dtype=torch.int64)
    return CrossModalData(
        name="synth_lang", data="synthetic", strength="strong",
        x_s=torch.as_tensor(tokens), y_s=yt.clone(), x_t=torch.as_tensor(frames, dtype=torch.float32),
        y_t=yt.clone(), classes=_split(splits, rng), pair_t=torch.arange(len(y)),
        source_spec={"kind": "tokens", "vocab": vocab, "bidirectional": True},
        target_spec={"kind": "sequence", "dim": frame_dim, "layers": 2},
        class_names={c: f"language {c}" for c in range(n_lang)}, dataset="synth_lang")


def load_standin(name: str, **kw) -> CrossModalData:
    if name == "synth_strong":
        return synth_strong(**kw)
    if name == "digits_weak":
        return digits_weak(**kw)
    if name == "synth_lang":
        return synth_lang(**kw)
    raise ValueError(f"stand-in must be one of {', '.join(STANDINS)}, not {name!r}")
