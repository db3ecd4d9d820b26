"""Volumization: the step of Liu Ziyin, Zihao Wang, Makoto Yamada & Masahito Ueda, "Volumization as a Natural
Generalization of Weight Decay", arXiv 2003.11243, as coded in the authors' `zihao-wang/volumization` (class
`Vadam2` in `vadam.py` at the arXiv-version commit 58f9233; catalog ../shared/catalog/volumization.md, Method).

After any base optimizer's step (Adam as the authors used it, LaProp, SGD), every element w of every parameter
tensor, with that tensor's volume V >= 0 and alpha in [-1, 1], is put back towards the box [-V, V]:

    w <- w                                         if |w| <= V
    w <- sign(w) (alpha |w| + (1 - alpha) V)       if |w| >  V
       = w - (1 - alpha) sign(w) (|w| - V)_+      (one formula for both cases)

Special cases (tests/optim/test_volumization.py): alpha = 1 is the base optimizer; alpha = 0 is the projection
onto the L-infinity ball of radius V (weight clipping); V = 0 with 0 < alpha < 1 is w <- alpha w at every step
(multiplicative weight decay); alpha = -1 is the elastic reflection at +-V (1.3 V -> 0.7 V). The step is exactly
one gradient step of size lr on R(w) = (lam / 2) sum_i (|w_i| - V)_+^2 with lam = (1 - alpha) / lr.

Kaiming-V (`kaiming_v=True`, the authors' `auto_v`, their default and used in every experiment): the absolute
volume of each tensor is V = v * max(w_0), the *signed* max of the tensor's value when the optimizer first steps it
(before that first step). With PyTorch's default Linear/Conv init this is V ~ v / sqrt(fan_in); a BatchNorm beta
(all zeros) gets V = 0 and is multiplied by alpha at every step, as in the authors' runs. With kaiming_v=False,
V = v for every tensor. A group may also carry an absolute `V` that overrides both.

Momentum discount (`momentum_discount`, default False): the authors intend m <- alpha m for the elements that
crossed the wall (their slide "Collide with the Wall -> Momentum Discount"), but their code is a no-op:
`state['exp_avg'][mask].mul_(alpha)` multiplies the *copy* that boolean indexing returns, so the buffer never
changes (tests/optim/test_volumization.py runs that exact expression). The published numbers are therefore those
of the step without the discount, which is the default here. True applies the stated algorithm to the base
optimizer's first-moment buffer (Adam's exp_avg, LaProp's lr_weighted_exp_avg, SGD's momentum_buffer).

Deviations from the authors' code:
  - the step wraps any base optimizer (`Volumization(base, ...)`) instead of being fused into one Adam class;
    the authors' Adam is ours with eps=1e-15 and `l2` (below); our Adam's bias-corrected update is torch's;
  - `l2` is the authors' coupled L2 (`weight_decay` of Vadam2: lam w added to the gradient before the base step)
    and lives in the wrapper, because our Adam and LaProp offer decoupled weight decay only;
  - the momentum discount works when asked for (above), and is off by default (their effective behaviour);
  - Kaiming-V with a negative signed max (a tensor with no positive element): the authors' V would be negative,
    which pushes every element outwards; here V is clamped at 0 (multiplicative decay, as for an all-zero tensor);
  - V is a Python float (v times the max, in float64), the authors' a 0-d tensor in the parameter's dtype: the
    walls agree to the parameter's rounding;
  - `exclude_bias_bn` is not offered here: pass such tensors in a group with alpha=1;
  - a multi-tensor (`torch._foreach_*`) path beside the per-tensor one (the two agree to rounding, tests/optim).

State per parameter (the wrapper's own; the base optimizer keeps its own): V (float, the absolute volume).
foreach=None picks the multi-tensor path whenever a group has more than one tensor with a gradient.
"""
from __future__ import annotations

import torch

MOMENTUM_KEYS = ("exp_avg", "lr_weighted_exp_avg", "momentum_buffer")   # Adam, LaProp, SGD


def kaiming_volume(w0: torch.Tensor, v: float) -> float:
    """Kaiming-V: v times the signed max of the tensor's initial value, clamped at 0 (see the header)."""
    return max(float(v) * float(w0.detach().max()), 0.0) if w0.numel() else 0.0


