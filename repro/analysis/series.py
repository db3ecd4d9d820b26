"""Statistics of predicted series, used by the Snake figures' experiments: the dominant period of a detrended
window, its detrended variance and high-frequency power, and Spearman's rank correlation."""
from __future__ import annotations

import numpy as np


def dominant_period(t: np.ndarray, y: np.ndarray, periods: np.ndarray) -> float:
    """The period P maximising the variance explained by a sinusoid after removing a linear trend (a least-squares
    periodogram on a grid of periods, so it works on short, unevenly long windows)."""
    A = np.c_[np.ones_like(t), t]
    r = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
    best, best_p = -1.0, float("nan")
    for P in periods:
        B = np.c_[np.sin(2 * np.pi * t / P), np.cos(2 * np.pi * t / P), A]
        fit = B @ np.linalg.lstsq(B, r, rcond=None)[0]
        power = float(fit @ fit)
        if power > best:
            best, best_p = power, float(P)
    return best_p


def detrended_stats(pred: np.ndarray, hf_period: float) -> tuple[float, float, float]:
    """(variance after removing a linear fit, spectral power at periods < hf_period samples, its fraction)."""
    t = np.arange(len(pred), dtype=float)
    A = np.c_[np.ones_like(t), t]
    r = pred - A @ np.linalg.lstsq(A, pred, rcond=None)[0]
    spec = np.abs(np.fft.rfft(r)) ** 2 / len(r) ** 2
    spec[1:] *= 2                                    # one-sided: sum(spec[1:]) = var(r) (Parseval)
    freq = np.fft.rfftfreq(len(r))
    hf = float(spec[freq > 1.0 / hf_period].sum())
    var = float(r.var())
    return var, hf, hf / var if var > 0 else float("nan")


def spearman(x, y) -> float:
    rx = np.argsort(np.argsort(np.asarray(x, dtype=float)))
    ry = np.argsort(np.argsort(np.asarray(y, dtype=float)))
    return float(np.corrcoef(rx, ry)[0, 1])
