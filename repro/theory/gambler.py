"""The plateau ("learning-not-to-learn") solution of the gambler's loss under symmetric label noise (Ziyin, Chen, Wang,
Liang, Salakhutdinov, Morency & Ueda, "Learning Not to Learn in the Presence of Noisy Labels", arXiv 2002.06541;
Theorem 1 of its ICLR-2020 submission; catalog gambler.md, "Plateau solution" and "What the submission states").

Notation (the catalog's): m classes plus one abstention output, f on the (m+1)-simplex, f_{m+1} = abstention; payoff o;
symmetric noise rate r, clean rate a = 1 - r (the submission's epsilon); the noisy label equals the true class with
probability a and each of the m-1 other classes with probability (1-a)/(m-1). Gambler's loss -ln(f_y + f_{m+1}/o).

- Plateau optimum per input (a model that cannot memorise individual points), valid in the window 1/a <= o < m:
      bet p* = (a o - 1)/(o - 1) on the true class, abstain u = 1 - p* = o (1 - a)/(o - 1) = o r/(o - 1), 0 elsewhere;
      L*(a, o) = -[a ln a + (1 - a) ln((1 - a)/(o - 1))]                                   [paper-v0 eq. 8; derived]
  The submission prints the log-wealth -L* (negative); the usable early-stopping threshold is L* > 0 (the code's
  `criteria`). Outside the window [derived]: o < 1/a abstains on everything (loss ln o); o >= m bets the noisy-label
  distribution with no abstention (loss = its entropy, the NLL optimum). The three pieces join continuously at o = 1/a
  and o = m. The expected loss is convex in f, so `minimise_expected_loss` (exponentiated gradient on the simplex)
  finds the global optimum numerically, which checks all of the above.
- At the plateau the per-sample loss is -ln a on clean points and -ln((1-a)/(o-1)) on corrupted ones, so a batch
  mean of B points fluctuates around L* with standard deviation |ln a - ln((1-a)/(o-1))| sqrt(a(1-a)/B)
  (`plateau_batch_std`; the catalog's 0.126 / 0.097 / 0.028 / 0.014 at B = 128, o = 9.9) [derived].

Pairflip noise: L* does not apply (the model also bets on the flip class); the authors' code restricts early
stopping to symmetric noise. No deviation from the authors' code: their threshold is the same formula.
"""
from __future__ import annotations

import math

import numpy as np


def clean_rate(noise_rate: float) -> float:
    """a = 1 - r."""
    return 1.0 - float(noise_rate)


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x == 0 else x * math.log(y)


def in_window(a: float, o: float, m: int) -> bool:
    """The window of robustness 1/a <= o < m, where the plateau optimum bets p* > 0 and abstains u > 0."""
    return a > 0 and 1.0 / a <= o < m


def plateau_loss(a: float, o: float) -> float:
    """L*(a, o) = -[a ln a + (1 - a) ln((1 - a)/(o - 1))]: the early-stopping threshold (o > 1, 0 < a <= 1)."""
    if not (0.0 < a <= 1.0) or o <= 1.0:
        raise ValueError(f"need 0 < a <= 1 and o > 1, got a={a}, o={o}")
    return -(_xlogy(a, a) + _xlogy(1.0 - a, (1.0 - a) / (o - 1.0)))


def plateau_abstention(a: float, o: float) -> float:
    """u = o (1 - a)/(o - 1): the abstention f_{m+1} at the plateau optimum (inside the window)."""
    return o * (1.0 - a) / (o - 1.0)


def plateau_bet(a: float, o: float) -> float:
    """p* = (a o - 1)/(o - 1) = 1 - u: the mass on the true class at the plateau optimum (inside the window)."""
    return (a * o - 1.0) / (o - 1.0)


def noisy_label_distribution(a: float, m: int) -> np.ndarray:
    """q: P(noisy label = j | true class 0) = a for j = 0, (1 - a)/(m - 1) otherwise."""
    q = np.full(m, (1.0 - a) / (m - 1))
    q[0] = a
    return q


def expected_loss(f, a: float, o: float, m: int) -> float:
    """E over the noisy label of the gambler's loss -ln(f_y + f_{m+1}/o) for a prediction f on the (m+1)-simplex,
    the true class being 0 (the loss is symmetric in the classes)."""
    f = np.asarray(f, dtype=np.float64)
    q = noisy_label_distribution(a, m)
    wealth = f[:m] + f[m] / o
    with np.errstate(divide="ignore"):
        return float(-np.sum(np.where(q > 0, q * np.log(wealth), 0.0)))


def optimal_prediction(a: float, o: float, m: int) -> np.ndarray:
    """The minimiser of `expected_loss` over the simplex, piecewise in o (module docstring)."""
    f = np.zeros(m + 1)
    if a > 0 and o < 1.0 / a:
        f[m] = 1.0                                    # abstain on everything
    elif o < m:
        f[0], f[m] = plateau_bet(a, o), plateau_abstention(a, o)
    else:
        f[:m] = noisy_label_distribution(a, m)       # NLL: bet the noisy-label distribution
    return f


def optimal_expected_loss(a: float, o: float, m: int) -> float:
    """min over the simplex of `expected_loss`: ln o below the window, L*(a, o) inside, the noisy-label entropy
    -a ln a - (1 - a) ln((1 - a)/(m - 1)) for o >= m."""
    if a > 0 and o < 1.0 / a:
        return math.log(o)
    if o < m:
        return plateau_loss(a, o)
    return -(_xlogy(a, a) + _xlogy(1.0 - a, (1.0 - a) / (m - 1)))


def minimise_expected_loss(a: float, o: float, m: int, steps: int = 20000, lr: float = 0.5,
                           f0=None) -> tuple[np.ndarray, float]:
    """Numerical minimum of the (convex) expected loss over the (m+1)-simplex by exponentiated gradient (mirror
    descent) with step lr/sqrt(1 + t/100), starting from the uniform point; returns (f, loss at f), the best iterate."""
    f = np.full(m + 1, 1.0 / (m + 1)) if f0 is None else np.asarray(f0, dtype=np.float64).copy()
    q = noisy_label_distribution(a, m)
    best_f, best = f.copy(), expected_loss(f, a, o, m)
    for t in range(steps):
        w = f[:m] + f[m] / o
        g = np.empty(m + 1)
        g[:m] = -q / w
        g[m] = -np.sum(q / w) / o
        logf = np.log(np.maximum(f, 1e-300)) - lr / math.sqrt(1.0 + t / 100.0) * (g - g.min())
        f = np.exp(logf - logf.max())
        f /= f.sum()
        val = expected_loss(f, a, o, m)
        if val < best:
            best_f, best = f.copy(), val
    return best_f, best


def plateau_batch_std(a: float, o: float, batch_size: int) -> float:
    """Standard deviation of a batch-mean loss at the plateau (clean points -ln a w.p. a, corrupted points
    -ln((1-a)/(o-1)) w.p. 1 - a, independently): |ln a - ln((1-a)/(o-1))| sqrt(a (1 - a)/B)."""
    return abs(math.log(a) - math.log((1.0 - a) / (o - 1.0))) * math.sqrt(a * (1.0 - a) / batch_size)


def plateau_gradient_weights(a: float, o: float) -> tuple[float, float]:
    """1/(f_y + f_{m+1}/o) at the plateau optimum on a clean point (1/a) and on a corrupted one ((o-1)/(1-a)): the
    factors of the submission's gradient argument (eqs. 2-5)."""
    u = plateau_abstention(a, o)
    return 1.0 / (plateau_bet(a, o) + u / o), 1.0 / (u / o)
