"""Noise and fluctuation of finite-learning-rate SGD (Liu, Ziyin, Ueda, ICML 2021; arXiv 2012.03636).
Spec: catalog sgd_fluctuation.md. Simulations: repro/sim/linear.py and escape.py (all chains as one tensor);
closed forms: repro/theory/sgd.py; exact ground truth: repro/theory/lyapunov.py.

Conventions (catalog "Reference implementation notes"): 1-D figures sweep lr_k = λk at k = 1 (`K: [1.0]`);
white-noise figures use unit weight-space noise (`noise_space: weight`, C_w = I, so C = I/λ²); the
minibatch figures use ½·MSE regression with a fixed data seed (`data_seed`), subset sampling by default, and
report the stationary variance about ŵ pooled over runs and the last two-thirds of the steps (`var`), beside
the paper's estimator, the across-run variance at the last step (`var_final`).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from repro.experiments.registry import experiment
from repro.sim import escape as escape_sim
from repro.sim.linear import Optimizer, simulate_minibatch_regression, simulate_quadratic
from repro.sim.regression import make_regression_data
from repro.theory import lyapunov
from repro.theory import sgd as theory


def _lr(p) -> float:
    """λ from `lr`, or from `lr_k` = λk with k = K[0] (the 1-D figures' x axis)."""
    return float(p["lr"]) if "lr" in p else float(p["lr_k"]) / float(p["K"][0])


def _coords(D: int):
    return [""] if D == 1 else [f"_w{i + 1}" for i in range(D)]


def _variance_rows(stats, D: int):
    var, err, final = stats.variance(), stats.variance_stderr(), stats.final_variance()
    for i, suffix in enumerate(_coords(D)):
        yield {"metric": f"var{suffix}", "value": var[i].item()}
        yield {"metric": f"var{suffix}_stderr", "value": err[i].item()}
        yield {"metric": f"var_final{suffix}", "value": final[i].item()}
    yield {"metric": "diverged_runs", "value": float(stats.diverged())}


def _scatter_rows(stats, p, Sigmas: dict):
    """Final-step points (the first `scatter_points` runs, for the plot) and, over all runs, the share inside
    each 3-sigma ellipse w^T Sigma^-1 w <= 9 of the given theory covariances."""
    final = stats.final.double()
    for c in range(min(p.get("scatter_points", 0), len(final))):
        yield {"metric": "w1", "value": final[c, 0].item(), "chain": c}
        yield {"metric": "w2", "value": final[c, 1].item(), "chain": c}
    if p.get("crop"):   # the paper's plotting window [-crop, crop]^2: second moments of the points inside it
        inside = (final.abs() <= p["crop"]).all(1)
        yield {"metric": "share_in_window", "value": inside.double().mean().item()}
        for i, suffix in enumerate(_coords(final.shape[1])):
            yield {"metric": f"var{suffix}_in_window", "value": (final[inside, i] ** 2).mean().item()}
    for name, Sigma in Sigmas.items():
        if np.all(np.isfinite(Sigma)):
            inv = torch.as_tensor(np.linalg.inv(Sigma))
            inside = (torch.einsum("ri,ij,rj->r", final, inv, final) <= 9).double().mean()
            yield {"metric": f"share_in_{name}_ellipse", "value": inside.item()}


@experiment("sgd_fluctuation.white")
def white(p, ctx):
    """Chains on L = ½ wᵀKw (K diagonal) with additive noise of covariance `noise_cov`·I in `noise_space`."""
    K = np.diag(p["K"])
    D, lr = len(K), _lr(p)
    opt = Optimizer(lr, momentum=p.get("mu", 0.0))
    stats = simulate_quadratic(K, opt, p["steps"], p["runs"], p.get("noise_cov", 1.0), generator=ctx.generator("noise"),
                               noise_space=p["noise_space"], noise=p.get("noise", "gaussian"), df=p.get("df"))
    yield from _variance_rows(stats, D)
    if p.get("samples", 0):   # final-step values of the first runs, for a histogram
        for c, w in enumerate(stats.final[: p["samples"], 0].tolist()):
            yield {"metric": "w_final", "value": w, "chain": c}
    if D == 2:
        C = _grad_cov(p, lr, D)
        yield from _scatter_rows(stats, p, {"disc": theory.cor1_cov(K, C, lr, p.get("mu", 0.0)),
                                            "cts": theory.continuous_cov(K, C, lr, p.get("mu", 0.0))})


def _grad_cov(p, lr, D) -> np.ndarray:
    """Gradient-noise covariance C of the white-noise setting: noise_cov·I, divided by λ² in weight space."""
    C = float(p.get("noise_cov", 1.0)) * np.eye(D)
    return C / lr**2 if p["noise_space"] == "weight" else C


@experiment("sgd_fluctuation.white_theory")
def white_theory(p, ctx):
    """Cor 1 (`form: discrete`) or the continuous-time Σ (`form: continuous`) of the white-noise setting."""
    K = np.diag(p["K"])
    D, lr, mu = len(K), _lr(p), p.get("mu", 0.0)
    C = _grad_cov(p, lr, D)
    Sigma = (theory.cor1_cov if p["form"] == "discrete" else theory.continuous_cov)(K, C, lr, mu)
    for i, suffix in enumerate(_coords(D)):
        yield {"metric": f"var{suffix}", "value": Sigma[i, i]}


def _data(p):
    g = torch.Generator().manual_seed(int(p["data_seed"]))
    return make_regression_data(p["N"], p["input_var"], p["w_star"], p["noise_std"], generator=g)


@experiment("sgd_fluctuation.minibatch", version=5)   # 2-5: faster exact samplers (same laws); 5: C++ subset kernel
def minibatch(p, ctx):
    """Minibatch SGD(M) chains on the ½·MSE regression dataset of `data_seed` (or fresh samples)."""
    data = _data(p)
    lr = float(p["lr"]) if "lr" in p else float(p["lr_k"]) / float(p["input_var"][0])
    opt = Optimizer(lr, momentum=p.get("mu", 0.0))
    stats = simulate_minibatch_regression(data, opt, p["S"], p["steps"], p["runs"], generator=ctx.generator("batches"),
                                          sampling=p["sampling"])
    D = len(p["input_var"])
    yield from _variance_rows(stats, D)
    threshold = 2 * p["S"] / (p["S"] + 2)   # exact (N -> inf) divergence of the second moment: lambda k = 2S/(S+2)
    if lr * max(p["input_var"]) > threshold and p.get("mu", 0.0) == 0.0:
        print(f"warning: lambda k_max = {lr * max(p['input_var']):.3g} > 2S/(S+2) = {threshold:.3g}: the stationary "
              "second moment diverges (heavy tail); variances here are not stationary estimates")
        yield {"metric": "heavy_tail_warning", "value": 1.0}
    if D == 2:
        K, C = np.diag(p["input_var"]), np.diag(p["input_var"]) / p["S"] * p["noise_std"] ** 2
        yield from _scatter_rows(stats, p, {"disc": theory.cor1_cov(K, C, lr, p.get("mu", 0.0)),
                                            "cts": theory.continuous_cov(K, C, lr, p.get("mu", 0.0))})


@experiment("sgd_fluctuation.minibatch_theory")
def minibatch_theory(p, ctx):
    """Theories of the minibatch variance. `form`:
    hessian     Cor 1 / Cor 2 with the Hessian approximation C = σ²K/S (σ² = noise_std², nominal K);
    continuous  λ/(2S(1−μ)) σ² K⁻¹K = the continuous-time Σ with the same C;
    realised    Cor 1 / Lyapunov with the realised data's k̂ and residual noise (catalog, recommended for gates);
    exact       the exact second-moment fixed point on the realised data (multiplicative noise included);
    exact_fresh the exact N → ∞ fixed point (fresh samples)."""
    lr = float(p["lr"]) if "lr" in p else float(p["lr_k"]) / float(p["input_var"][0])
    mu, S, form = p.get("mu", 0.0), p["S"], p["form"]
    K = np.diag(p["input_var"])
    sigma2 = p["noise_std"] ** 2
    if form == "hessian":
        Sigma = theory.cor1_cov(K, sigma2 * K / S, lr, mu)
    elif form == "continuous":
        Sigma = theory.continuous_cov(K, sigma2 * K / S, lr, mu)
    elif form == "exact_fresh":
        Sigma = theory.minibatch_exact_cov_fresh(K, sigma2, S, lr, mu)
    else:
        data = _data(p)
        X, y = data.X.numpy(), data.y.numpy()
        fn = theory.realised_data_cov if form == "realised" else theory.minibatch_exact_cov_finite
        Sigma = fn(X, y, S, lr, mu, sampling=p["sampling"])
    for i, suffix in enumerate(_coords(len(K))):
        yield {"metric": f"var{suffix}", "value": Sigma[i, i]}


@experiment("sgd_fluctuation.overshoot_path")
def overshoot_path(p, ctx):
    """Fig 1 left: noiseless gradient descent on ½kw², discrete w_t = (1−λk)^t w₀ (form: discrete) or the
    gradient flow w₀ e^{−λkt} at the same times (form: continuous)."""
    lk = p["lr"] * p["k"]
    for t in range(p["path_steps"] + 1):
        w = p["w0"] * ((1 - lk) ** t if p["form"] == "discrete" else math.exp(-lk * t))
        yield {"step": t, "metric": "w", "value": w}
        yield {"step": t, "metric": "loss", "value": 0.5 * p["k"] * w * w}


@experiment("sgd_fluctuation.gaussian_density")
def gaussian_density(p, ctx):
    """Fig 1 right: the stationary density N(0, Var) of Cor 1 with unit weight-space noise, on a grid of w."""
    var = float(theory.var_white_discrete(p["lr_k"]))
    for w in np.linspace(-p["half_width"], p["half_width"], 161):
        yield {"metric": "density", "value": math.exp(-w * w / (2 * var)) / math.sqrt(2 * math.pi * var), "w": w}
    yield {"metric": "var", "value": var}


@experiment("sgd_fluctuation.escaping_efficiency")
def escaping_efficiency(p, ctx):
    """Fig 5: E(t) = E[L(w_t) − L(w₀)] from w₀ = 0 with gradient-space noise C = noise_cov·I."""
    D = len(p["K"])
    res = escape_sim.simulate_escaping_efficiency(np.diag(p["K"]), p["noise_cov"] * np.eye(D), p["lr"], p["t_max"],
                                                  p["runs"], generator=ctx.generator("noise"))
    for t, m, s in zip(res.steps.tolist(), res.mean.tolist(), res.stderr.tolist()):
        yield {"step": t, "metric": "E", "value": m}
        yield {"step": t, "metric": "E_stderr", "value": s}


@experiment("sgd_fluctuation.escaping_efficiency_theory")
def escaping_efficiency_theory(p, ctx):
    """Thm 7 (form: discrete) and Zhu et al.'s continuous E_c(t) (form: continuous), with their t → ∞ limits."""
    D = len(p["K"])
    K, C = np.diag(p["K"]), p["noise_cov"] * np.eye(D)
    fn = theory.escaping_efficiency_discrete if p["form"] == "discrete" else theory.escaping_efficiency_continuous
    for t in range(p["t_max"] + 1):
        yield {"step": t, "metric": "E", "value": float(fn(K, C, p["lr"], t))}
    limit = theory.escaping_efficiency_discrete_limit(K, C, p["lr"]) if p["form"] == "discrete" \
        else theory.escaping_efficiency_continuous_limit(C, p["lr"])
    yield {"metric": "E_limit", "value": float(limit)}


@experiment("sgd_fluctuation.kramers_rate")
def kramers_rate(p, ctx):
    """Fig 6(b): escape rate γ/|k_b| against the loss scale r on the calibrated piecewise-quadratic well.
    One run covers the r grid, because the fitted curve (Thm 9 × c, c by least squares against the
    simulation, as the paper's 'discrete-time correction') needs every simulated point. Rows carry their own
    series: the simulation, Thm 9 and its fitted version, and the continuous-time rate."""
    lr, S = p["lr"], p["S"]
    sim, thm9, cts = [], [], []
    for r in p["scales"]:
        well = escape_sim.calibrated_well(r)
        # the same noise stream at every r (common random numbers): the rates of neighbouring r are then
        # positively correlated, so their difference, which the monotonicity claim reads, is far less noisy
        times = escape_sim.simulate_escape(well, lr, S, p["runs"], generator=ctx.generator("noise"),
                                           max_steps=p["max_steps"])
        sim.append(times.rate(lr) / well.k_b)
        args = (well.k_a, well.k_b, well.barrier, well.l, lr, S)
        thm9.append(float(theory.kramers_rate_discrete(*args)) / well.k_b)
        cts.append(float(theory.kramers_rate_continuous(*args)) / well.k_b)
        yield {"metric": "rate", "value": sim[-1], "r": r}
        yield {"metric": "censored_runs", "value": float((times.steps <= 0).sum()), "r": r}
    c = float(np.dot(thm9, sim) / np.dot(thm9, thm9))
    for r, a, b in zip(p["scales"], thm9, cts):
        yield {"metric": "rate", "value": a, "r": r, "series": "thm9", "kind": "theory"}
        yield {"metric": "rate", "value": c * a, "r": r, "series": "thm9_fitted", "kind": "theory"}
        yield {"metric": "rate", "value": b, "r": r, "series": "continuous", "kind": "theory"}
    yield {"metric": "fitted_c", "value": c, "series": "thm9_fitted", "kind": "theory"}


@experiment("sgd_fluctuation.kramers_ito_exact")
def kramers_ito_exact(p, ctx):
    """Fig 6(b), beside Thm 9: the exact escape rate of the Itô limit of SGD (mean first-passage time by quadrature,
    theory.kramers_rate_ito_exact) on the calibrated well at every r (metric rate, / |k_b| as the figure), and on
    asymmetric wells (k_a = 1, |k_b| in `kb_check`, ΔL = 1, l = ½, λ = `check_lr`, S = 1: small noise) the exact rate
    over the two Arrhenius prefactors, k_a/2π (ratio_ka) and Thm 9's |k_b|/2π (ratio_kb)."""
    lr, S = p["lr"], p["S"]
    for r in p["scales"]:
        well = escape_sim.calibrated_well(r)
        args = (well.k_a, well.k_b, well.barrier, well.l, lr, S)
        yield {"metric": "rate", "value": theory.kramers_rate_ito_exact(*args) / well.k_b, "r": r}
    for kb in p["kb_check"]:
        args = (1.0, kb, 1.0, 0.5, p["check_lr"], 1)
        exact = theory.kramers_rate_ito_exact(*args)
        arrhenius = np.exp(-theory.kramers_exponent(*args)) / (2 * np.pi)
        yield {"metric": "ratio_ka", "value": exact / (1.0 * arrhenius), "k_b": kb}
        yield {"metric": "ratio_kb", "value": exact / (kb * arrhenius), "k_b": kb}


@experiment("sgd_fluctuation.kramers_schematic")
def kramers_schematic(p, ctx):
    """Fig 6(a), an illustration: a double well with minimum a, switch point l, barrier b, and the discrete
    (Cor 1-like, C = k_a/S) and continuous stationary densities at a."""
    well = escape_sim.calibrated_well(1.0)
    lr, S = p["lr"], p["S"]
    var_d = float(theory.var_minibatch_hessian(lr, well.k_a, S))
    var_c = float(theory.var_minibatch_continuous(lr, S))
    ws = np.linspace(-well.w_b, 2 * well.w_b, 241)
    loss = well.loss(torch.as_tensor(np.where(ws < 0, -ws, ws))).numpy()
    for w, L in zip(ws, loss):
        yield {"metric": "loss", "value": float(L), "w": float(w)}
        yield {"metric": "density_discrete", "value": math.exp(-w * w / (2 * var_d)) / math.sqrt(2 * math.pi * var_d), "w": float(w)}
        yield {"metric": "density_continuous", "value": math.exp(-w * w / (2 * var_c)) / math.sqrt(2 * math.pi * var_c), "w": float(w)}
    for name, w in (("a", 0.0), ("l", well.w_l), ("b", well.w_b), ("half_width", math.sqrt(well.barrier / well.k_a))):
        yield {"metric": f"point_{name}", "value": w}


def _table_cases(p):
    """Table 1's methods at one mu: name -> (matrix learning rate Lambda, constant C for the Sigma rows, C for
    the L_train rows, QHM nu, closed-form Sigma, closed-form L_train). Sigma rows use the commuting C = diag(C)
    where the closed form assumes [C, K] = 0; L_train rows use the full C where the theorem allows any C. NGD
    and Adam are self-consistent fixed points: their Lambda (and Adam's C = cKΣK) are frozen at the predicted
    Sigma, and the exact solver (and the simulation) must then give back that Sigma."""
    K, C_full = np.diag(p["K"]), np.array(p["C"], dtype=np.float64)
    C_comm = np.diag(np.diag(C_full))
    lr, mu, I = p["lr"], p["mu"], np.eye(len(p["K"]))
    cases = {"sgdm": (lr * I, C_comm, C_full, None, theory.cor1_cov(K, C_comm, lr, mu),
                      theory.thm5_train_loss(K, C_full, lr, mu)),
             "qhm": (lr * I, C_comm, C_full, p["qhm_nu"], None, None),
             "dnm": (lr * np.linalg.inv(K), C_full, C_full, None, theory.dnm_cov(K, C_full, lr, mu),
                     theory.dnm_train_loss(K, C_full, lr, mu))}
    Sigma = theory.ngd_cov(K, C_comm, lr, mu)
    cases["ngd"] = (lr * np.linalg.inv(K @ Sigma @ K), C_comm, C_comm, None, Sigma, theory.ngd_train_loss(K, C_comm, lr, mu))
    if mu == 0.0:
        c = p["adam_c"]
        Sigma = theory.adam_cov(K, lr, c)
        C_adam = c * K @ Sigma @ K
        evals, V = np.linalg.eigh((1 + c) * K @ Sigma @ K)
        Lam = lr * (V / np.sqrt(evals)) @ V.T
        cases["adam"] = (Lam, C_adam, C_adam, None, Sigma, theory.adam_train_loss(K, lr, c))
    return K, cases


@experiment("sgd_fluctuation.theory_table")
def theory_table(p, ctx):
    """Table 1: Sigma_11, Sigma_22 and L_train of each method from `source` = closed_form | lyapunov |
    simulation | earlier (the small-lambda results of previous work, SGD/SGDM only)."""
    K, cases = _table_cases(p)
    mu, source = p["mu"], p["source"]
    for method, (Lam, C_sig, C_loss, nu, Sigma_cf, L_cf) in cases.items():
        if source == "closed_form":
            if Sigma_cf is None:
                continue
            Sigma, L = Sigma_cf, L_cf
        elif source == "lyapunov":
            Sigma = lyapunov.stationary_cov_w(K, C_sig, Lam, mu, nu)
            L = 0.5 * float(np.trace(K @ lyapunov.stationary_cov_w(K, C_loss, Lam, mu, nu)))
        elif source == "simulation":
            opt = Optimizer(torch.as_tensor(Lam), momentum=mu, nu=nu)
            run = lambda C, stream: simulate_quadratic(  # noqa: E731
                K, opt, p["steps"], p["runs"], C, generator=ctx.generator(stream), dtype=torch.float64).pooled.numpy()
            Sigma = run(C_sig, f"{method}_sigma")
            L = 0.5 * float(np.trace(K @ (Sigma if C_loss is C_sig else run(C_loss, f"{method}_loss"))))
        elif source == "earlier":
            if method != "sgdm":
                continue
            Sigma = theory.continuous_cov(K, C_sig, p["lr"], mu)
            L = (theory.sgd_train_loss_earlier(K, C_loss, p["lr"]) if mu == 0.0
                 else theory.sgdm_train_loss_earlier(K, C_loss, p["lr"], mu))
        else:
            raise ValueError(f"unknown source {source!r}")
        for metric, value in (("sigma_11", Sigma[0, 0]), ("sigma_22", Sigma[1, 1]), ("L_train", L)):
            yield {"metric": metric, "value": float(value), "method": method}
