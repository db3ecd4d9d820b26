"""First-passage times of minibatch SGD on a finite linear-regression dataset (escape_rate fig=3 panel b).

Testbed (arXiv 2105.09557, catalog "Linear-regression testbed"): L(θ) = (1/2N) Σ_μ (θᵀx_μ − y_μ)², θ* the least
squares solution, L* = L(θ*) > 0, H = XᵀX/N, so L(θ) = L* + ½ δᵀHδ exactly with δ = θ − θ*. Plain SGD with
minibatches of B indices drawn with replacement: δ_{k+1} = δ_k − η mean_{μ∈B_k} x_μ (x_μᵀδ_k − ρ_μ), with ρ the
residuals at θ*. Every chain starts at θ*; the first-passage step of level c is the first k with
L(θ_k) > c·L*, i.e. ½ δ_kᵀHδ_k > (c − 1)L*, and t_p = η k in the paper's time units.

All chains advance as one tensor. Steps run in blocks: the minibatch indices and per-sample features of a block
are drawn and gathered at once, the iterates of the block are written into a [block, chains, d] buffer (one
fused op per step in d = 1), and the crossings of every level are found afterwards from the running maximum of
the excess loss over the block (first index where it exceeds each level). Chains that have crossed the highest
level leave the batch. Randomness comes only from the generator passed in (its device is used).

Control (noise="sde", catalog "Optional control curve"): the same first passage under the paper's Gaussian SDE with
the decoupled noise covariance (2L(θ)/B)H, by Euler–Maruyama with time step η.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

Tensor = torch.Tensor


@dataclass(frozen=True)
class FirstPassage:
    steps: Tensor        # [runs, levels] int64 first-passage step per level; -1 if censored at max_steps
    levels: Tensor       # [levels] c, increasing
    max_steps: int

    def censored(self) -> Tensor:
        """[levels] number of runs that had not crossed the level within max_steps."""
        return (self.steps < 0).sum(0)

    def times(self, lr: float) -> Tensor:
        """[runs, levels] t_p = η k in float64, censored runs counted at max_steps (a lower bound)."""
        return torch.where(self.steps > 0, self.steps, self.max_steps).double() * lr


def first_passage_regression(X: Tensor, y: Tensor, batch_size: int, lr: float, levels, runs: int, *,
                             generator: torch.Generator, max_steps: int = 10**7, block: int = 2048,
                             noise: str = "sgd", dtype: torch.dtype = torch.float32) -> FirstPassage:
    """First-passage steps of `runs` chains from θ* over the loss levels c·L* (c in `levels`, increasing, all > 1)
    on the dataset (X [N, d], y [N]). noise="sgd": minibatch SGD (with replacement). noise="sde": the paper's
    Gaussian SDE dθ = −∇L dt + sqrt(η (2L(θ)/B) H) dW (Eq. 13, decoupled noise) by Euler–Maruyama with dt = η,
    i.e. δ' = δ − ηHδ + η sqrt(2L(θ)/B) H^½ ξ, the theory-consistent control. Blocks of `block` steps; runs still
    inside after `max_steps` are censored (-1)."""
    if noise not in ("sgd", "sde"):
        raise ValueError(f"unknown noise {noise!r}; choose sgd or sde")
    device = generator.device
    X64, y64 = X.double().reshape(len(X), -1), y.double().reshape(-1)
    N, d = X64.shape
    theta_star = torch.linalg.lstsq(X64, y64.unsqueeze(1)).solution.squeeze(1)
    rho = y64 - X64 @ theta_star
    loss_star = 0.5 * float((rho * rho).mean())
    H64 = X64.T @ X64 / N
    ev, V = torch.linalg.eigh(H64)
    H = H64.to(dtype=dtype, device=device)
    H_half = ((V * ev.clamp(min=0).sqrt()) @ V.T).to(dtype=dtype, device=device)
    c = torch.as_tensor(levels, dtype=torch.float64)
    if not (c > 1).all() or not (c[1:] > c[:-1]).all():
        raise ValueError(f"levels must be increasing and > 1, got {c.tolist()}")
    thresholds = ((c - 1) * loss_star).to(dtype=dtype, device=device)   # on the excess loss ½ δᵀHδ
    # per-sample features, pre-divided so that a batch sum is the batch mean: x/B, ρx/B (and x for d > 1)
    x_dev = X64.to(dtype=dtype, device=device)
    xr_dev = (X64 * rho.unsqueeze(1) / batch_size).to(dtype=dtype, device=device)
    xx_dev = (X64[:, 0] ** 2 / batch_size).to(dtype=dtype, device=device) if d == 1 else None

    steps = torch.full((runs, len(c)), -1, dtype=torch.long, device=device)
    alive = torch.arange(runs, device=device)
    delta = torch.zeros(runs, d, dtype=dtype, device=device)
    done = 0
    while done < max_steps and alive.numel():
        K = min(block, max_steps - done)
        R = alive.numel()
        if noise == "sde":
            buf = _sde_block(delta, K, H, H_half, loss_star, lr, batch_size, generator)
            excess = 0.5 * ((buf @ H) * buf).sum(-1)
            delta = buf[-1].clone()
        elif d == 1:
            idx = torch.randint(N, (K, R, batch_size), generator=generator, device=device)
            # δ' = a δ + b with a = 1 − η mean x², b = η mean xρ: one addcmul per step into the buffer.
            a = 1.0 - lr * xx_dev[idx].sum(-1)
            b = lr * xr_dev[idx, 0].sum(-1)
            buf = torch.empty(K, R, dtype=dtype, device=device)
            prev = delta[:, 0]
            for k in range(K):
                torch.addcmul(b[k], prev, a[k], out=buf[k])
                prev = buf[k]
            excess = 0.5 * H[0, 0] * buf * buf
            delta = buf[-1].unsqueeze(1).clone()
        else:
            idx = torch.randint(N, (K, R, batch_size), generator=generator, device=device)
            xb = x_dev[idx]                                  # [K, R, B, d]
            xrb = xr_dev[idx].sum(2).mul_(lr)                # [K, R, d] η mean xρ
            xb_scaled = xb * (lr / batch_size)
            buf = torch.empty(K, R, d, dtype=dtype, device=device)
            prev = delta
            for k in range(K):
                proj = torch.matmul(xb[k], prev.unsqueeze(2))                 # [R, B, 1] xᵀδ
                step = torch.matmul(xb_scaled[k].transpose(1, 2), proj)[..., 0]  # η mean x xᵀδ
                torch.sub(prev, step, out=buf[k]).add_(xrb[k])
                prev = buf[k]
            excess = 0.5 * ((buf @ H) * buf).sum(-1)
            delta = buf[-1].clone()
        running_max = torch.cummax(excess, dim=0).values                     # [K, R]
        # first index in the block above each level = number of indices at or below it (running max is monotone)
        first = (running_max.unsqueeze(-1) <= thresholds).sum(0)              # [R, levels]
        fresh = (first < K) & (steps[alive] < 0)
        block_steps = torch.where(fresh, done + first + 1, steps[alive])
        steps[alive] = block_steps
        done += K
        keep = block_steps[:, -1] < 0
        alive, delta = alive[keep], delta[keep]
    return FirstPassage(steps=steps.cpu(), levels=c, max_steps=max_steps)


def _sde_block(delta: Tensor, K: int, H: Tensor, H_half: Tensor, loss_star: float, lr: float, batch_size: int,
               generator: torch.Generator) -> Tensor:
    """K Euler–Maruyama steps of the decoupled-noise SDE from delta [R, d]; returns the iterates [K, R, d]."""
    R, d = delta.shape
    xi = torch.randn(K, R, d, generator=generator, dtype=delta.dtype, device=delta.device) @ H_half
    buf = torch.empty(K, R, d, dtype=delta.dtype, device=delta.device)
    prev = delta
    scale = 2.0 / batch_size
    for k in range(K):
        Hd = prev @ H
        loss = (Hd * prev).sum(1, keepdim=True).mul_(0.5).add_(loss_star)       # L(θ) = L* + ½ δᵀHδ
        std = loss.mul_(scale).sqrt_().mul_(lr)                                  # η sqrt(2L/B)
        torch.addcmul(prev - lr * Hd, std, xi[k], out=buf[k])
        prev = buf[k]
    return buf


def first_passage_mlp1(W1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, X: Tensor, target: Tensor, batch_size: int,
                       lr: float, levels, runs: int, *, generator: torch.Generator, max_steps: int = 10**6,
                       block: int = 256, resync: int = 500, dtype: torch.dtype = torch.float32) -> FirstPassage:
    """First-passage steps of `runs` SGD chains of a one-hidden-layer ReLU network f(x) = w2ᵀ relu(W1 x + b1) + b2
    (W1 [h, in], b1 [h], w2 [h], b2 [] or [1]), all started at the given parameters θ*, on the mean-square loss
    L = (1/2N) Σ_μ (f(x_μ) − t_μ)² of the dataset (X [N, in], target [N]): the first step k at which the full
    training loss exceeds c·L(θ*), for every c in `levels` (escape_rate fig=3(c)).

    Minibatches of `batch_size` indices are drawn with replacement, a block of `block` steps at a time. The full loss
    is checked after every step, without a full forward pass: the hidden pre-activations of the whole training set,
    Z = X W1ᵀ + b1 (held as [runs, h, N]), follow each step's rank-B update of W1 through the Gram matrix G = X Xᵀ
    (ΔZ = −η G[:, batch] δ, δ the batch's back-propagated errors), and are recomputed exactly every `resync` steps
    (float32 drift). Chains that have crossed the highest level stop at the end of their block; runs still inside
    after `max_steps` are censored (-1)."""
    device = generator.device
    X = X.to(device=device, dtype=dtype).reshape(len(X), -1)
    t = target.to(device=device, dtype=dtype).reshape(-1)
    N = len(X)
    c = torch.as_tensor(levels, dtype=torch.float64)
    if not (c > 1).all() or not (c[1:] > c[:-1]).all():
        raise ValueError(f"levels must be increasing and > 1, got {c.tolist()}")
    G = X @ X.T
    W1 = W1.detach().to(device=device, dtype=dtype).unsqueeze(0).repeat(runs, 1, 1)      # [R, h, in]
    b1 = b1.detach().to(device=device, dtype=dtype).unsqueeze(0).repeat(runs, 1)         # [R, h]
    w2 = w2.detach().to(device=device, dtype=dtype).reshape(1, -1).repeat(runs, 1)       # [R, h]
    b2 = b2.detach().to(device=device, dtype=dtype).reshape(1).repeat(runs)              # [R]

    def full_pre(W1, b1):   # transposed pre-activations [R, h, N]: the layout of the updates below
        return torch.matmul(W1, X.T) + b1.unsqueeze(2)

    def full_loss(Zt, w2, b2):
        f = torch.bmm(w2.unsqueeze(1), torch.relu(Zt))[:, 0] + b2.unsqueeze(1)           # [R, N]
        return 0.5 * (f - t).pow(2).mean(1)

    loss_star = float(full_loss(full_pre(W1[:1], b1[:1]), w2[:1], b2[:1]).double())
    thresholds = (c * loss_star).to(dtype=dtype, device=device)
    steps = torch.full((runs, len(c)), -1, dtype=torch.long, device=device)
    alive = torch.arange(runs, device=device)
    Z = full_pre(W1, b1)
    done = 0
    while done < max_steps and alive.numel():
        K = min(block, max_steps - done)
        R = alive.numel()
        idx = torch.randint(N, (K, R, batch_size), generator=generator, device=device)
        s = steps[alive]
        for k in range(K):
            xb, tb = X[idx[k]], t[idx[k]]                                                 # [R, B, in], [R, B]
            z = torch.baddbmm(b1.unsqueeze(1), xb, W1.transpose(1, 2))                    # [R, B, h]
            a = torch.relu(z)
            e = ((a * w2.unsqueeze(1)).sum(-1) + b2.unsqueeze(1) - tb) / batch_size      # dL_B/df [R, B]
            delta = e.unsqueeze(2) * w2.unsqueeze(1) * (z > 0)                            # [R, B, h]
            w2 = w2 - lr * (e.unsqueeze(2) * a).sum(1)
            b2 = b2 - lr * e.sum(1)
            W1 = W1 - lr * torch.bmm(delta.transpose(1, 2), xb)
            db1 = -lr * delta.sum(1)
            b1 = b1 + db1
            step = done + k + 1
            if step % resync == 0:
                Z = full_pre(W1, b1)
            else:   # Zᵀ += ΔW1 Xᵀ + Δb1 with ΔW1 Xᵀ = −η δᵀ G[batch, :]
                Z = torch.baddbmm(Z + db1.unsqueeze(2), delta.transpose(1, 2), G[idx[k]], alpha=-lr)
            L = full_loss(Z, w2, b2)
            fresh = (L.unsqueeze(1) > thresholds) & (s < 0)
            s = torch.where(fresh, step, s)
        steps[alive] = s
        done += K
        keep = s[:, -1] < 0
        alive = alive[keep]
        W1, b1, w2, b2, Z = W1[keep], b1[keep], w2[keep], b2[keep], Z[keep]
    return FirstPassage(steps=steps.cpu(), levels=c, max_steps=max_steps)
