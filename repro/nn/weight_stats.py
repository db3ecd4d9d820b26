"""Weight statistics of volumization's fig=15 (catalog ../shared/catalog/volumization.md): per-tensor 256-bin
histograms on a shared range (no-vol beside vol), and the fraction of the weights that sit near the walls +-V,
|(|w| - V)| <= rel V (rel = 0.2 in the catalog's claim: "within 20 % of +-V")."""
from __future__ import annotations

import numpy as np
import torch


def weight_histogram(w: torch.Tensor, bins: int = 256, lim: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(counts, edges) of the tensor's values over [-lim, lim] (default: its own abs-max), `bins` equal bins."""
    x = w.detach().flatten().double().cpu().numpy()
    lim = float(np.abs(x).max()) if lim is None else float(lim)
    return np.histogram(x, bins=bins, range=(-lim, lim) if lim > 0 else (-1, 1))


def near_wall_fraction(w: torch.Tensor, V: float, rel: float = 0.2) -> float:
    """Fraction of elements with ||w| - V| <= rel V (V > 0)."""
    if V <= 0:
        raise ValueError(f"the wall fraction needs V > 0, got {V}")
    x = w.detach().abs()
    return float(((x - V).abs() <= rel * V).double().mean())
