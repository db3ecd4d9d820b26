"""K models of one architecture trained as one (the label-noise papers' sweeps: one model per hyperparameter value).

The K parameter sets are stacked along a leading axis (torch.func.stack_module_state) and the forward pass is
vmapped over it (functional_call), so a step of K models costs one batched step. The optimizers are element-wise
(SGD with momentum and weight decay, Adam) with one hyperparameter per model held as a tensor of K values, so each
model takes the step torch.optim would give it alone (tests/train/test_stacked.py checks it step for step).

    stack = StackedModels([make_model(seed) for seed in range(K)])
    opt = StackedSGD(stack.parameters(), lr=torch.tensor(lrs), momentum=0.9, weight_decay=torch.tensor(wds))
    rows = fit(opt, lambda idx: stacked_cross_entropy(stack(x[idx]), y[idx]), batches, ...)

A loss with one entry per model (shape (K,)) is summed for the backward pass by train_step: model k's gradient is
that of its own loss; state.loss keeps the K values for the hooks.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state, vmap


class StackedModels:
    """K models with the same architecture as one: parameters and buffers of shape (K, ...)."""

    def __init__(self, models: list[torch.nn.Module]):
        self.k = len(models)
        self.params, self.buffers = stack_module_state(models)
        self._base = copy.deepcopy(models[0]).to("meta")   # the architecture only: the weights are in self.params

        def one(params, buffers, x):
            return functional_call(self._base, (params, buffers), (x,))

        self._shared_input = vmap(one, in_dims=(0, 0, None))
        self._own_input = vmap(one, in_dims=(0, 0, 0))

    def __call__(self, x: torch.Tensor, per_model: bool = False) -> torch.Tensor:
        """Outputs (K, batch, ...): every model on the same x, or with per_model model k on x[k] (x: (K, batch, ..))."""
        return (self._own_input if per_model else self._shared_input)(self.params, self.buffers, x)

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    def train(self, mode: bool = True) -> "StackedModels":
        """Training (BatchNorm on batch statistics, updating its running ones) or eval mode, as nn.Module.train."""
        self._base.train(mode)
        return self

    def model(self, k: int, like: torch.nn.Module) -> torch.nn.Module:
        """Model k as a plain module (a copy of `like` with model k's parameters and buffers)."""
        out = copy.deepcopy(like)
        out.load_state_dict({name: t[k].detach() for name, t in {**self.params, **self.buffers}.items()})
        return out


def stacked_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of each model: logits (K, batch, classes), labels (batch,) or (K, batch) -> (K,)."""
    k, b, c = logits.shape
    y = y.expand(k, b) if y.dim() == 1 else y
    return F.cross_entropy(logits.reshape(k * b, c), y.reshape(-1), reduction="none").view(k, b).mean(1)


def _per_model(value, k: int, like: torch.Tensor):
    """A hyperparameter (a number or K values) shaped to broadcast over a stacked (K, ...) tensor: a number stays a
    number (the fused in-place ops take it as a scalar: fewer passes over the stacked tensors, which no longer fit
    in the cache), K values become a (K, 1, ...) tensor."""
    if isinstance(value, (int, float)):
        return float(value)
    t = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    if t.dim() == 0:
        return float(t)
    return t.view(k, *([1] * (like.dim() - 1)))


class _StackedOptimizer(torch.optim.Optimizer):
    """Element-wise updates of parameters stacked along their first axis (K models), one hyperparameter value per
    model; subclasses give update(p, grad, state, hyper) with each hyperparameter shaped (K, 1, ...)."""

    HYPER: tuple[str, ...] = ()

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                hyper = {h: _per_model(group[h], p.shape[0], p) for h in self.HYPER}
                wd = hyper["weight_decay"]
                grad = p.grad if isinstance(wd, float) and wd == 0 else p.grad + wd * p   # L2 in the gradient
                self.update(p, grad, self.state[p], hyper)


class StackedSGD(_StackedOptimizer):
    """torch.optim.SGD (momentum, dampening 0, weight decay in the gradient, no Nesterov) with per-model lr,
    momentum and weight_decay: numbers or tensors of K values, for parameters stacked along their first axis."""

    HYPER = ("lr", "momentum", "weight_decay")

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))

    def update(self, p, d_p, state, h):
        if "momentum_buffer" in state:   # torch's first step takes the gradient itself as the buffer
            d_p = state["momentum_buffer"].mul_(h["momentum"]).add_(d_p)
        else:
            d_p = state["momentum_buffer"] = d_p.clone()
        if isinstance(h["lr"], float):
            p.add_(d_p, alpha=-h["lr"])
        else:
            p.sub_(h["lr"] * d_p)


class StackedAdam(_StackedOptimizer):
    """torch.optim.Adam (L2 weight decay in the gradient, no amsgrad) with per-model lr, beta1, beta2 and eps:
    numbers or tensors of K values, for parameters stacked along their first axis."""

    HYPER = ("lr", "beta1", "beta2", "eps", "weight_decay")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, beta1=betas[0], beta2=betas[1], eps=eps, weight_decay=weight_decay))

    def update(self, p, grad, state, h):
        if not state:
            state.update(step=0, exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
        state["step"] += 1
        m, v, t, b1, b2 = state["exp_avg"], state["exp_avg_sq"], state["step"], h["beta1"], h["beta2"]
        m.lerp_(grad, 1 - b1)
        if isinstance(b2, float):
            v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        else:
            v.mul_(b2).add_((1 - b2) * grad * grad)
        bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
        if all(isinstance(h[name], float) for name in ("lr", "beta1", "beta2", "eps")):
            denom = v.sqrt().div_(bc2 ** 0.5).add_(h["eps"])      # torch's order of operations: same rounding
            p.addcdiv_(m, denom, value=-h["lr"] / bc1)
        else:
            denom = (v.sqrt() / bc2 ** 0.5).add_(h["eps"])
            p.sub_(h["lr"] / bc1 * m / denom)
