"""Power-law escape rate of SGD (Mori, Ziyin, Liu, Ueda; ICML 2022, arXiv 2105.09557).
Spec: ../shared/catalog/escape_rate.md. Closed forms: repro/theory/escape.py; simulators: repro/sim/linear.py
(stationary chains, panel 3a) and repro/sim/first_passage.py (panel 3b); networks: repro/nn/escape_nets.py;
data: repro/data/mnist.py, fashion_mnist.py, cifar10.py.

fig=3 (linear regression, synthetic): x^μ ∈ R^d and y^μ all i.i.d. N(0, 1), L = (1/2N) Σ (θᵀx − y)², plain
minibatch SGD with replacement. (a) φ̂ from stationary samples of θ (d = 1) against B per η; (b) mean first-passage
time of L above c·L* from θ* against c per d. Theory rows: the paper's φ = 1 + B/(ηh*) and slope φ − d/2, and the
derived exact discrete-time references (repro/theory/escape.py).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from repro.experiments.registry import experiment
from repro.sim.first_passage import first_passage_regression
from repro.sim.linear import Optimizer, simulate_minibatch_regression
from repro.sim.regression import make_regression_data
from repro.theory import escape as theory
from repro.train import endless_batches, fit, shuffled_batches


def _testbed(N: int, d: int, data_seed: int):
    """The paper's testbed: x ~ N(0, I_d), y ~ N(0, 1) independent (w* = 0, unit label noise), float64."""
    g = torch.Generator().manual_seed(int(data_seed))
    return make_regression_data(int(N), [1.0] * int(d), 0.0, 1.0, generator=g)


def _ols_slope(x, y) -> float:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 2:
        return float("nan")
    xm, ym = x.mean(), y.mean()
    return float(np.sum((x - xm) * (y - ym)) / np.sum((x - xm) ** 2))


# ----------------------------------------------------------------------------------------------------------
# fig=3 (a): stationary exponent φ against B (d = 1).


@experiment("escape_rate.phi_vs_batch")
def phi_vs_batch(p, ctx):
    """For each B in `batch_sizes` at this run's η: `chains` chains from θ*, `burn_in` steps discarded, then θ
    sampled every `record_every` steps, `samples_per_chain` times (chains × samples_per_chain samples; the paper:
    one chain, 10⁴ samples every 100 steps). Rows per B: phi_loghist (the histogram fit, primary), phi_moment,
    var (of θ − θ*), samples; then phi_slope, the OLS slope of phi_loghist against B."""
    data = _testbed(p["N"], 1, p["data_seed"])
    x, y = data.X.numpy().ravel(), data.y.numpy()
    theta_star, loss_star, h = theory.linreg_minimum_1d(x, y)
    lr = float(p["lr"])
    every, burn = int(p["record_every"]), int(p["burn_in"])
    steps = burn + every * int(p["samples_per_chain"])
    fits = []
    for B in p["batch_sizes"]:
        stats = simulate_minibatch_regression(
            data, Optimizer(lr), int(B), steps, int(p["chains"]), generator=ctx.generator(f"batches_B{B}"),
            sampling="replacement", w0=data.w_hat, burn_in=burn, record_steps=range(burn + every, steps + 1, every))
        theta = (stats.snapshots[..., 0].double() + stats.center.double()).numpy().ravel()
        finite = np.isfinite(theta)
        theta = theta[finite]
        phi_lh = theory.phi_loghist(theta, theta_star, loss_star, h, bins=p["bins"], quantile=p["quantile"])
        fits.append(phi_lh)
        cols = {"B": int(B)}
        yield {"metric": "phi_loghist", "value": phi_lh, **cols}
        yield {"metric": "phi_moment", "value": theory.phi_moment(theta, theta_star, loss_star, h), **cols}
        yield {"metric": "var", "value": float(np.mean((theta - theta_star) ** 2)), **cols}
        yield {"metric": "samples", "value": float(theta.size), **cols}
        yield {"metric": "nonfinite_samples", "value": float((~finite).sum()), **cols}
        if p.get("hist_bins"):   # the histogram of θ − θ* in units of a = sqrt(2L*/h), for the plot
            a = math.sqrt(2 * loss_star / h)
            u = (theta - theta_star) / a
            lim = float(p["hist_range"])
            counts, edges = np.histogram(u, bins=int(p["hist_bins"]), range=(-lim, lim))
            dens = counts / (theta.size * (edges[1] - edges[0]))
            for cu, v in zip(0.5 * (edges[1:] + edges[:-1]), dens):
                yield {"metric": "density", "value": float(v), "u": float(cu), **cols}
    yield {"metric": "phi_slope", "value": _ols_slope(p["batch_sizes"], fits)}
    yield {"metric": "h", "value": h}
    yield {"metric": "loss_star", "value": loss_star}


