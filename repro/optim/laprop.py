"""LaProp: Algorithm 1 of Ziyin, Wang & Ueda, "LaProp: Separating Momentum and Adaptivity in Adam",
arXiv 2002.04839, as coded in the authors' `Z-T-WANG/LaProp-Optimizer/laprop.py` (HEAD a419916).

Per element, with momentum mu (= beta1), adaptivity nu (= beta2), learning rate lr_t (the group's lr, read at
every step, so schedulers apply) and n, c_n, M, L all starting at 0:

    n_t   = nu n_{t-1} + (1-nu) g_t^2                  second moment
    c_n   = nu c_n + (1-nu)                             EMA of ones, i.e. 1 - nu^t
    g^_t  = g_t / (sqrt(n_t / c_n) + eps)               normalise first: eps outside the sqrt, after bias correction
    M_t   = mu M_{t-1} + (1-mu) lr_t g^_t               momentum of the normalised gradient, weighted by lr_t
    L_t   = mu L_{t-1} + (1-mu) lr_t                    EMA of the learning rate
    x    <- x - (lr_t / L_t) M_t

For constant lr, M_t lr / L_t = lr m_t / (1 - mu^t): the textbook form of Algorithm 1. Under a schedule, past
momentum keeps the lr it was accumulated with.

Conventions taken from the authors' code:
  - defaults lr=4e-4, betas=(0.9, 0.999), eps=1e-15, weight_decay=0, amsgrad=False, centered=False;
  - L_t and c_n are Python floats kept per parameter, updated only on steps where that parameter has a gradient;
  - amsgrad: n_max = max(n_max, D_t) of the *uncorrected* D_t (n_t, or the centred quantity), taken before
    dividing by c_n; the denominator is sqrt(n_max / c_n) + eps;
  - centered: extra state s_t = nu s_{t-1} + (1-nu) g_t. For steps t > steps_before_using_centered (= 10),
    D_t = n_t - s_t^2 with the *uncorrected* s_t (nearly inactive early when nu is close to 1), then
    sqrt(D_t / c_n) + eps. No clamp of D_t at 0, as coded. With amsgrad and centered the max is tracked only
    from step 11 on (before that the denominator uses plain n_t);
  - weight_decay_mode="decoupled_no_lr" (authors' default): x <- x - wd x after the step, no lr factor.

Deviations from the authors' `laprop.py`:
  - weight_decay_mode="decoupled_lr" (the fairseq copy `transformer/laprop.py`): x <- x - wd lr x, applied before
    the step. The fairseq copy's other differences are not reproduced: it computes in fp32 (here: the parameter's
    dtype) and its eps acts as eps/sqrt(c_n) (irrelevant at its eps=1e-15);
  - lr_t = 0: the authors special-case it with step size 1 (x <- x - M_t, past momentum still moves x); here the
    step is lr_t / L_t M_t = 0, as the formula says;
  - the algebra is grouped differently (addcdiv instead of g / denom then scale; multiply by 1 - wd instead of
    adding -wd x), so results agree to rounding, not bitwise;
  - state keys say what they hold (below) instead of the authors' exp_avg / exp_avg_lr_1 / exp_avg_lr_2 /
    exp_mean_avg_beta2, so their state_dicts do not load here;
  - a multi-tensor (`torch._foreach_*`) path, and a fused one (fused=True: the whole step as one torch.compile'd
    graph, see repro/optim/fused.py); sparse gradients raise (as in the authors' code); no capturable,
    differentiable or maximize variants.

State per parameter: step (int), exp_avg_lr (L_t), bias_correction2 (c_n), lr_weighted_exp_avg (M_t),
exp_avg_sq (n_t), exp_avg_grad (s_t, centered only), max_exp_avg_sq (amsgrad only).

foreach=None picks the multi-tensor path whenever a parameter group has more than one tensor with a gradient:
on CPU too it removes the per-tensor Python overhead (benchmarks/optimizer_step.py --variants). Both paths compute
the same update; the foreach path writes g / (sqrt(D / c_n) + eps) as sqrt(c_n) g / (sqrt(D) + eps sqrt(c_n)), one
pass over the tensors fewer (as many as torch.optim.Adam's), so the two agree to rounding (tests/optim).

fused=True runs the same update as one compiled graph per step (inductor fuses each tensor's element-wise chain
into a single pass over p, g, M, n): ~3x faster than the foreach path on CPU (benchmarks/optimizer_step.py), after
a compile of seconds to tens of seconds per parameter layout. lr, lr / L_t and c_n enter as 0-d tensors (a
schedule does not recompile). Results equal the foreach path's to rounding (tests/optim/test_fused.py). If
compilation fails the optimizer warns and steps eagerly. The experiments use it at full scale only.
"""
from __future__ import annotations

