"""Networks and per-sample quantities of escape_rate fig=1, 2, 4 (arXiv 2105.09557, catalog "Implementation
helpers"): Glorot-initialised ReLU MLPs and the Keskar-style CNN, the Gram matrix K = J Jᵀ of a scalar-output
ReLU MLP (for the spectra of M_exact = JᵀDJ/N and M_dec = L JᵀJ/N through N×N matrices), and the noise strength
𝒩 = (1/N) Σ_μ |∇ℓ_μ|² − |∇L|² from per-sample gradients (torch.func vmap(grad) in chunks, or the exact dense-layer
identity |∇_W ℓ|² = |a|²|δ|², |∇_b ℓ|² = |δ|² for Linear/ReLU stacks).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

Tensor = torch.Tensor


def _glorot_(module: nn.Module, generator: torch.Generator | None) -> None:
    """Glorot (Xavier) uniform weights, zero biases (Keras' defaults, the paper's 'Glorot init'), drawn from
    `generator` on the CPU so that the same init stream gives the same network on any device."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                fan_out, fan_in = m.weight.shape[0], m.weight[0].numel()
                rf = m.weight[0, 0].numel()
                bound = math.sqrt(6.0 / (fan_in + fan_out * rf))
                m.weight.copy_(torch.rand(m.weight.shape, generator=generator) * 2 * bound - bound)
                if m.bias is not None:
                    m.bias.zero_()


def glorot_mlp(dims, generator: torch.Generator | None = None) -> nn.Sequential:
    """Linear-ReLU stack with layer sizes `dims` (e.g. [784, 100, 100, 1]); no activation after the last layer."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(nn.ReLU())
    net = nn.Sequential(*layers)
    _glorot_(net, generator)
    return net


def keskar_cnn(widths=(64, 128, 256), convs_per_block: int = 3, in_channels: int = 3, image_size: int = 32,
               classes: int = 10, generator: torch.Generator | None = None) -> nn.Sequential:
    """The paper's CNN in Keskar notation: per width w, `convs_per_block` × [w, 3, 3, 1] (padding 1) with ReLU,
    then MaxPool(2); finally Linear(·, classes). Default: 3×[64] → pool → 3×[128] → pool → 3×[256] → pool → 10."""
    layers: list[nn.Module] = []
    c = in_channels
    for w in widths:
        for _ in range(convs_per_block):
            layers += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU()]
            c = w
        layers.append(nn.MaxPool2d(2))
    side = image_size // 2 ** len(widths)
    layers += [nn.Flatten(), nn.Linear(c * side * side, classes)]
    net = nn.Sequential(*layers)
    _glorot_(net, generator)
    return net


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------------------------------------
# fig=1: the Gram matrix of a scalar-output ReLU MLP.


def _linear_layers(model: nn.Sequential) -> list[nn.Linear]:
    if not all(isinstance(m, (nn.Linear, nn.ReLU)) for m in model):
        raise ValueError("expected an nn.Sequential of Linear and ReLU layers")
    return [m for m in model if isinstance(m, nn.Linear)]


def _forward_dense(model: nn.Sequential, x: Tensor):
    """Forward pass that keeps each Linear's input A_l and pre-activation z_l (z_l requires grad)."""
    inputs, pre = [], []
    h = x
    for m in model:
        if isinstance(m, nn.Linear):
            inputs.append(h.detach())
            h = m(h)
            pre.append(h)
        else:
            h = m(h)
    return h, inputs, pre


def inputs_and_deltas(model: nn.Sequential, x: Tensor, who: str = "inputs_and_deltas"):
    """(f [N, 1], [A_l], [Δ_l]) of a scalar-output Linear/ReLU stack: each Linear's input A_l and Δ_l = ∂f/∂z_l per
    sample (one backward of Σ_μ f_μ, since samples do not interact); Δ_l detached."""
    with torch.enable_grad():
        out, A, Z = _forward_dense(model, x)
        if out.shape[1] != 1:
            raise ValueError(f"{who} needs a scalar output")
        deltas = torch.autograd.grad(out.sum(), Z)
    return out.detach(), A, [d.detach() for d in deltas]


def mlp_gram(model: nn.Sequential, x: Tensor, chunk: int = 4096) -> tuple[Tensor, Tensor]:
    """(f [N], K [N, N]) for a scalar-output Linear/ReLU MLP: K = J Jᵀ = Σ_l (A_l A_lᵀ) ⊙ (Δ_l Δ_lᵀ) + Δ_l Δ_lᵀ,
    A_l the input of layer l and Δ_l = ∂f/∂z_l (per sample: samples do not interact, so the gradient of Σ_μ f_μ
    gives every Δ_l at once). Built in float64 from `chunk`-row pieces."""
    _linear_layers(model)
    feats_A, feats_D, outs = [], [], []
    for i in range(0, len(x), chunk):
        xb = x[i:i + chunk]
        out, A, deltas = inputs_and_deltas(model, xb, "mlp_gram")
        outs.append(out[:, 0])
        feats_A.append([a.double() for a in A])
        feats_D.append([d.double() for d in deltas])
    f = torch.cat(outs)
    K = torch.zeros(len(x), len(x), dtype=torch.float64, device=x.device)
    for l in range(len(feats_A[0])):
        A = torch.cat([fa[l] for fa in feats_A])
        D = torch.cat([fd[l] for fd in feats_D])
        DD = D @ D.T
        K += (A @ A.T + 1.0) * DD      # weight term (A Aᵀ) ⊙ (Δ Δᵀ) plus the bias term Δ Δᵀ
    return f, K