@experiment("escape_rate.phi_theory")
def phi_theory(p, ctx):
    """Theory rows of panel (a) on the same data: the paper's φ = 1 + B/(ηh) (series of the run) and its slope
    1/(ηh) in B; derived: what the moment estimator returns under the exact discrete-time second moment
    (series exact_moment) and the Kesten tail exponent φ_tail of the Gaussian testbed (series kesten_tail);
    with `hist_range`, the normalised density of u = (θ−θ*)/a under L^(−φ) (metric density)."""
    data = _testbed(p["N"], 1, p["data_seed"])
    x, y = data.X.numpy().ravel(), data.y.numpy()
    _, loss_star, h = theory.linreg_minimum_1d(x, y)
    lr = float(p["lr"])
    for B in p["batch_sizes"]:
        cols = {"B": int(B)}
        ph = float(theory.phi(B, lr, h))
        yield {"metric": "phi", "value": ph, **cols}
        yield {"metric": "phi", "value": theory.phi_moment_exact(x, y, int(B), lr), "series": "exact_moment", **cols}
        yield {"metric": "phi", "value": theory.phi_kesten_tail(int(B), lr, h), "series": "kesten_tail", **cols}
        if p.get("hist_bins"):
            lim = float(p["hist_range"])
            a = math.sqrt(2 * loss_star / h)
            for u in np.linspace(-lim, lim, 201):
                dens = a * theory.stationary_density_1d(u * a, 0.0, loss_star, h, ph)[()]
                yield {"metric": "density", "value": float(dens), "u": float(u), **cols}
    yield {"metric": "phi_slope", "value": 1.0 / (lr * h)}


# ----------------------------------------------------------------------------------------------------------
# fig=3 (b): mean first-passage time against the loss ratio c.


def _levels(p, d: int) -> list[float]:
    c_max = float((p.get("c_max") or {}).get(str(d), max(p["c_levels"])))
    return [float(c) for c in p["c_levels"] if c <= c_max + 1e-12]


@experiment("escape_rate.first_passage")
def first_passage(p, ctx):
    """`runs` chains from θ* on the d-dimensional testbed of `data_seed` (noise: sgd, minibatch SGD; or sde, the
    paper's Gaussian SDE with decoupled noise, the catalog's optional control); t_p(c) = η × the first step with
    L > c·L*, for the levels c_levels ≤ c_max[d]. Rows per c: t_p (mean over runs; censored runs count at
    max_steps, a lower bound), t_p_stderr, t_p_median, censored; then slope_fit, the OLS slope of log t_p
    against log c over the levels with fit_range[0] < t_p < fit_range[1] (n_fit its point count), slope_common
    over the levels in common_c_range (the same window for every d), and local_slope between consecutive levels (column c = their geometric mean)."""
    d, lr, B = int(p["d"]), float(p["lr"]), int(p["B"])
    data = _testbed(p["N"], d, p["data_seed"])
    levels = _levels(p, d)
    fp = first_passage_regression(data.X, data.y, B, lr, levels, int(p["runs"]), generator=ctx.generator("batches"),
                                  max_steps=int(p["max_steps"]), block=int(p.get("block", 2048)),
                                  noise=p.get("noise", "sgd"))
    T = fp.times(lr)
    mean = T.mean(0).numpy()
    for j, c in enumerate(levels):
        cols = {"c": c}
        yield {"metric": "t_p", "value": float(mean[j]), **cols}
        yield {"metric": "t_p_stderr", "value": float(T[:, j].std() / math.sqrt(len(T))), **cols}
        yield {"metric": "t_p_median", "value": float(T[:, j].median()), **cols}
        yield {"metric": "censored", "value": float(fp.censored()[j]), **cols}
    lo, hi = (float(v) for v in p["fit_range"])
    keep = (mean > lo) & (mean < hi)
    lc, lt = np.log(levels), np.log(mean)
    yield {"metric": "slope_fit", "value": _ols_slope(lc[keep], lt[keep])}
    yield {"metric": "n_fit", "value": float(keep.sum())}
    if p.get("common_c_range"):   # the same c window for every d (the t_p window above depends on d)
        c_lo, c_hi = (float(v) for v in p["common_c_range"])
        inside = (np.asarray(levels) >= c_lo - 1e-12) & (np.asarray(levels) <= c_hi + 1e-12)
        yield {"metric": "slope_common", "value": _ols_slope(lc[inside], lt[inside])}
    for j in range(len(levels) - 1):
        yield {"metric": "local_slope", "value": float((lt[j + 1] - lt[j]) / (lc[j + 1] - lc[j])),
               "c": float(math.sqrt(levels[j] * levels[j + 1]))}


