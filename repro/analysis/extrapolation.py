"""How a trained 1-d network extrapolates far from its data: the residuals of the Snake paper's Theorems 1 (ReLU
networks become linear) and 2 (tanh networks become constant), evaluated in float64."""
from __future__ import annotations

import torch


def thm1_residual(net64) -> float:
    """Thm 1 (ReLU extrapolates linearly): max over x0 = +-1e8, h = +-1e7 of
    |f(x0+2h) - 2f(x0+h) + f(x0)| / (1 + |f(x0+2h)|)."""
    worst = 0.0
    for x0, h in ((1e8, 1e7), (-1e8, -1e7)):
        v = net64(torch.tensor([[x0], [x0 + h], [x0 + 2 * h]], dtype=torch.float64))[:, 0]
        worst = max(worst, abs(v[2] - 2 * v[1] + v[0]).item() / (1 + abs(v[2].item())))
    return worst


def thm2_residual(net64) -> float:
    """Thm 2 (tanh extrapolates to a constant): max over signs of |f(2e8) - f(1e8)| / (1 + |f(1e8)|)."""
    worst = 0.0
    for sgn in (1.0, -1.0):
        v = net64(torch.tensor([[sgn * 1e8], [sgn * 2e8]], dtype=torch.float64))[:, 0]
        worst = max(worst, abs(v[1] - v[0]).item() / (1 + abs(v[0].item())))
    return worst