def volumize_(w: torch.Tensor, V: float, alpha: float) -> torch.Tensor:
    """The volumization step in place on one tensor, in the authors' form: outside the wall (|w| > V),
    w <- sign(w) (alpha |w| + (1 - alpha) V). Returns the mask of the elements that were outside."""
    outside = w.abs() > V
    w.copy_(torch.where(outside, torch.sign(w) * (alpha * w.abs() + (1 - alpha) * V), w))
    return outside


class _WrapsBase(torch.optim.Optimizer):
    """An optimizer whose step follows `base`'s over the same parameters: the two share their group dicts (lr
    schedules set on either reach both) and are saved and restored together."""

    def __init__(self, base: torch.optim.Optimizer, defaults: dict):
        self.base = base
        super().__init__(base.param_groups, defaults)   # add_param_group keeps the base's dict objects
        base.param_groups = self.param_groups

    def state_dict(self):
        return {"base": self.base.state_dict(), "volumization": super().state_dict()}

    def load_state_dict(self, state_dict):
        self.base.load_state_dict(state_dict["base"])
        super().load_state_dict(state_dict["volumization"])
        self.base.param_groups = self.param_groups


class Volumization(_WrapsBase):
    """Wrap `base` (an optimizer over the same parameters): step() runs base.step(), then the volumization step.

    v: relative volume (Kaiming-V multiplier) or, with kaiming_v=False, the absolute volume V; alpha in [-1, 1];
    l2: coupled L2 added to the gradients before the base step (the authors' WD baselines, with alpha=1).
    Per-group overrides: v, alpha, V (absolute), kaiming_v, l2, momentum_discount.
    """

    def __init__(self, base: torch.optim.Optimizer, v: float = 1.0, alpha: float = 0.5, kaiming_v: bool = True,
                 momentum_discount: bool = False, l2: float = 0.0, foreach: bool | None = None):
        if not -1.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [-1, 1] (alpha > 1 diverges), got {alpha}")
        if v < 0 or l2 < 0:
            raise ValueError(f"v and l2 must be >= 0, got v={v}, l2={l2}")
        self.foreach = foreach
        super().__init__(base, dict(v=v, alpha=alpha, V=None, kaiming_v=kaiming_v,
                                    momentum_discount=momentum_discount, l2=l2))

    def volume(self, p: torch.Tensor, group: dict) -> float:
        state = self.state[p]
        if "V" not in state:
            if group["V"] is not None:
                state["V"] = float(group["V"])
            elif group["kaiming_v"]:
                state["V"] = kaiming_volume(p, group["v"])
            else:
                state["V"] = float(group["v"])
        return state["V"]

    @torch.no_grad()
    def step(self, closure=None):
        with torch.enable_grad():   # the closure computes the gradients that l2 and the base step then read
            loss = closure() if closure is not None else None
        stepped = []
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            volumes = [self.volume(p, group) for p in params]   # Kaiming-V reads w_0 before the first step
            if group["l2"]:
                for p in params:
                    p.grad.add_(p, alpha=group["l2"])
            stepped.append((group, params, volumes))
        self.base.step()
        for group, params, volumes in stepped:
            if group["alpha"] == 1 or not params:
                continue
            use_foreach = self.foreach if self.foreach is not None else len(params) > 1
            moments = None
            if group["momentum_discount"]:
                moments = [next((self.base.state[p][k] for k in MOMENTUM_KEYS
                                 if torch.is_tensor(self.base.state.get(p, {}).get(k))), None) for p in params]
            update = _multi_tensor_volumize if use_foreach else _single_tensor_volumize
            update(params, volumes, moments, alpha=float(group["alpha"]))
        return loss


def _single_tensor_volumize(params, volumes, moments, *, alpha):
    """Reference path, in the authors' order: mask of the elements outside, the wall, then the discount."""
    for i, (p, V) in enumerate(zip(params, volumes)):
        outside = volumize_(p, V, alpha)
        if moments is not None and moments[i] is not None:
            moments[i].copy_(torch.where(outside, alpha * moments[i], moments[i]))