def decoupling_spectra(K: Tensor, losses: Tensor) -> tuple[Tensor, Tensor]:
    """Eigenvalues (ascending, float64) of the N×N forms of M_exact = JᵀDJ/N and M_dec = L JᵀJ/N:
    D^½ K D^½ / N and L K / N, D = diag(ℓ_μ), L = mean ℓ_μ. Their nonzero eigenvalues are those of the P×P
    matrices."""
    N = len(K)
    l = losses.double()
    s = l.clamp(min=0).sqrt()
    exact = torch.linalg.eigvalsh(s[:, None] * K * s[None, :] / N)
    dec = torch.linalg.eigvalsh(l.mean() * K / N)
    return exact, dec


# ----------------------------------------------------------------------------------------------------------
# fig=2, fig=6: noise strength from per-sample gradients.


def per_sample_loss(kind: str) -> Callable[[Tensor, Tensor], Tensor]:
    """ℓ_μ per sample: mse = ½‖f − onehot(y)‖² summed over the outputs; ce = softmax cross-entropy."""
    if kind == "mse":
        def mse(out, y):   # one-hot by comparison: F.one_hot is not vmap-able
            onehot = (torch.arange(out.shape[-1], device=out.device) == y.unsqueeze(-1)).to(out.dtype)
            return 0.5 * (out - onehot).pow(2).sum(-1)
        return mse
    if kind == "ce":
        return lambda out, y: F.cross_entropy(out, y, reduction="none")
    raise ValueError(f"unknown loss {kind!r}; choose mse or ce")


def noise_strength_vmap(model: nn.Module, loss: str, x: Tensor, y: Tensor, chunk: int = 256) -> dict:
    """𝒩 = (1/N) Σ_μ |∇ℓ_μ|² − |∇L|², with per-sample gradients from torch.func.vmap(grad) over `chunk`-sample
    pieces (|∇L|² from the sum of the per-sample gradients). Returns loss (L), noise (𝒩), mean_sq_grad and
    full_grad_sq."""
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach() for k, v in model.named_parameters()}
    ell = per_sample_loss(loss)

    def one(p, xi, yi):
        return ell(functional_call(model, p, (xi.unsqueeze(0),)), yi.unsqueeze(0))[0]

    per_sample = vmap(grad(one), in_dims=(None, 0, 0))
    total = {k: torch.zeros_like(v, dtype=torch.float64) for k, v in params.items()}
    sq, loss_sum = 0.0, 0.0
    for i in range(0, len(x), chunk):
        xb, yb = x[i:i + chunk], y[i:i + chunk]
        g = per_sample(params, xb, yb)
        sq += float(sum(gi.double().pow(2).flatten(1).sum(1).sum() for gi in g.values()))
        for k, gi in g.items():
            total[k] += gi.double().sum(0)
        with torch.no_grad():
            loss_sum += float(ell(model(xb), yb).double().sum())
    N = len(x)
    full_sq = float(sum((t / N).pow(2).sum() for t in total.values()))
    return {"loss": loss_sum / N, "noise": sq / N - full_sq, "mean_sq_grad": sq / N, "full_grad_sq": full_sq}


def noise_strength_dense(model: nn.Sequential, loss: str, x: Tensor, y: Tensor, chunk: int = 4096) -> dict:
    """The same quantities for a Linear/ReLU stack through the exact identity |∇_W ℓ_μ|² = |a_μ|²|δ_μ|²,
    |∇_b ℓ_μ|² = |δ_μ|² (δ_μ = ∂ℓ_μ/∂z, a_μ the layer input): one forward and backward per chunk."""
    layers = _linear_layers(model)
    ell = per_sample_loss(loss)
    total = [torch.zeros_like(p, dtype=torch.float64) for m in layers for p in (m.weight, m.bias)]
    sq, loss_sum = 0.0, 0.0
    for i in range(0, len(x), chunk):
        xb, yb = x[i:i + chunk], y[i:i + chunk]
        with torch.enable_grad():
            out, A, Z = _forward_dense(model, xb)
            losses = ell(out, yb)
            deltas = torch.autograd.grad(losses.sum(), Z)
        for a, d, j in zip(A, deltas, range(0, 2 * len(layers), 2)):
            a64, d64 = a.double(), d.double()
            sq += float(((a64 * a64).sum(1) * (d64 * d64).sum(1)).sum() + (d64 * d64).sum())
            total[j] += d64.T @ a64
            total[j + 1] += d64.sum(0)
        loss_sum += float(losses.detach().double().sum())
    N = len(x)
    full_sq = float(sum((t / N).pow(2).sum() for t in total))
    return {"loss": loss_sum / N, "noise": sq / N - full_sq, "mean_sq_grad": sq / N, "full_grad_sq": full_sq}
