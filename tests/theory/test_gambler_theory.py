"""repro.theory.gambler against the catalog (gambler.md, "Plateau solution" and "What the submission states"): its
tables of L*(a, o), u and p*, the window 1/a <= o < m, the batch-loss spread at the plateau, and a numerical
minimisation of the expected loss over the (m+1)-simplex."""
import math

import numpy as np
import pytest

from repro.theory.gambler import (
    clean_rate,
    expected_loss,
    in_window,
    minimise_expected_loss,
    optimal_expected_loss,
    optimal_prediction,
    plateau_abstention,
    plateau_batch_std,
    plateau_bet,
    plateau_gradient_weights,
    plateau_loss,
)

# Catalog, first table: (m, o, r) -> (L*, u)
TABLE_PLATEAU = {
    (10, 9.9, 0.2): (0.9376, 0.222), (10, 9.9, 0.5): (1.7862, 0.556), (10, 9.9, 0.8): (2.2492, 0.890),
    (2, 1.95, 0.1): (0.3200, 0.205), (2, 1.95, 0.2): (0.4901, 0.411), (2, 1.95, 0.3): (0.5955, 0.616),
    (2, 1.95, 0.4): (0.6525, 0.821),
}
# Catalog, "L*(1-r, o) for the submission's settings": o -> L* at r = 0.2, 0.5, 0.6, 0.65, 0.7, 0.8, 0.85
RATES = (0.2, 0.5, 0.6, 0.65, 0.7, 0.8, 0.85)
TABLE_SUBMISSION = {
    9.9: (0.9376, 1.7862, 1.9846, 2.0684, 2.1411, 2.2492, 2.2809),
    9.99: (0.9396, 1.7912, 1.9907, 2.0749, 2.1481, 2.2573, 2.2894),
    9.7: (0.9331, 1.7748, 1.9710, 2.0536, 2.1252, 2.2311, 2.2615),
    8.2: (0.8952, 1.6802, 1.8575, 1.9306, 1.9927, 2.0797, 2.1007),
    8.25: (0.8966, 1.6836, 1.8616, 1.9351, 1.9976, 2.0852, 2.1066),
}
P_STAR_99 = (0.778, 0.444, 0.333, 0.277, 0.221, 0.110, 0.054)     # p* at o = 9.9, same rates
BATCH_STD = {0.2: 0.126, 0.5: 0.097, 0.8: 0.028, 0.85: 0.014}      # o = 9.9, batch 128


@pytest.mark.parametrize("key", list(TABLE_PLATEAU))
def test_plateau_table(key):
    m, o, r = key
    L, u = TABLE_PLATEAU[key]
    a = clean_rate(r)
    assert round(plateau_loss(a, o), 4) == L
    assert round(plateau_abstention(a, o), 3) == u
    assert plateau_abstention(a, o) == pytest.approx(o * r / (o - 1))      # the catalog's second form
    assert in_window(a, o, m)


@pytest.mark.parametrize("o", list(TABLE_SUBMISSION))
def test_submission_table(o):
    for r, L in zip(RATES, TABLE_SUBMISSION[o]):
        assert round(plateau_loss(1 - r, o), 4) == L, (o, r)


def test_p_star_and_limits():
    for r, p in zip(RATES, P_STAR_99):
        assert round(plateau_bet(1 - r, 9.9), 3) == p
        assert plateau_bet(1 - r, 9.9) + plateau_abstention(1 - r, 9.9) == pytest.approx(1.0)
    assert plateau_loss(1.0, 9.9) == 0.0                                   # eps -> 1: loss 0
    assert plateau_loss(1e-9, 9.9) == pytest.approx(math.log(8.9), abs=1e-6)   # eps -> 0: ln(o - 1) ~ ln o
    assert plateau_loss(0.5, 2.0) == pytest.approx(math.log(2.0))          # o = 1/a: joins the abstain-all loss