@experiment("escape_rate.first_passage_theory")
def first_passage_theory(p, ctx):
    """The paper's slope d log t_p / d log c = B/(η h*) + 1 − n/2 with n = d and h* = Tr H/d of the realised
    data (metric slope), and the critical dimension n_c = 2(B/(η h*) + 1)."""
    d, lr, B = int(p["d"]), float(p["lr"]), int(p["B"])
    data = _testbed(p["N"], d, p["data_seed"])
    X = data.X.numpy()
    h_star = float(np.trace(X.T @ X / len(X)) / d)
    yield {"metric": "slope", "value": float(theory.first_passage_slope(B, lr, h_star, d))}
    yield {"metric": "critical_dimension", "value": float(theory.critical_dimension(B, lr, h_star))}
    yield {"metric": "h_star", "value": h_star}


# ----------------------------------------------------------------------------------------------------------
# Real-data figures: data, model, plain SGD.


def _load(p, ctx):
    """(x, y) on ctx.device for p['dataset'] (mnist | fashion_mnist | cifar10 | digits), read by the real
    torchvision-based loaders from ctx.data_dir (data_source: real; digits: scikit-learn's bundled files, x/16), or from small files in the same format written to a temporary
    folder (data_source: generated; tiny runs and tests, rows say data=synthetic). MNIST and Fashion-MNIST pixels
    are x/255 in [0, 1], flattened; CIFAR-10 is standardised per channel, [N, 3, 32, 32]. The first n_train
    examples are kept (all when n_train is null)."""
    import tempfile

    from repro.data import cifar10, fashion_mnist, fixtures, mnist

    dataset, source = p["dataset"], p.get("data_source", "real")
    if dataset == "digits":   # scikit-learn's bundled files: real data, nothing under data_dir
        from repro.data.digits import load_digits

        x, y = load_digits(device=ctx.device)
        n = p.get("n_train")
        return (x[:n], y[:n]) if n else (x, y)

    def read(root):
        if dataset == "mnist":
            x, y = mnist.load_mnist(root, train=True, device=ctx.device)
            return x.mul_(mnist.STD).add_(mnist.MEAN), y          # undo the loader's standardisation: x/255
        if dataset == "fashion_mnist":
            return fashion_mnist.load_fashion_mnist(root, train=True, device=ctx.device)
        if dataset == "cifar10":
            x, y = cifar10.load_cifar10(root, train=True, device=ctx.device)
            return cifar10.normalize(x), y
        raise ValueError(f"unknown dataset {dataset!r}; choose mnist, fashion_mnist, cifar10 or digits")

    if source == "real":
        x, y = read(ctx.data_dir)
    elif source == "generated":
        n, seed = int(p["generated_n"]), ctx.seed_for("data_files") % 2**32
        with tempfile.TemporaryDirectory() as root:
            if dataset == "mnist":
                fixtures.write_mnist(root, n_train=n, n_test=10, seed=seed)
            elif dataset == "fashion_mnist":
                fashion_mnist.write_fashion_mnist(root, n_train=n, n_test=10, seed=seed)
            else:
                fixtures.write_cifar10(root, per_batch=-(-n // 5), n_test=10, seed=seed)
            x, y = read(root)
    else:
        raise ValueError(f"unknown data_source {source!r}; choose real or generated")
    n = p.get("n_train")
    return (x[:n], y[:n]) if n else (x, y)


def _sgd(model, lr: float) -> torch.optim.SGD:
    """Plain SGD (no momentum, no weight decay): θ ← θ − lr·∇L, the step of repro.train.train_step / fit."""
    return torch.optim.SGD(model.parameters(), lr=lr)


def _finite(v: float) -> bool:
    return math.isfinite(v)


# ----------------------------------------------------------------------------------------------------------
# fig=1: exact vs decoupled noise-matrix spectra.


def _spectrum_rows(exact: torch.Tensor, dec: torch.Tensor, p, epoch: int):
    """Rows of one checkpoint: eigenvalues above rel_threshold × λ_max(M_exact) (both matrices, the same cut);
    log10 quantiles, the top_k eigenvalues and their ratios, counts and a histogram of log10 λ."""
    cut = float(p["rel_threshold"]) * float(exact.max())
    kept = {"exact": exact[exact > cut].cpu().numpy(), "dec": dec[dec > cut].cpu().numpy()}
    lo = math.log10(cut)
    hi = math.log10(max(float(exact.max()), float(dec.max()))) + 0.05
    edges = np.linspace(lo, hi, int(p["hist_bins"]) + 1)
    for matrix, lam in kept.items():
        cols = {"epoch": epoch, "matrix": matrix}
        yield {"metric": "n_kept", "value": float(lam.size), **cols}
        if lam.size:
            for q in (10, 50, 90):
                yield {"metric": "log10_eig_q", "value": float(np.percentile(np.log10(lam), q)), "q": q, **cols}
        counts, _ = np.histogram(np.log10(lam), bins=edges)
        for center, count in zip(0.5 * (edges[1:] + edges[:-1]), counts):
            yield {"metric": "eig_hist", "value": float(count), "log10_lambda": float(center), **cols}
    top_e = exact.flip(0)[: int(p["top_k"])].cpu().numpy()
    top_d = dec.flip(0)[: int(p["top_k"])].cpu().numpy()
    for rank, (a, b) in enumerate(zip(top_e, top_d), start=1):
        yield {"metric": "top_eig", "value": float(a), "rank": rank, "epoch": epoch, "matrix": "exact"}
        yield {"metric": "top_eig", "value": float(b), "rank": rank, "epoch": epoch, "matrix": "dec"}
        yield {"metric": "top_ratio", "value": float(a / b), "rank": rank, "epoch": epoch}


@experiment("escape_rate.decoupling_spectrum", device="any")
def decoupling_spectrum(p, ctx):
    """fig=1: MLP (Glorot, ReLU) with a scalar output on the first n_train images, labels +1 (even digit) / −1
    (odd), plain SGD on ½(f − y)², batches of batch_size per epoch in a random order. At the `checkpoints`
    epochs (0 = initialisation) the spectra of M_exact = JᵀDJ/N and M_dec = L JᵀJ/N through the Gram trick
    (repro/nn/escape_nets.py); rows of `_spectrum_rows` and the training loss (metric loss, step = epoch).
    max_steps (smoke tests) stops training early: the remaining checkpoints are then taken at that point."""
    from repro.nn.escape_nets import decoupling_spectra, glorot_mlp, mlp_gram

    x, labels = _load(p, ctx)
    target = torch.where(labels % 2 == 0, 1.0, -1.0).to(x.dtype)
    model = glorot_mlp([x.shape[1], *p["hidden"], 1], generator=ctx.cpu_generator("init")).to(ctx.device)
    order = ctx.cpu_generator("data")
    checkpoints = sorted(int(e) for e in p["checkpoints"])
    lr, B = float(p["lr"]), int(p["batch_size"])
    max_steps = p.get("max_steps")

    def full_loss():
        with torch.no_grad():
            return 0.5 * (model(x)[:, 0] - target).pow(2)

    def checkpoint(epoch):
        f, K = mlp_gram(model, x, chunk=int(p.get("chunk", 4096)))
        losses = 0.5 * (f - target).double().pow(2)
        exact, dec = decoupling_spectra(K, losses)
        yield {"metric": "loss", "value": float(losses.mean()), "step": epoch, "epoch": epoch}
        yield from _spectrum_rows(exact, dec, p, epoch)

    def on_epoch_end(state):
        epoch = state.epoch
        if max_steps and state.step >= max_steps:
            for e in (c for c in checkpoints if c >= epoch):
                yield from checkpoint(e)
            state.stop = True
        elif epoch in checkpoints:
            yield from checkpoint(epoch)
        elif epoch % int(p.get("log_every", 10)) == 0:
            yield {"metric": "loss", "value": float(full_loss().mean()), "step": epoch, "epoch": epoch}

    if 0 in checkpoints:
        yield from checkpoint(0)
    yield from fit(_sgd(model, lr), lambda idx: 0.5 * (model(x[idx])[:, 0] - target[idx]).pow(2).mean(),
                   lambda epoch: shuffled_batches(len(x), B, order, ctx.device), epochs=max(checkpoints),
                   max_steps=max_steps or None, on_epoch_end=on_epoch_end, ctx=ctx, desc="epochs")


# ----------------------------------------------------------------------------------------------------------
# fig=2, fig=6: noise strength against the training loss.


def _fit_rows(epochs, losses, noises, p):
    """Summary rows: OLS slope of log 𝒩 on log L and Pearson r over the second half of training (epochs >
    epochs/2) and over the last tail_epochs epochs (windows with fewer than 3 epochs are skipped), and the spread
    max/min of 𝒩/L over epochs 0..early_epochs."""
    e = np.asarray(epochs, dtype=np.float64)
    lL, lN = np.log(np.asarray(losses)), np.log(np.asarray(noises))
    total = e.max()
    windows = {"second_half": e > total / 2, "tail": e > total - int(p["tail_epochs"])}
    for name, w in windows.items():
        ok = w & np.isfinite(lL) & np.isfinite(lN)
        if ok.sum() < 3:   # too short a run (smoke tests) for a fit
            continue
        yield {"metric": f"slope_{name}", "value": _ols_slope(lL[ok], lN[ok])}
        yield {"metric": f"pearson_{name}", "value": float(np.corrcoef(lL[ok], lN[ok])[0, 1])}
        yield {"metric": f"loss_range_{name}", "value": float(np.exp(lL[ok].max() - lL[ok].min()))}
    early = e <= int(p["early_epochs"])
    ratio = np.exp(lN[early] - lL[early])
    yield {"metric": "ratio_change_early", "value": float(ratio.max() / ratio.min())}


@experiment("escape_rate.noise_vs_loss", device="any")
def noise_vs_loss(p, ctx):
    """fig=2 (loss: mse, one-hot targets, ℓ = ½‖f − y‖²) and fig=6 (loss: ce): the FC net (model: fc, Linear/ReLU
    sizes [in, *hidden, 10]) or the CNN (model: cnn, keskar_cnn(widths, convs_per_block)), Glorot init, plain SGD
    with batch_size and lr over `epochs` epochs. At epoch 0 (init) and after every epoch, over the whole training
    set: L (metric loss), 𝒩 (metric noise; grad_method vmap = torch.func per-sample gradients in chunks of
    `chunk`, dense = the exact |a|²|δ|² identity for the FC net) and 𝒩/L (ratio), step = epoch; then the fits of
    `_fit_rows`. max_steps (smoke tests) stops training after that many steps, with one more measurement."""
    from repro.nn.escape_nets import (glorot_mlp, keskar_cnn, noise_strength_dense, noise_strength_vmap,
                                      per_sample_loss)

    x, y = _load(p, ctx)
    init = ctx.cpu_generator("init")
    if p["model"] == "fc":
        x = x.reshape(len(x), -1)
        model = glorot_mlp([x.shape[1], *p["hidden"], 10], generator=init)
    elif p["model"] == "cnn":
        model = keskar_cnn(tuple(p["widths"]), int(p["convs_per_block"]), x.shape[1], x.shape[-1], 10, generator=init)
    else:
        raise ValueError(f"unknown model {p['model']!r}; choose fc or cnn")
    model = model.to(ctx.device)
    ell = per_sample_loss(p["loss"])
    measure = noise_strength_dense if p["grad_method"] == "dense" else noise_strength_vmap
    order = ctx.cpu_generator("data")
    lr, B, chunk = float(p["lr"]), int(p["batch_size"]), int(p["chunk"])
    max_steps = p.get("max_steps")
    epochs_seen, losses, noises = [], [], []

    def record(epoch):
        m = measure(model, p["loss"], x, y, chunk=chunk)
        epochs_seen.append(epoch)
        losses.append(m["loss"])
        noises.append(m["noise"])
        yield {"step": epoch, "metric": "loss", "value": m["loss"]}
        yield {"step": epoch, "metric": "noise", "value": m["noise"]}
        yield {"step": epoch, "metric": "ratio", "value": m["noise"] / m["loss"] if m["loss"] > 0 else float("nan")}

    def on_epoch_end(state):
        yield from record(state.epoch)
        if not (_finite(losses[-1]) and _finite(noises[-1])) or (max_steps and state.step >= max_steps):
            state.stop = True

    yield from record(0)
    yield from fit(_sgd(model, lr), lambda idx: ell(model(x[idx]), y[idx]).mean(),
                   lambda epoch: shuffled_batches(len(x), B, order, ctx.device), epochs=int(p["epochs"]),
                   max_steps=max_steps or None, on_epoch_end=on_epoch_end, ctx=ctx,
                   desc="epochs")
    if len(epochs_seen) > 2:
        yield from _fit_rows(epochs_seen, losses, noises, p)


# ----------------------------------------------------------------------------------------------------------
# fig=5: schematic of the escape over a barrier, drawn from the theory's functions.


@experiment("escape_rate.escape_schematic")
def escape_schematic(p, ctx):
    """U(θ) − U(θ*) = log L(θ)/L* along the escape path of the double well L = L* + ΔL θ²(θ − 2)²
    (repro.theory.escape.double_well_loss) on `points` values of θ in theta_range; the quasi-stationary density
    P ∝ L^(−φ), φ = 1 + B/(η h*), normalised over the well θ < θ^s (metric density); the marked points θ*, θ^s and
    θ^c (metric point, column label); the argmin and argmax of the drawn U (found on the grid, for the claims);
    and the 1-D escape rate κ of the paper with its exponent."""
    L_star, dL = float(p["loss_star"]), float(p["barrier"])
    pts = theory.double_well_points(L_star, dL)
    theta = np.linspace(*[float(v) for v in p["theta_range"]], int(p["points"]))
    L = theory.double_well_loss(theta, L_star, dL)
    U = np.log(L / L_star)
    B, lr = float(p["B"]), float(p["lr"])
    ph = float(theory.phi(B, lr, pts["h_star"]))
    well = theta < pts["theta_saddle"]
    dens = np.where(well, (L / L_star) ** (-ph), 0.0)
    dens /= np.sum(dens) * (theta[1] - theta[0])
    for t, u, q in zip(theta, U, dens):
        yield {"metric": "U", "value": float(u), "theta": float(t)}
        yield {"metric": "density", "value": float(q), "theta": float(t)}
    marks = {"theta*": pts["theta_star"], "theta_s": pts["theta_saddle"], "theta_c": float(p["theta_c"])}
    for label, t in marks.items():
        yield {"metric": "point", "value": float(t), "label": label,
               "U": float(np.log(theory.double_well_loss(t, L_star, dL) / L_star))}
    yield {"metric": "argmin_U", "value": float(theta[np.argmin(U)])}
    yield {"metric": "argmax_U", "value": float(theta[np.argmax(U)])}
    yield {"metric": "theta_star", "value": pts["theta_star"]}
    yield {"metric": "theta_saddle", "value": pts["theta_saddle"]}
    yield {"metric": "grid_step", "value": float(theta[1] - theta[0])}
    yield {"metric": "phi", "value": ph}
    yield {"metric": "kappa", "value": float(theory.escape_rate_1d(pts["h_star"], pts["h_saddle"], pts["loss_saddle"],
                                                                   L_star, B, lr))}
    yield {"metric": "delta_U", "value": float(np.log(pts["loss_saddle"] / L_star))}


# ----------------------------------------------------------------------------------------------------------
# fig=3 (c), fig=4, fig=7: a network pre-trained to a minimum θ*, its Gauss–Newton spectrum, and what SGD does there.

PRETRAIN_VERSION = 1          # bump when _pretrain's results change: it is part of the cache key
_PRETRAINED: dict[str, dict] = {}   # in-process memo (runs without a cache folder, e.g. the tests)
PRETRAIN_KEYS = ("dataset", "data_source", "n_train", "generated_n", "hidden", "pre_lr", "pre_batch", "pre_steps")


def _parity_target(labels: torch.Tensor, dtype) -> torch.Tensor:
    """+1 for an even digit, −1 for an odd one (the paper's binary even/odd task)."""
    return torch.where(labels % 2 == 0, 1.0, -1.0).to(dtype)


def _pretrain(p, ctx, x, target) -> dict:
    """Plain SGD on ½(f − t)² from a Glorot init (stream "init") for pre_steps iterations of pre_batch examples
    (random permutations per epoch, stream "pretrain_data") at pre_lr; then L(θ*) and every eigenvalue of the
    Gauss–Newton matrix JᵀJ/N at θ* (repro.nn.gauss_newton). Returns the state dict, L*, the eigenvalues and the
    full training loss at a few iterations (curve)."""
    from repro.nn.escape_nets import glorot_mlp
    from repro.nn.gauss_newton import gauss_newton_eigenvalues

    model = glorot_mlp([x.shape[1], *p["hidden"], 1], generator=ctx.cpu_generator("init")).to(ctx.device)
    order = ctx.cpu_generator("pretrain_data")
    lr, B, total = float(p["pre_lr"]), int(p["pre_batch"]), int(p["pre_steps"])
    marks = set(np.unique(np.geomspace(1, max(total, 1), 30).astype(int)).tolist()) | {total}
    curve = []

    def full_loss():
        with torch.no_grad():
            return float(0.5 * (model(x)[:, 0] - target).double().pow(2).mean())

    def on_step(state, idx):
        if state.step in marks:
            curve.append((state.step, full_loss()))

    curve.append((0, full_loss()))
    for _ in fit(_sgd(model, lr), lambda idx: 0.5 * (model(x[idx])[:, 0] - target[idx]).pow(2).mean(),
                 lambda epoch: endless_batches(len(x), B, order, ctx.device), max_steps=total, on_step=on_step,
                 ctx=ctx):
        pass
    eig = gauss_newton_eigenvalues(model, x, chunk=int(p.get("chunk", 1024)))
    return {"state": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "loss_star": full_loss(),
            "eigenvalues": eig.double().cpu(), "curve": curve}


def _pretrained(p, ctx):
    """(model at θ*, x, target, info): the network pre-trained by ``_pretrain`` for these settings, computed once per
    setting: kept in ctx.cache_dir (a file named by the hash of the settings, the init and data seeds, a checksum
    of the data and PRETRAIN_VERSION) when the runner gives one, and in this process. fig=3(c) and fig=7 therefore
    study the same network."""
    import hashlib
    import json
    from pathlib import Path

    from repro.nn.escape_nets import glorot_mlp
    from repro.train.checkpoint import load_checkpoint, save_checkpoint

    x, labels = _load(p, ctx)
    x = x.reshape(len(x), -1)
    target = _parity_target(labels, x.dtype)
    settings = {k: p.get(k) for k in PRETRAIN_KEYS}
    settings.update(seed_init=ctx.seed_for("init"), seed_data=ctx.seed_for("pretrain_data"),
                    data=[list(x.shape), float(x.double().sum()), float(target.double().sum())],
                    version=PRETRAIN_VERSION)
    key = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:20]
    info = _PRETRAINED.get(key)
    if info is None and ctx.cache_dir:
        import fcntl

        path = Path(ctx.cache_dir) / f"escape_rate_pretrain_{key}.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)   # runs started together: one trains, the others wait and load
            info = load_checkpoint(path)   # weights_only: a tampered cache file cannot run code
            if info is None:
                info = _pretrain(p, ctx, x, target)
                save_checkpoint(path, info)
    if info is None:
        info = _pretrain(p, ctx, x, target)
    _PRETRAINED[key] = info
    model = glorot_mlp([x.shape[1], *p["hidden"], 1]).to(ctx.device)
    model.load_state_dict(info["state"])
    return model, x, target, info


def _network_rows(p, info, model):
    """Rows every pre-trained-network run shares: L*, h_max, the participation ratio, P, the pre-training curve."""
    from repro.nn.escape_nets import n_params

    eig = info["eigenvalues"].numpy()
    yield {"metric": "loss_star", "value": float(info["loss_star"])}
    yield {"metric": "h_max", "value": float(eig[-1])}
    yield {"metric": "participation_ratio", "value": theory.participation_ratio(eig)}
    yield {"metric": "n_params", "value": float(n_params(model))}
    for step, loss in info["curve"]:
        yield {"metric": "pretrain_loss", "value": float(loss), "step": step}


@experiment("escape_rate.nn_first_passage")
def nn_first_passage(p, ctx):
    """fig=3 (c): from θ* of the pre-trained one-hidden-layer network (``_pretrained``), `runs` SGD chains at batch
    size B and this run's lr; t_p(c) = η × the first step with full training loss > c·L* (repro.sim.first_passage.
    first_passage_mlp1). Rows as escape_rate.first_passage (t_p, t_p_stderr, t_p_median, censored per c; slope_fit
    over fit_range, n_fit, local_slope), the theory slope B/(η h_max) + 1 − n_theory/2 with the network's own
    largest Gauss–Newton eigenvalue (slope_theory), and ``_network_rows``. Every row names the dataset."""
    from repro.sim.first_passage import first_passage_mlp1

    if len(p["hidden"]) != 1:
        raise ValueError(f"nn_first_passage needs one hidden layer, got hidden={p['hidden']}")
    model, x, target, info = _pretrained(p, ctx)
    lr, B = float(p["lr"]), int(p["B"])
    levels = [float(c) for c in p["c_levels"]]
    fp = first_passage_mlp1(model[0].weight, model[0].bias, model[2].weight[0], model[2].bias, x, target, B, lr,
                            levels, int(p["runs"]), generator=ctx.cpu_generator("batches"),
                            max_steps=int(p["max_steps"]), block=int(p.get("block", 256)),
                            resync=int(p.get("resync", 500)))
    ds = {"dataset": p["dataset"]}
    T = fp.times(lr)
    mean = T.mean(0).numpy()
    for j, c in enumerate(levels):
        cols = {"c": c, **ds}
        yield {"metric": "t_p", "value": float(mean[j]), **cols}
        yield {"metric": "t_p_stderr", "value": float(T[:, j].std() / math.sqrt(len(T))), **cols}
        yield {"metric": "t_p_median", "value": float(T[:, j].median()), **cols}
        yield {"metric": "censored", "value": float(fp.censored()[j]), **cols}
    lo, hi = (float(v) for v in p["fit_range"])
    keep = (mean > lo) & (mean < hi) & (fp.censored().numpy() == 0)
    lc, lt = np.log(levels), np.log(mean)
    yield {"metric": "slope_fit", "value": _ols_slope(lc[keep], lt[keep]), **ds}
    yield {"metric": "n_fit", "value": float(keep.sum()), **ds}
    for j in range(len(levels) - 1):
        yield {"metric": "local_slope", "value": float((lt[j + 1] - lt[j]) / (lc[j + 1] - lc[j])),
               "c": float(math.sqrt(levels[j] * levels[j + 1])), **ds}
    h_max = float(info["eigenvalues"][-1])
    yield {"metric": "slope_theory", "value": float(theory.first_passage_slope(B, lr, h_max, float(p["n_theory"]))),
           **ds}
    for row in _network_rows(p, info, model):
        yield {**row, **ds}


@experiment("escape_rate.hessian_spectrum")
def hessian_spectrum(p, ctx):
    """fig=7: every eigenvalue of the Gauss–Newton matrix at θ* of the same pre-trained network as fig=3 (c)
    (``_pretrained`` with the same settings): a histogram over [0, h_max] (metric eig_hist, column eigenvalue = bin
    centre, `hist_bins` bins), the top_k eigenvalues (metric top_eig, column rank), the median, the fraction below
    1% of h_max, h_max, the participation ratio n = (Σ p_i²)⁻¹ and ``_network_rows``."""
    model, x, target, info = _pretrained(p, ctx)
    eig = info["eigenvalues"].numpy()
    ds = {"dataset": p["dataset"]}
    counts, edges = np.histogram(eig, bins=int(p["hist_bins"]), range=(min(0.0, eig.min()), eig.max()))
    for centre, count in zip(0.5 * (edges[1:] + edges[:-1]), counts):
        yield {"metric": "eig_hist", "value": float(count), "eigenvalue": float(centre), **ds}
    for rank, v in enumerate(eig[::-1][: int(p["top_k"])], start=1):
        yield {"metric": "top_eig", "value": float(v), "rank": rank, **ds}
    yield {"metric": "median_eig", "value": float(np.median(eig)), **ds}
    yield {"metric": "frac_below_1pct", "value": float(np.mean(eig < 0.01 * eig[-1])), **ds}
    yield {"metric": "n_eigenvalues", "value": float(eig.size), **ds}
    for row in _network_rows(p, info, model):
        yield {**row, **ds}


@experiment("escape_rate.minima_stability")
def minima_stability(p, ctx):
    """fig=4: a minimum found by SGD at (pre_lr, pre_batch) (``_pretrained``), its h_max and effective dimension n
    (participation ratio of the Gauss–Newton spectrum), the predicted critical learning rate
    η_c = 2B/((n − 2) h_max) at batch size B; then SGD from θ* at B with η = lr_start + k·lr_step, steps_per_lr
    iterations per value (minibatches with replacement), until η > lr_stop × η_c (and lr_max), or the loss exceeds
    blowup × L* or stops being finite. Rows per η step: loss_avg (the minibatch loss averaged over the step: the
    training loss along the path) and loss_end (full training loss at its end), column lr; then eta_c, eta_jump (the
    first η whose loss_avg > jump × L*, nan if none), stable_ratio_max (max loss_avg/L* over η ≤ stable_frac × η_c)
    and ``_network_rows``."""
    model, x, target, info = _pretrained(p, ctx)
    eig = info["eigenvalues"].numpy()
    L0 = float(info["loss_star"])
    h_max, n_eff = float(eig[-1]), theory.participation_ratio(eig)
    B = int(p["B"])
    eta_c = float(theory.critical_learning_rate(B, h_max, n_eff))
    ds = {"dataset": p["dataset"]}
    gen = ctx.cpu_generator("batches")
    lr_stop = min(float(p["lr_stop"]) * eta_c, float(p["lr_max"]))
    k, lr, jump = 0, float(p["lr_start"]), float("nan")
    ratios = []
    while lr <= lr_stop + 1e-12:
        idx = torch.randint(len(x), (int(p["steps_per_lr"]), B), generator=gen).to(ctx.device)
        total = 0.0

        def on_step(state, batch):
            nonlocal total
            total += float(state.loss)
            state.stop = not math.isfinite(total)

        for _ in fit(_sgd(model, lr), lambda i: 0.5 * (model(x[i])[:, 0] - target[i]).pow(2).mean(),
                     lambda epoch: idx, on_step=on_step, ctx=ctx):
            pass
        avg = total / len(idx)
        with torch.no_grad():
            end = float(0.5 * (model(x)[:, 0] - target).double().pow(2).mean())
        yield {"metric": "loss_avg", "value": avg, "step": k, "lr": lr, **ds}
        yield {"metric": "loss_end", "value": end, "step": k, "lr": lr, **ds}
        ratios.append((lr, avg / L0 if math.isfinite(avg) else float("inf")))
        if math.isnan(jump) and not avg <= float(p["jump"]) * L0:
            jump = lr
        if not (math.isfinite(avg) and avg <= float(p["blowup"]) * L0):
            break
        k += 1
        lr = float(p["lr_start"]) + k * float(p["lr_step"])
    stable = [r for l, r in ratios if l <= float(p["stable_frac"]) * eta_c]
    yield {"metric": "eta_c", "value": eta_c, **ds}
    yield {"metric": "eta_jump", "value": jump, **ds}
    yield {"metric": "stable_ratio_max", "value": max(stable) if stable else float("nan"), **ds}
    yield {"metric": "n_eff", "value": n_eff, **ds}
    for row in _network_rows(p, info, model):
        yield {**row, **ds}