import math
from collections import defaultdict

import torch

from repro.optim.fused import FusedKernel, ScalarSlots
from repro.optim.hyperparameters import check_adaptive_hyperparameters

STEPS_BEFORE_USING_CENTERED = 10  # the authors' `steps_before_using_centered`


class LaProp(torch.optim.Optimizer):
    def __init__(
        self,
        params,
        lr: float = 4e-4,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-15,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        centered: bool = False,
        weight_decay_mode: str = "decoupled_no_lr",
        foreach: bool | None = None,
        fused: bool = False,
    ):
        check_adaptive_hyperparameters(lr, eps, betas, weight_decay, weight_decay_mode)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        centered=centered, weight_decay_mode=weight_decay_mode, foreach=foreach, fused=fused)
        super().__init__(params, defaults)
        self._fused_kernel = FusedKernel(_fused_laprop_kernel, "LaProp")
        self._scalars = ScalarSlots(3)

    def __setstate__(self, state):
        super().__setstate__(state)
        self._fused_kernel = FusedKernel(_fused_laprop_kernel, "LaProp")
        self._scalars = ScalarSlots(3)
        for group in self.param_groups:
            group.setdefault("fused", False)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        for group in self.param_groups:
            lr = float(group["lr"])
            mu, nu = group["betas"]
            params, grads, lr_weighted_exp_avgs, exp_avg_sqs, exp_avg_grads, max_exp_avg_sqs = [], [], [], [], [], []
            steps, step_sizes, bias_corrections2 = [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("LaProp does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg_lr"] = 0.0
                    state["bias_correction2"] = 0.0
                    state["lr_weighted_exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    if group["centered"]:
                        state["exp_avg_grad"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                # Scalar bookkeeping is shared by both code paths, which then only do tensor math.
                state["step"] += 1
                state["exp_avg_lr"] = mu * state["exp_avg_lr"] + (1 - mu) * lr
                state["bias_correction2"] = nu * state["bias_correction2"] + (1 - nu)
                params.append(p)
                grads.append(p.grad)
                lr_weighted_exp_avgs.append(state["lr_weighted_exp_avg"])
                exp_avg_sqs.append(state["exp_avg_sq"])
                if group["centered"]:
                    exp_avg_grads.append(state["exp_avg_grad"])
                if group["amsgrad"]:
                    max_exp_avg_sqs.append(state["max_exp_avg_sq"])
                steps.append(state["step"])
                # lr > 0 implies L_t >= (1 - mu) lr > 0; lr = 0 means no step (see the header).
                step_sizes.append(lr / state["exp_avg_lr"] if lr > 0 else 0.0)
                bias_corrections2.append(state["bias_correction2"])

            kw = dict(lr=lr, mu=mu, nu=nu, eps=group["eps"], weight_decay=group["weight_decay"],
                      weight_decay_mode=group["weight_decay_mode"], amsgrad=group["amsgrad"],
                      centered=group["centered"])
            if group.get("fused") and params and self._fused_laprop(
                    params, grads, lr_weighted_exp_avgs, exp_avg_sqs, exp_avg_grads, max_exp_avg_sqs,
                    steps, step_sizes, bias_corrections2, **kw):
                continue
            use_foreach = group["foreach"] if group["foreach"] is not None else len(params) > 1
            update = _multi_tensor_laprop if use_foreach else _single_tensor_laprop
            update(params, grads, lr_weighted_exp_avgs, exp_avg_sqs, exp_avg_grads, max_exp_avg_sqs,
                   steps, step_sizes, bias_corrections2, lr=lr, mu=mu, nu=nu, eps=group["eps"],
                   weight_decay=group["weight_decay"], weight_decay_mode=group["weight_decay_mode"],
                   amsgrad=group["amsgrad"], centered=group["centered"])
        return loss

    def _fused_laprop(self, params, grads, lr_weighted_exp_avgs, exp_avg_sqs, exp_avg_grads, max_exp_avg_sqs,
                      steps, step_sizes, bias_corrections2, *, lr, mu, nu, eps, weight_decay, weight_decay_mode,
                      amsgrad, centered) -> bool:
        """One compiled call per bucket of tensors that share lr / L_t, c_n, the centring phase, device and dtype
        (one bucket unless some parameters skipped steps). False (nothing done) if compilation is unavailable."""
        buckets = defaultdict(list)
        for i, p in enumerate(params):
            active = centered and steps[i] > STEPS_BEFORE_USING_CENTERED
            buckets[(step_sizes[i], bias_corrections2[i], active, p.device, p.dtype)].append(i)
        pick = lambda xs, idx: [xs[i] for i in idx] if xs else []  # noqa: E731
        for n_bucket, ((step_size, bc2, active, device, dtype), idx) in enumerate(buckets.items()):
            lr_t, step_size_t, bc2_t = self._scalars(device, dtype, lr, step_size, bc2)
            done = self._fused_kernel(
                pick(params, idx), pick(grads, idx), pick(lr_weighted_exp_avgs, idx), pick(exp_avg_sqs, idx),
                pick(exp_avg_grads, idx), pick(max_exp_avg_sqs, idx), lr_t, step_size_t, bc2_t,
                mu=mu, nu=nu, eps=eps, weight_decay=weight_decay,
                decay_before=bool(weight_decay) and weight_decay_mode == "decoupled_lr",
                decay_after=bool(weight_decay) and weight_decay_mode == "decoupled_no_lr",
                amsgrad=amsgrad, centered=centered, centering_active=active)
            if not done:
                if n_bucket:   # compilation failed after earlier buckets stepped: step the rest eagerly
                    rest = [i for b in list(buckets.values())[n_bucket:] for i in b]
                    _multi_tensor_laprop(
                        pick(params, rest), pick(grads, rest), pick(lr_weighted_exp_avgs, rest),
                        pick(exp_avg_sqs, rest), pick(exp_avg_grads, rest), pick(max_exp_avg_sqs, rest),
                        pick(steps, rest), pick(step_sizes, rest), pick(bias_corrections2, rest), lr=lr, mu=mu,
                        nu=nu, eps=eps, weight_decay=weight_decay, weight_decay_mode=weight_decay_mode,
                        amsgrad=amsgrad, centered=centered)
                    return True
                return False
        return True


def _fused_laprop_kernel(params, grads, lr_weighted_exp_avgs, exp_avg_sqs, exp_avg_grads, max_exp_avg_sqs,
                         lr, step_size, bias_correction2, *, mu: float, nu: float, eps: float, weight_decay: float,
                         decay_before: bool, decay_after: bool, amsgrad: bool, centered: bool,
                         centering_active: bool):
    """The update of `_single_tensor_laprop` for tensors sharing lr / L_t (`step_size`) and c_n, written per tensor
    for torch.compile (lr, step_size, bias_correction2 are 0-d tensors): each tensor's chain becomes one loop."""
    for i in range(len(params)):
        param, grad, lr_weighted_exp_avg, exp_avg_sq = (params[i], grads[i], lr_weighted_exp_avgs[i],
                                                         exp_avg_sqs[i])
        if decay_before:
            param.mul_(1 - lr * weight_decay)
        exp_avg_sq.mul_(nu).addcmul_(grad, grad, value=1 - nu)
        second_moment = exp_avg_sq
        if centered:
            exp_avg_grads[i].mul_(nu).add_(grad, alpha=1 - nu)
            if centering_active:
                second_moment = exp_avg_sq - exp_avg_grads[i] * exp_avg_grads[i]
        if amsgrad and (centering_active or not centered):
            max_exp_avg_sqs[i].copy_(torch.maximum(max_exp_avg_sqs[i], second_moment))
            second_moment = max_exp_avg_sqs[i]
        denom = (second_moment / bias_correction2).sqrt() + eps
        lr_weighted_exp_avg.mul_(mu).add_(grad / denom * ((1 - mu) * lr))
        param.sub_(lr_weighted_exp_avg * step_size)
        if decay_after:
            param.mul_(1 - weight_decay)


def _single_tensor_laprop(params, grads, lr_weighted_exp_avgs, exp_avg_sqs, exp_avg_grads, max_exp_avg_sqs,
                          steps, step_sizes, bias_corrections2, *, lr, mu, nu, eps, weight_decay,
                          weight_decay_mode, amsgrad, centered):
    """Reference path: one tensor at a time, in the order of the authors' code."""
    for i, (param, grad) in enumerate(zip(params, grads)):
        lr_weighted_exp_avg, exp_avg_sq = lr_weighted_exp_avgs[i], exp_avg_sqs[i]
        if weight_decay and weight_decay_mode == "decoupled_lr":
            param.mul_(1 - lr * weight_decay)
        exp_avg_sq.mul_(nu).addcmul_(grad, grad, value=1 - nu)
        second_moment = exp_avg_sq
        centering_active = centered and steps[i] > STEPS_BEFORE_USING_CENTERED
        if centered:
            exp_avg_grads[i].mul_(nu).add_(grad, alpha=1 - nu)
            if centering_active:
                second_moment = exp_avg_sq - exp_avg_grads[i] * exp_avg_grads[i]
        if amsgrad and (centering_active or not centered):
            torch.maximum(max_exp_avg_sqs[i], second_moment, out=max_exp_avg_sqs[i])
            second_moment = max_exp_avg_sqs[i]
        denom = second_moment.div(bias_corrections2[i]).sqrt_().add_(eps)
        lr_weighted_exp_avg.mul_(mu).addcdiv_(grad, denom, value=(1 - mu) * lr)
        param.add_(lr_weighted_exp_avg, alpha=-step_sizes[i])
        if weight_decay and weight_decay_mode == "decoupled_no_lr":
            param.mul_(1 - weight_decay)


def _multi_tensor_laprop(params, grads, lr_weighted_exp_avgs, exp_avg_sqs, exp_avg_grads, max_exp_avg_sqs,
                         steps, step_sizes, bias_corrections2, *, lr, mu, nu, eps, weight_decay,
                         weight_decay_mode, amsgrad, centered):
    """Same update as `_single_tensor_laprop`, one `torch._foreach_*` call per operation over all tensors."""
    if not params:
        return
    if weight_decay and weight_decay_mode == "decoupled_lr":
        torch._foreach_mul_(params, 1 - lr * weight_decay)
    torch._foreach_mul_(exp_avg_sqs, nu)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - nu)
    second_moments = list(exp_avg_sqs)
    # Tensors whose parameter skipped steps (grad None) can be in another phase of the centred/amsgrad logic.
    centering_active = [centered and s > STEPS_BEFORE_USING_CENTERED for s in steps]
    if centered:
        torch._foreach_mul_(exp_avg_grads, nu)
        torch._foreach_add_(exp_avg_grads, grads, alpha=1 - nu)
        active = [i for i, a in enumerate(centering_active) if a]
        if active:
            means = [exp_avg_grads[i] for i in active]
            centred = torch._foreach_sub([exp_avg_sqs[i] for i in active], torch._foreach_mul(means, means))
            for i, c in zip(active, centred):
                second_moments[i] = c
    if amsgrad:
        tracked = [i for i, a in enumerate(centering_active) if a or not centered]
        if tracked:
            maxima = [max_exp_avg_sqs[i] for i in tracked]
            torch._foreach_maximum_(maxima, [second_moments[i] for i in tracked])
            for i, m in zip(tracked, maxima):
                second_moments[i] = m
    # g / (sqrt(D / c_n) + eps) = sqrt(c_n) g / (sqrt(D) + eps sqrt(c_n)): the same number (to rounding) in one
    # pass over the tensors fewer than dividing by c_n first (7 passes in all, as many as torch.optim.Adam's).
    sqrt_bias_corrections2 = [math.sqrt(c) for c in bias_corrections2]
    denoms = torch._foreach_sqrt(second_moments)
    torch._foreach_add_(denoms, [eps * s for s in sqrt_bias_corrections2])
    torch._foreach_mul_(lr_weighted_exp_avgs, mu)
    torch._foreach_addcdiv_(lr_weighted_exp_avgs, grads, denoms, [(1 - mu) * lr * s for s in sqrt_bias_corrections2])
    _foreach_add_scaled_(params, lr_weighted_exp_avgs, [-s for s in step_sizes])
    if weight_decay and weight_decay_mode == "decoupled_no_lr":
        torch._foreach_mul_(params, 1 - weight_decay)


def _foreach_add_scaled_(tensors, others, alphas):
    """tensors[i] += alphas[i] * others[i] without a temporary: `_foreach_add_` takes one alpha, so call it once
    per distinct alpha (one call when all tensors of the group share their step history, the usual case)."""
    indices_by_alpha = defaultdict(list)
    for i, alpha in enumerate(alphas):
        indices_by_alpha[alpha].append(i)
    for alpha, indices in indices_by_alpha.items():
        torch._foreach_add_([tensors[i] for i in indices], [others[i] for i in indices], alpha=alpha)
