"""Adam (Kingma & Ba 2015) and AMSGrad (Reddi et al. 2018) with PyTorch's conventions: the baselines of LaProp
(arXiv 2002.04839).

Per element, with momentum mu (= beta1), adaptivity nu (= beta2), c_m = 1 - mu^t, c_n = 1 - nu^t:

    m_t = mu m_{t-1} + (1-mu) g_t
    n_t = nu n_{t-1} + (1-nu) g_t^2
    x  <- x - lr (m_t / c_m) / (sqrt(n_t / c_n) + eps)          eps_placement="after_bias_correction"
    x  <- x - lr sqrt(c_n) / c_m  m_t / (sqrt(n_t) + eps)        eps_placement="before_bias_correction"

The two placements are algebraically equal except for eps, which the second one effectively scales to
eps / sqrt(c_n) (up to ~31x larger in the first steps at nu=0.999); they differ only when eps is not negligible
against sqrt(n_t / c_n) (e.g. Rainbow's eps=1.5e-4).
  - "after_bias_correction" (default) is torch.optim.Adam / AdamW since PyTorch 1.3 (pytorch/pytorch#22628), and
    the placement LaProp uses;
  - "before_bias_correction" is PyTorch <= 1.2, fairseq's Adam (IWSLT / RoBERTa baselines) and the LaProp
    authors' AdamW (`cifar10 classification/optimizers.py`).

amsgrad=True (PyTorch's convention, not Reddi et al.'s, which has no bias correction): n_max = max(n_max, n_t)
of the *uncorrected* n_t, used in place of n_t, still divided by the current c_n.

Weight decay is decoupled only (torch.optim.Adam's coupled L2 `weight_decay` is not offered):
  - "decoupled_no_lr" (default; the LaProp authors' AdamW): x <- x - wd x, after the step, no lr factor;
  - "decoupled_lr" (torch.optim.AdamW, fairseq's Adam): x <- x - wd lr x, before the step.

foreach=None picks the multi-tensor path whenever a parameter group has more than one tensor with a gradient
(benchmarks/optimizer_step.py --variants). Sparse gradients raise; no fused, capturable, differentiable or maximize
variants.
State per parameter: step (int), exp_avg (m_t), exp_avg_sq (n_t), max_exp_avg_sq (amsgrad only).
"""
from __future__ import annotations

import math

import torch

from repro.optim.hyperparameters import check_adaptive_hyperparameters

EPS_PLACEMENTS = ("after_bias_correction", "before_bias_correction")


class Adam(torch.optim.Optimizer):
    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        weight_decay_mode: str = "decoupled_no_lr",
        eps_placement: str = "after_bias_correction",
        foreach: bool | None = None,
    ):
        check_adaptive_hyperparameters(lr, eps, betas, weight_decay, weight_decay_mode)
        if eps_placement not in EPS_PLACEMENTS:
            raise ValueError(f"eps_placement must be one of {EPS_PLACEMENTS}, got {eps_placement!r}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        weight_decay_mode=weight_decay_mode, eps_placement=eps_placement, foreach=foreach)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        for group in self.param_groups:
            lr = float(group["lr"])
            mu, nu = group["betas"]
            eps_after = group["eps_placement"] == "after_bias_correction"
            params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs = [], [], [], [], []
            step_sizes, denom_scales = [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("Adam does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                bias_correction1 = 1 - mu ** state["step"]
                bias_correction2_sqrt = math.sqrt(1 - nu ** state["step"])
                # Both placements as denom = sqrt(n) / denom_scale + eps and x -= step_size * m / denom.
                if eps_after:
                    step_sizes.append(lr / bias_correction1)
                    denom_scales.append(bias_correction2_sqrt)
                else:
                    step_sizes.append(lr * bias_correction2_sqrt / bias_correction1)
                    denom_scales.append(1.0)
                params.append(p)
                grads.append(p.grad)
                exp_avgs.append(state["exp_avg"])
                exp_avg_sqs.append(state["exp_avg_sq"])
                if group["amsgrad"]:
                    max_exp_avg_sqs.append(state["max_exp_avg_sq"])

            use_foreach = group["foreach"] if group["foreach"] is not None else len(params) > 1
            update = _multi_tensor_adam if use_foreach else _single_tensor_adam
            update(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step_sizes, denom_scales,
                   lr=lr, mu=mu, nu=nu, eps=group["eps"], weight_decay=group["weight_decay"],
                   weight_decay_mode=group["weight_decay_mode"], amsgrad=group["amsgrad"])
        return loss


def _single_tensor_adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step_sizes, denom_scales, *,
                        lr, mu, nu, eps, weight_decay, weight_decay_mode, amsgrad):
    """Reference path: one tensor at a time."""
    for i, (param, grad) in enumerate(zip(params, grads)):
        exp_avg, exp_avg_sq = exp_avgs[i], exp_avg_sqs[i]
        if weight_decay and weight_decay_mode == "decoupled_lr":
            param.mul_(1 - lr * weight_decay)
        exp_avg.mul_(mu).add_(grad, alpha=1 - mu)
        exp_avg_sq.mul_(nu).addcmul_(grad, grad, value=1 - nu)
        second_moment = exp_avg_sq
        if amsgrad:
            torch.maximum(max_exp_avg_sqs[i], exp_avg_sq, out=max_exp_avg_sqs[i])
            second_moment = max_exp_avg_sqs[i]
        denom = second_moment.sqrt().div_(denom_scales[i]).add_(eps)
        param.addcdiv_(exp_avg, denom, value=-step_sizes[i])
        if weight_decay and weight_decay_mode == "decoupled_no_lr":
            param.mul_(1 - weight_decay)


def _multi_tensor_adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step_sizes, denom_scales, *,
                       lr, mu, nu, eps, weight_decay, weight_decay_mode, amsgrad):
    """Same update as `_single_tensor_adam`, one `torch._foreach_*` call per operation over all tensors."""
    if not params:
        return
    if weight_decay and weight_decay_mode == "decoupled_lr":
        torch._foreach_mul_(params, 1 - lr * weight_decay)
    torch._foreach_mul_(exp_avgs, mu)
    torch._foreach_add_(exp_avgs, grads, alpha=1 - mu)
    torch._foreach_mul_(exp_avg_sqs, nu)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - nu)
    second_moments = exp_avg_sqs
    if amsgrad:
        torch._foreach_maximum_(max_exp_avg_sqs, exp_avg_sqs)
        second_moments = max_exp_avg_sqs
    denoms = torch._foreach_sqrt(second_moments)
    torch._foreach_div_(denoms, denom_scales)
    torch._foreach_add_(denoms, eps)
    torch._foreach_addcdiv_(params, exp_avgs, denoms, [-s for s in step_sizes])
    if weight_decay and weight_decay_mode == "decoupled_no_lr":
        torch._foreach_mul_(params, 1 - weight_decay)