def test_window():
    assert in_window(0.5, 2.0, 10) and in_window(0.5, 9.9, 10) and not in_window(0.5, 1.99, 10)
    assert not in_window(0.5, 10.0, 10) and not in_window(0.0, 9.9, 10)
    # IMDB's o = 1.95 (m = 2) needs r <= 0.487 (catalog)
    assert in_window(1 - 0.487, 1.95, 2) and not in_window(1 - 0.488, 1.95, 2)


@pytest.mark.parametrize("a,o,m", [(0.5, 5, 10), (0.5, 9.9, 10), (0.8, 9.9, 10), (0.2, 9.9, 10), (0.8, 1.95, 2)])
def test_simplex_minimisation_reproduces_L_star(a, o, m):
    """The catalog's numerical check: minimising over the (m+1)-simplex gives L* to 1e-4, and the minimiser is
    (p*, 0, ..., 0, u)."""
    f, loss = minimise_expected_loss(a, o, m, steps=6000)
    assert loss == pytest.approx(plateau_loss(a, o), abs=1e-4)
    assert f[0] == pytest.approx(plateau_bet(a, o), abs=1e-2)
    assert f[m] == pytest.approx(plateau_abstention(a, o), abs=1e-2)
    assert f[1:m].sum() < 1e-2
    assert expected_loss(optimal_prediction(a, o, m), a, o, m) == pytest.approx(plateau_loss(a, o), abs=1e-12)


@pytest.mark.parametrize("a,o,m", [(0.5, 1.5, 10), (0.5, 12.0, 10), (0.8, 1.1, 2), (0.2, 11.0, 10)])
def test_outside_the_window(a, o, m):
    """Below 1/a the optimum abstains (loss ln o); above m it bets the noisy-label distribution (the entropy). At
    o = m exactly the minimiser is not unique (abstaining pays like spreading 1/m over the classes): loss only."""
    f, loss = minimise_expected_loss(a, o, m, steps=6000)
    exact = optimal_expected_loss(a, o, m)
    assert loss == pytest.approx(exact, abs=1e-4)
    assert np.abs(f - optimal_prediction(a, o, m)).max() < 2e-2
    if o < 1 / a:
        assert exact == pytest.approx(math.log(o))
    else:
        assert exact == pytest.approx(-(a * math.log(a) + (1 - a) * math.log((1 - a) / (m - 1))))


def test_continuity_at_window_edges():
    f, loss = minimise_expected_loss(0.2, 10.0, 10, steps=6000)
    assert loss == pytest.approx(optimal_expected_loss(0.2, 10.0, 10), abs=1e-4)
    for a, m in [(0.5, 10), (0.8, 10), (0.7, 2)]:
        lo, hi = 1 / a, float(m)
        assert optimal_expected_loss(a, lo - 1e-9, m) == pytest.approx(optimal_expected_loss(a, lo, m), abs=1e-6)
        assert optimal_expected_loss(a, hi - 1e-9, m) == pytest.approx(optimal_expected_loss(a, hi, m), abs=1e-6)


@pytest.mark.parametrize("r", list(BATCH_STD))
def test_plateau_batch_std(r):
    a, o, B = 1 - r, 9.9, 128
    assert round(plateau_batch_std(a, o, B), 3) == BATCH_STD[r]
    rng = np.random.default_rng(0)
    clean = rng.random((20000, B)) < a
    means = np.where(clean, -math.log(a), -math.log((1 - a) / (o - 1))).mean(1)
    assert means.mean() == pytest.approx(plateau_loss(a, o), abs=4 * BATCH_STD[r] / math.sqrt(20000))
    assert means.std() == pytest.approx(plateau_batch_std(a, o, B), rel=0.03)


def test_gradient_weights():
    """1/a on clean points, (o-1)/(1-a) on corrupted ones; in expectation a given wrong label's gradient is
    (o-1)/(M-1) times the clean one's (the submission's eqs. 2-5)."""
    a, o, M = 0.5, 9.9, 10
    wc, wn = plateau_gradient_weights(a, o)
    assert wc == pytest.approx(1 / a) and wn == pytest.approx((o - 1) / (1 - a))
    assert (wn * (1 - a) / (M - 1)) / (wc * a) == pytest.approx((o - 1) / (M - 1))
