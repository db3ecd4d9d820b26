"""Toy data of the Snake paper (catalog snake.md, D1 and figs 9, 13): the extrapolation targets on two separated
intervals (figs 1, 4, 10-12), the noisy sine's train / hold-out design (fig 9) and fig 13's periodic signal."""
from __future__ import annotations

import torch

TARGETS = {
    "x": lambda x: x,
    "tanh": torch.tanh,
    "sin": torch.sin,
    "x2": lambda x: x * x,
    "rect": lambda x: torch.ceil(torch.sin(x)),               # ceil(sin x): 0/1 wave (and -1 where sin x == -1)
    "sin_sin4": lambda x: torch.sin(x) + torch.sin(4 * x) / 4,
}


def toy_data(p, generator):
    """The official notebook's generator: 32 points in [a1, a1+a2] and 32 in [-a1-a2, -a1] (raw x), target on raw
    x, input scaled by s = a1 + a2. `data_range=text` uses the text's [-5, 5] with a gap [-1, 1] instead."""
    a1, a2 = (1.0, 4.0) if p.get("data_range", "figure") == "text" else (float(p["a1"]), float(p["a2"]))
    s = a1 + a2
    n = int(p.get("n_per_side", 32))
    u = torch.rand(2 * n, generator=generator, dtype=torch.float64) * a2 + a1
    raw = torch.cat([u[:n], -u[n:]])
    f = TARGETS[p["target"]]
    return (raw / s)[:, None], f(raw)[:, None], s, a1 / s


def noisy_sine_split(p):
    """design=figure: train t = 0..199, validate t = 200..299; design=text: T = 100, validate t = 101..300."""
    if p.get("design", "figure") == "text":
        T, val = 100, torch.arange(101, 301, dtype=torch.float32)
    else:
        T, val = int(p["T"]), torch.arange(int(p["T"]), int(p["T"]) + int(p["val_len"]), dtype=torch.float32)
    return T, torch.arange(T, dtype=torch.float32), val


def periodic_signal(t: torch.Tensor) -> torch.Tensor:
    """Fig 13's x(t) = cos(t/2) + 2 sin(t/3)."""
    return torch.cos(t / 2) + 2 * torch.sin(t / 3)
