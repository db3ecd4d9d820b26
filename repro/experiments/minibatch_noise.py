"""Strength of Minibatch Noise in SGD (Ziyin, Liu, Mori, Ueda; ICLR 2022, arXiv 2102.05375).
Spec: catalog minibatch_noise.md. Closed forms: repro/theory/minibatch.py (exact minibatch noise) and
repro/theory/sgd.py; simulations: repro/sim/minibatch.py (fresh samples, high-dimensional regression) and
repro/sim/linear.py (finite data with replacement); Fig 1's networks: repro/nn/two_layer.py.

Conventions (catalog "Reference implementation notes"):
- Parameters are physical: `A` (diagonal of E[xxᵀ]), `lr` (λ), `S`, `mu`, `sigma2` (label noise), `B` (input
  noise, diagonal), `gamma` (L2, Γ = γI), `u` (teacher). `source` picks the noise: label | input | l2.
- Sampling: `fresh` (new samples every step: the N → ∞ theory) unless a figure gives N (`replacement`, Def. 2).
- Chains start at w = 0. Stationary moments are pooled over runs and the steps after burn-in (default: the last
  two-thirds), about the known stationary mean w* (label noise: w is measured relative to u, i.e. w* = 0).
  `var` is that time average, `var_final` the across-run second moment at the last step (the paper's estimator).
- Losses of the simulation are the population losses evaluated on the simulated stationary moments:
  L_train = E[L(w)] on the training distribution, L_test = ½E[(w − u)ᵀA(w − u)] on clean inputs.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from repro.experiments.registry import experiment
from repro.sim import minibatch as msim
from repro.sim.linear import Optimizer, simulate_minibatch_regression
from repro.sim.regression import make_regression_data
from repro.theory import minibatch as mt
from repro.theory import sgd as sgd_theory


def _coords(D: int):
    return [""] if D == 1 else [f"_w{i + 1}" for i in range(D)]


def _problem(p) -> dict:
    """The physical parameters of the `source` problem, as plain floats / lists."""
    A = [float(v) for v in p["A"]]
    D = len(A)
    out = {"A": A, "S": int(p["S"])}
    if p["source"] == "label":
        out["sigma2"] = float(p["sigma2"])
    else:
        out["u"] = [float(v) for v in np.broadcast_to(np.asarray(p["u"], dtype=float), (D,))]
        if p["source"] == "input":
            out["B"] = [float(v) for v in np.broadcast_to(np.asarray(p["B"], dtype=float), (D,))]
        else:
            out["gamma"] = float(p["gamma"])
    return out


def _loss_terms(source: str, q: dict):
    """(H, c, train constant): L_train = ½Tr[HΣ] + constant, L_test = ½E[(δ + c)ᵀA(δ + c)] with δ = w − w*,
    c = w* − u (label noise: w is measured about u, c = 0)."""
    A = np.diag(q["A"])
    if source == "label":
        return A, np.zeros(len(A)), q["sigma2"] / 2
    if source == "input":
        K, _, c_train, _, w_star = mt.input_noise_parts(A, np.diag(q["B"]), q["u"])
        return K, w_star - np.asarray(q["u"]), c_train
    K, Gam, _, w_star = mt.l2_parts(A, q["gamma"], q["u"])
    c_train = 0.5 * float(np.asarray(q["u"]) @ A @ np.linalg.inv(K) @ Gam @ np.asarray(q["u"]))
    return K, w_star - np.asarray(q["u"]), c_train


def _losses_from_moments(source, q, second, mean):
    """Population losses at the simulated moments: second = E[δδᵀ] [D, D], mean = E[δ] [D]."""
    H, c, c_train = _loss_terms(source, q)
    A = np.diag(q["A"])
    L_train = 0.5 * float(np.trace(H @ second)) + c_train
    L_test = 0.5 * float(np.trace(A @ second)) + float(c @ A @ mean) + 0.5 * float(c @ A @ c)
    return L_train, L_test


def _finite_data(p):
    g = torch.Generator().manual_seed(int(p["data_seed"]))
    return make_regression_data(int(p["N"]), [float(v) for v in p["A"]], 0.0, float(p["sigma2"]) ** 0.5, generator=g)


@experiment("minibatch_noise.sgd")
def sgd_chains(p, ctx):
    """Minibatch SGD(M) chains on the `source` problem (fresh samples, or a finite dataset of N samples drawn with
    replacement for label noise). Optional: tail-index estimates (`tail: true`, 1-D), 2-D scatter points and the
    shares of snapshots inside each theory's 3-sigma ellipse (`ellipses: true`)."""
    source, q = p["source"], _problem(p)
    D, lr, mu = len(q["A"]), float(p["lr"]), float(p.get("mu", 0.0))
    steps, runs = int(p["steps"]), int(p["runs"])
    burn_in = int(p.get("burn_in", steps // 3))
    opt = Optimizer(lr, momentum=mu)
    record = ()
    if p.get("tail") or p.get("ellipses"):
        thin = int(p.get("thin", 10))
        record = tuple(range(burn_in + thin, steps + 1, thin))
    gen = ctx.generator("batches")
    if p.get("sampling", "fresh") == "fresh":
        stats = msim.simulate(source, q, opt, steps, runs, generator=gen, burn_in=burn_in, record_steps=record)
    elif p["sampling"] == "replacement" and source == "label":
        data = _finite_data(p)
        stats = simulate_minibatch_regression(data, opt, q["S"], steps, runs, generator=gen, sampling="replacement",
                                              burn_in=burn_in, record_steps=record)
    else:
        raise ValueError(f"sampling {p.get('sampling')!r} is not simulated for source {source!r}")

    var, err, final = stats.variance(), stats.variance_stderr(), stats.final_variance()
    for i, suffix in enumerate(_coords(D)):
        yield {"metric": f"var{suffix}", "value": var[i].item()}
        yield {"metric": f"var{suffix}_stderr", "value": err[i].item()}
        yield {"metric": f"var_final{suffix}", "value": final[i].item()}
        yield {"metric": f"mean{suffix}", "value": stats.mean()[i].item()}
    fin = stats.final.double()
    bad = ~torch.isfinite(fin).all(1) | (fin.abs() > float(p.get("diverge_threshold", 1e6))).any(1)
    yield {"metric": "diverged_fraction", "value": bad.double().mean().item()}
    second, mean = stats.pooled.double().numpy(), stats.mean().double().numpy()
    L_train, L_test = _losses_from_moments(source, q, second, mean)
    yield {"metric": "L_train", "value": L_train}
    yield {"metric": "L_test", "value": L_test}
    fin_np = fin.numpy()
    with np.errstate(invalid="ignore", over="ignore"):
        _, L_test_f = _losses_from_moments(source, q, fin_np.T @ fin_np / runs, fin_np.mean(0))
    yield {"metric": "L_test_final", "value": L_test_f}

    if p.get("tail"):
        if D != 1 or source != "label":
            raise ValueError("tail-index estimates are for 1-D label noise")
        a, s2 = q["A"][0], q["sigma2"]
        samples = stats.snapshots[..., 0].reshape(-1).double().numpy()
        cap = int(p.get("max_samples", 400_000))
        if len(samples) > cap:
            samples = samples[:: math.ceil(len(samples) / cap)]
        beta_var = float(mt.tail_index_from_variance(var[0].item(), a, s2))
        beta_t = mt.tail_index_t_mle(samples)
        yield {"metric": "beta_var", "value": beta_var}
        yield {"metric": "beta_var_final", "value": float(mt.tail_index_from_variance(final[0].item(), a, s2))}
        yield {"metric": "beta_tmle", "value": beta_t}
        yield {"metric": "beta_hill", "value": mt.tail_index_hill(samples)}
        yield {"metric": "tail_samples", "value": float(len(samples))}
        # beta < 4: the fourth moment is infinite, so variance inversion converges slowly (beta <= 2: not at all);
        # flagged from the primary estimate.
        yield {"metric": "flag_beta_lt_4", "value": float(beta_var < 4)}

    if p.get("ellipses"):
        if D != 2 or source != "label":
            raise ValueError("ellipse shares are for 2-D label noise")
        for c in range(min(int(p.get("scatter_points", 0)), runs)):
            yield {"metric": "w1", "value": fin[c, 0].item(), "chain": c}
            yield {"metric": "w2", "value": fin[c, 1].item(), "chain": c}
        pts = stats.snapshots.reshape(-1, D).double()
        for name, Sigma in _theory_covs(q, lr, mu).items():
            if np.all(np.isfinite(Sigma)):
                inv = torch.as_tensor(np.linalg.inv(Sigma))
                inside = (torch.einsum("ri,ij,rj->r", pts, inv, pts) <= 9).double().mean().item()
                yield {"metric": f"share_in_{name}_ellipse", "value": inside}


def _theory_covs(q, lr, mu) -> dict:
    A = np.diag(q["A"])
    return {"exact": mt.label_noise_cov(A, q["sigma2"], q["S"], lr, mu),
            "discrete": mt.hessian_cov_discrete(A, q["S"], lr),
            "continuous": mt.hessian_cov_continuous(A, q["S"], lr)}


@experiment("minibatch_noise.theory")
def theory(p, ctx):
    """Theory rows of the `source` problem at one grid point. `form`:
    exact        Theorem 2 / Thm 8 (label), Prop 9 with the corrected L_test (input), Eqs. 11-12 (L2);
    lyapunov     the same Σ from the state-dependent Lyapunov solver (any μ; a cross-check);
    discrete     discrete-time Hessian approximation (Table 2), continuous: continuous-time (Table 2);
    exact_finite the exact fixed point on the realised finite dataset (label noise, sampling with replacement);
    tail         β = 2S/(aλ) − S,   tail_continuous  β_cts = 2S/(aλ) + 1   (1-D label noise, metric beta);
    tail_exact   the exact tail exponent α of the 1-D stationary law, E|1 − aλχ²_S/S|^α = 1 (metric beta);
    printed      the input-noise L_test as printed (Eq. 134), to document the erratum.
    Metrics: var / var_w<i> (diagonal of Σ about w*), L_train, L_test; +inf outside stationarity."""
    source, form, q = p["source"], p["form"], _problem(p)
    A, lr, mu, S = np.diag(q["A"]), float(p["lr"]), float(p.get("mu", 0.0)), q["S"]
    D = len(A)
    if form in ("tail", "tail_continuous", "tail_exact"):
        fn = {"tail": mt.tail_index, "tail_continuous": mt.tail_index_continuous,
              "tail_exact": mt.tail_index_exact}[form]
        yield {"metric": "beta", "value": float(fn(lr * q["A"][0], S))}
        return
    kw = {k: q[k] for k in ("sigma2", "B", "gamma", "u") if k in q}
    if "B" in kw:
        kw["B"] = np.diag(kw["B"])
    L = None
    if form == "exact":
        if mu != 0.0:
            Sigma = {"label": lambda: mt.label_noise_cov(A, q["sigma2"], S, lr, mu),
                     "input": lambda: mt.input_noise_cov(A, kw["B"], q["u"], S, lr, mu)}[source]()
        else:
            Sigma, L_train, L_test = mt.exact_losses(source, S, lr, A, **kw)
            L = (L_train, L_test)
    elif form == "lyapunov":
        Sigma = {"label": lambda: mt.label_noise_cov_lyapunov(A, q["sigma2"], S, lr, mu),
                 "input": lambda: mt.input_noise_cov_lyapunov(A, kw["B"], q["u"], S, lr, mu),
                 "l2": lambda: mt.l2_cov_lyapunov(A, q["gamma"], q["u"], S, lr, mu)}[source]()
    elif form in ("discrete", "continuous"):
        Sigma, L_train, L_test = mt.hessian_losses(form, source, S, lr, A, **kw)
        L = (L_train, L_test)
    elif form == "exact_finite":
        data = _finite_data(p)
        Sigma = sgd_theory.minibatch_exact_cov_finite(data.X.numpy(), data.y.numpy(), S, lr, mu,
                                                      sampling=p.get("sampling", "replacement"))
    elif form == "printed":
        yield {"metric": "L_test", "value": mt.input_noise_test_loss_printed(A, kw["B"], q["u"], S, lr)}
        return
    else:
        raise ValueError(f"unknown form {form!r}")
    for i, suffix in enumerate(_coords(D)):
        yield {"metric": f"var{suffix}", "value": float(Sigma[i, i])}
    if L is None and np.all(np.isfinite(Sigma)):
        L = _losses_from_moments(source, q, Sigma, np.zeros(D))
    if L is not None:
        yield {"metric": "L_train", "value": float(L[0])}
        yield {"metric": "L_test", "value": float(L[1])}


# ----------------------------------------------------------------------------------------------------------
# fig=6: high-dimensional regression.


def _highdim_data(p):
    """x ~ N(0, I_D), u ~ N(0, I/D), y = uᵀx + ε with Var ε = σ²; N = round(αD); fixed by `data_seed` and α."""
    D = int(p["D"])
    N = int(round(float(p["alpha"]) * D))
    g = torch.Generator().manual_seed(int(p["data_seed"]) * 1_000_003 + N)
    X = torch.randn(N, D, generator=g, dtype=torch.float64)
    u = torch.randn(D, generator=g, dtype=torch.float64) / math.sqrt(D)
    y = X @ u + math.sqrt(float(p["sigma2"])) * torch.randn(N, generator=g, dtype=torch.float64)
    return X, y


def _residual_and_eigs(X, y):
    N = len(X)
    w_hat = torch.linalg.lstsq(X, y.unsqueeze(1), driver="gelsd").solution.squeeze(1)
    resid = float(((y - X @ w_hat) ** 2).mean())
    eigs = torch.linalg.eigvalsh(X.T @ X / N).clamp(min=0).numpy()
    return resid, eigs


@experiment("minibatch_noise.highdim")
def highdim(p, ctx):
    """SGD chains on a realised high-dimensional regression (sampling with replacement): the time average of
    Tr[Â(w − ŵ)(w − ŵ)ᵀ] after `burn_in` steps."""
    X, y = _highdim_data(p)
    res = msim.simulate_highdim_regression(X, y, float(p["lr"]), int(p["S"]), int(p["steps"]), int(p["runs"]),
                                           generator=ctx.generator("batches"), burn_in=int(p["burn_in"]),
                                           every=int(p.get("every", 1)))
    yield {"metric": "trace", "value": res.trace}
    yield {"metric": "trace_stderr", "value": res.trace_stderr}
    yield {"metric": "trace_final", "value": res.final_trace}
    resid, _ = _residual_and_eigs(X, y)
    yield {"metric": "residual_var", "value": resid}


@experiment("minibatch_noise.highdim_theory")
def highdim_theory(p, ctx):
    """fig=6 theory at one α: `form` thm6 (Thm 6 on the realised Â with σ²(1 − 1/α)), realised (Thm 6 with the
    realised mean squared residual) or hessian ((λσ²/(2S))·min(N, D))."""
    lr, S, D, s2 = float(p["lr"]), int(p["S"]), int(p["D"]), float(p["sigma2"])
    N = int(round(float(p["alpha"]) * D))
    if p["form"] == "hessian":
        yield {"metric": "trace", "value": mt.highdim_hessian_trace(N, D, s2, S, lr)}
        return
    if p["form"] == "thm6" and mt.highdim_nominal_residual(s2, float(p["alpha"])) == 0.0:
        yield {"metric": "trace", "value": 0.0}     # alpha <= 1: the minimum interpolates, no noise at w-hat
        return
    resid, eigs = _residual_and_eigs(*_highdim_data(p))
    r2 = mt.highdim_nominal_residual(s2, float(p["alpha"])) if p["form"] == "thm6" else resid
    yield {"metric": "trace", "value": mt.highdim_trace(eigs, r2, S, lr)}
    yield {"metric": "stability_sum", "value": mt.highdim_stability_sum(eigs, S, lr)}


# ----------------------------------------------------------------------------------------------------------
# fig=T2: Table 2, three theories x three noise sources on one 2-D problem.


def _table_problem(p):
    return dict(A=np.diag(p["A"]), sigma2=float(p["sigma2"]), B=np.diag(np.broadcast_to(np.asarray(p["B"], float), (2,))),
                gamma=float(p["gamma"]), u=[float(v) for v in p["u"]], S=int(p["S"]), lr=float(p["lr"]))


def _table_rows(Sigma, L_train, L_test, noise):
    for metric, v in (("sigma_11", Sigma[0, 0]), ("sigma_22", Sigma[1, 1]), ("L_train", L_train), ("L_test", L_test)):
        yield {"metric": metric, "value": float(v), "noise": noise}


@experiment("minibatch_noise.table2_theory")
def table2_theory(p, ctx):
    """Table 2 from the code: Σ (diagonal), L_train and L_test for every noise source under `theory` (continuous,
    discrete, exact) or `printed` (the exact column with the input-noise L_test of the printed Eq. 134)."""
    t = _table_problem(p)
    table = mt.theory_table(t["A"], sigma2=t["sigma2"], B=t["B"], gamma=t["gamma"], u=t["u"], batch_size=t["S"],
                            lr=t["lr"])
    if p["theory"] == "printed":
        yield {"metric": "L_test", "value": mt.input_noise_test_loss_printed(t["A"], t["B"], t["u"], t["S"], t["lr"]),
               "noise": "input"}
        return
    for source in mt.SOURCES:
        yield from _table_rows(*table[source, p["theory"]], source)


@experiment("minibatch_noise.table2_sim")
def table2_sim(p, ctx):
    """Table 2's simulation column: fresh-sample SGD chains for every noise source; Σ about w* and the population
    losses at the simulated moments (time averages)."""
    t = _table_problem(p)
    for source in mt.SOURCES:
        q = {"A": list(p["A"]), "S": t["S"]}
        if source == "label":
            q["sigma2"] = t["sigma2"]
        else:
            q["u"] = t["u"]
            q["B" if source == "input" else "gamma"] = np.diag(t["B"]).tolist() if source == "input" else t["gamma"]
        stats = msim.simulate(source, q, Optimizer(t["lr"]), int(p["steps"]), int(p["runs"]),
                              generator=ctx.generator(f"batches_{source}"))
        second, mean = stats.pooled.double().numpy(), stats.mean().double().numpy()
        L_train, L_test = _losses_from_moments(source, q, second, mean)
        yield from _table_rows(second, L_train, L_test, source)


# ----------------------------------------------------------------------------------------------------------
# fig=1: neural networks on MNIST.


def _mnist(p, ctx, device):
    """(x, y, x_test, y_test, data label). dataset=mnist: torchvision's loader from data_dir; dataset=mnist_fixture:
    the same loader on small files in the real idx format generated into a temporary directory (tiny scale and
    tests; rows say data=synthetic). Inputs are divided by 255 (preprocess=div255, the catalog's choice) or
    standardised (preprocess=normalize, repro.data.mnist's default)."""
    import tempfile

    from repro.data import mnist

    def load(root):
        x, y = mnist.load_mnist(root, train=True, device=device)
        xt, yt = mnist.load_mnist(root, train=False, device=device)
        return x, y, xt, yt

    if p["dataset"] == "mnist":
        x, y, xt, yt = load(ctx.data_dir)
        data = "real"
    elif p["dataset"] == "mnist_fixture":
        from repro.data.fixtures import write_mnist

        with tempfile.TemporaryDirectory() as root:
            write_mnist(root, n_train=int(p["n_train"]), n_test=int(p["n_test"]), seed=ctx.seed_for("data_set") % 2**32)
            x, y, xt, yt = load(root)
        data = "synthetic"
    else:
        raise ValueError(f"unknown dataset {p['dataset']!r}; choose mnist or mnist_fixture")
    if p.get("preprocess", "div255") == "div255":     # undo the loader's standardisation: pixels / 255
        x, xt = x * mnist.STD + mnist.MEAN, xt * mnist.STD + mnist.MEAN
    return x, y, xt, yt, data


@experiment("minibatch_noise.width_stability", device="any")
def width_stability(p, ctx):
    """fig=1 (a, b): a two-layer tanh network 784 -> width -> 10 trained for one epoch with cross-entropy, plain SGD or
    Adam (default betas), batch S, learning rate lr (lr_rule=fixed) or lr/width (lr_rule=per_width). Metrics: the
    variance of the minibatch training losses over epoch 1 (var_loss) and over its second half (var_loss_half2);
    +inf once the loss is non-finite (the run stops there)."""
    import torch.nn.functional as F

    from repro.nn.two_layer import two_layer_tanh
    from repro.train import fit, shuffled_batches

    device = ctx.device
    x, y, _, _, data = _mnist(p, ctx, device)
    width = int(p["width"])
    lr = float(p["lr"]) / (width if p["lr_rule"] == "per_width" else 1)
    net = two_layer_tanh(x.shape[1], width, 10, generator=ctx.cpu_generator("init")).to(device)
    opt = (torch.optim.SGD(net.parameters(), lr=lr) if p["optimizer"] == "sgd"
           else torch.optim.Adam(net.parameters(), lr=lr))
    batches = shuffled_batches(len(x), int(p["S"]), ctx.cpu_generator("data"), device, drop_last=True)
    if p.get("max_steps"):
        batches = batches[: int(p["max_steps"])]
    losses = []
    state = yield from fit(opt, lambda idx: F.cross_entropy(net(x[idx]), y[idx]),
                           lambda epoch: ctx.progress(batches, total=len(batches), desc=f"width {width}"), ctx=ctx,
                           check_finite_every=100, on_step=lambda state, idx: losses.append(state.loss))
    diverged = state.diverged
    L = torch.stack(losses).double().cpu()
    diverged = diverged or not bool(torch.isfinite(L).all())
    half = L[len(L) // 2:]
    yield {"metric": "var_loss", "value": math.inf if diverged else L.var().item(), "data": data}
    yield {"metric": "var_loss_half2", "value": math.inf if diverged else half.var().item(), "data": data}
    yield {"metric": "mean_loss", "value": L.mean().item() if not diverged else math.inf, "data": data}
    yield {"metric": "steps", "value": float(len(L)), "data": data}
    yield {"metric": "lr_used", "value": lr, "data": data}


@experiment("minibatch_noise.weight_decay_mnist", device="any")
def weight_decay_mnist(p, ctx):
    """fig=1 (c): softmax regression 784 -> 10 from zero, plain SGD (lr, batch S) on cross-entropy + gamma/2 ||w||^2
    over all parameters (the L2 term inside the gradient, so gamma < 0 is an anti-decay), `epochs` epochs; the test
    accuracy in percent."""
    import torch.nn.functional as F

    from repro.nn.two_layer import softmax_regression
    from repro.train import fit, shuffled_batches

    device = ctx.device
    x, y, xt, yt, data = _mnist(p, ctx, device)
    net = softmax_regression(x.shape[1], 10).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=float(p["lr"]))
    gamma = float(p["gamma"])
    gen = ctx.cpu_generator("data")

    def loss_fn(idx):
        loss = F.cross_entropy(net(x[idx]), y[idx])
        return loss + 0.5 * gamma * sum((w * w).sum() for w in net.parameters())

    state = yield from fit(opt, loss_fn,
                           lambda epoch: shuffled_batches(len(x), int(p["S"]), gen, device, drop_last=True),
                           epochs=int(p["epochs"]), max_steps=int(p["max_steps"]) if p.get("max_steps") else None)
    steps = state.step
    with torch.no_grad():
        logits = net(xt)
        acc = (logits.argmax(1) == yt).double().mean().item() * 100
        train_loss = F.cross_entropy(net(x), y).item()
    finite = all(torch.isfinite(w).all() for w in net.parameters())
    yield {"metric": "test_acc", "value": acc if finite else math.nan, "data": data}
    yield {"metric": "train_loss", "value": train_loss, "data": data}
    yield {"metric": "steps", "value": float(steps), "data": data}