def _multi_tensor_volumize(params, volumes, moments, *, alpha):
    """Same step as `_single_tensor_volumize` as w <- w - (1 - alpha) sign(w) (|w| - V)_+ over all tensors."""
    excess = torch._foreach_abs(params)
    torch._foreach_sub_(excess, volumes)
    torch._foreach_clamp_min_(excess, 0.0)
    if moments is not None:
        pairs = [(m, e) for m, e in zip(moments, excess) if m is not None]
        if pairs:
            factors = [torch.where(e > 0, alpha, 1.0).to(m.dtype) for m, e in pairs]
            torch._foreach_mul_([m for m, _ in pairs], factors)
    torch._foreach_mul_(excess, torch._foreach_sign(params))
    torch._foreach_add_(params, excess, alpha=-(1 - alpha))


@torch.no_grad()
def binarize_(optimizer: Volumization) -> dict:
    """The authors' quantization (`eval_quantize.py`, fig=16): every parameter the optimizer has stepped is set to
    sign(w) V with its own volume V, so zeros stay 0 (the weights are at most ternary: {-V, 0, V}). Training goes
    on from the quantized weights. Returns {parameter: V} of what was quantized."""
    done = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            if "V" in optimizer.state.get(p, {}):
                V = optimizer.state[p]["V"]
                p.copy_(torch.sign(p) * V)
                done[p] = V
    return done


class StackedVolumization(_WrapsBase):
    """The volumization step for K models stacked along the first axis of every parameter (repro/train/stacked.py):
    `base` (a StackedAdam/StackedSGD over the same stacked tensors) steps, then model k's slice of every tensor is
    volumized with its own alpha[k] and volume V[k] (Kaiming-V from model k's own initial slice: v[k] times its
    signed max, clamped at 0). alpha and v: a number or K values. Model k takes exactly the step of
    Volumization(base_k, v=v[k], alpha=alpha[k]) run alone (tests/optim/test_stacked_volumization.py, step for
    step). The authors' coupled L2 (their WD baselines) is the stacked base's per-model weight_decay (L2 in the
    gradient, as Vadam2's weight_decay). The step is the multi-tensor form w <- w - (1 - alpha) sign(w) (|w| - V)_+,
    which leaves a model with alpha = 1 bit for bit unchanged."""

    def __init__(self, base: torch.optim.Optimizer, v, alpha, kaiming_v: bool = True, momentum_discount: bool = False):
        alphas = torch.as_tensor(alpha, dtype=torch.float64).flatten()
        vs = torch.as_tensor(v, dtype=torch.float64).flatten()
        if ((alphas < -1) | (alphas > 1)).any():
            raise ValueError(f"alpha must be in [-1, 1] (alpha > 1 diverges), got {alphas.tolist()}")
        if (vs < 0).any():
            raise ValueError(f"v must be >= 0, got {vs.tolist()}")
        super().__init__(base, dict(kaiming_v=kaiming_v, momentum_discount=momentum_discount))
        self.alphas, self.vs = alphas, vs

    def _per_model(self, values: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        k = p.shape[0]
        if len(values) not in (1, k):
            raise ValueError(f"{len(values)} values for {k} stacked models")
        return values.expand(k).to(device=p.device, dtype=p.dtype).view(k, *([1] * (p.dim() - 1)))

    def volume(self, p: torch.Tensor, group: dict) -> torch.Tensor:
        """(K, 1, ...) absolute volumes of p's K slices, fixed at the first step (before the base step)."""
        state = self.state[p]
        if "V" not in state:
            v = self._per_model(self.vs, p)
            if group["kaiming_v"]:
                w0 = p.detach().reshape(p.shape[0], -1).max(dim=1).values if p[0].numel() else torch.zeros(p.shape[0])
                V = (v.flatten().double() * w0.double().to(v.device)).clamp_min(0).to(p.dtype)
                state["V"] = V.view_as(v)
            else:
                state["V"] = v.clone()
        return state["V"]

    @torch.no_grad()
    def step(self, closure=None):
        with torch.enable_grad():
            loss = closure() if closure is not None else None
        stepped = []
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            stepped.append((group, params, [self.volume(p, group) for p in params]))
        self.base.step()
        for group, params, volumes in stepped:
            for p, V in zip(params, volumes):
                alpha = self._per_model(self.alphas, p)
                excess = (p.abs() - V).clamp_min_(0)
                if group["momentum_discount"]:
                    m = next((self.base.state[p][k] for k in MOMENTUM_KEYS
                              if torch.is_tensor(self.base.state.get(p, {}).get(k))), None)
                    if m is not None:
                        m.copy_(torch.where(excess > 0, alpha * m, m))
                p.sub_((1 - alpha) * torch.sign(p) * excess)
        return loss
