"""repro.noisy.early_stopping on synthetic metric sequences (catalog gambler.md: "Analytical early stopping as
coded", Algorithm 1, VES, the baselines' "training accuracy > eps" rule, open questions 3 and 13)."""
import math

import numpy as np
import pytest

from repro.noisy.early_stopping import (
    AbstentionCollapse,
    AnalyticalStop,
    BatchAnalyticalStop,
    TrainAccuracyStop,
    ValidationStop,
)
from repro.theory.gambler import plateau_batch_std, plateau_loss

L_STAR_05 = 1.7862      # catalog: L*(0.5, 9.9)


def feed(rule, key, values, start=1):
    """Feed values as epochs start, start+1, ...; return the epochs at which update() said stop."""
    return [e for e, v in enumerate(values, start) if rule.update(e, {key: v})]


def test_analytical_threshold_from_the_catalog():
    rule = AnalyticalStop.for_noise(0.5, 9.9)
    assert round(rule.threshold, 4) == L_STAR_05
    assert round(AnalyticalStop.for_noise(0.85, 9.9).threshold, 4) == 2.2809
    with pytest.raises(ValueError):
        AnalyticalStop.for_noise(0.45, 9.9, noise_type="pairflip")


def test_analytical_epoch_rule_fires_at_first_epoch_below():
    losses = [2.30, 2.10, 1.95, 1.80, 1.79, 1.78, 1.60, 1.20]    # plateau then memorisation
    rule = AnalyticalStop(plateau_loss(0.5, 9.9))
    fired = feed(rule, "train_loss", losses)
    assert fired[0] == 6 and rule.stop_epoch == 6 and rule.previous_epoch == 5
    assert rule.stop_value == 1.78
    assert rule.summary() == {"rule": "analytical_epoch", "stop_epoch": 6, "previous_epoch": 5,
                              "stop_value": 1.78, "threshold": rule.threshold}
    assert list(rule.history) == [1, 2, 3, 4, 5, 6]                # frozen after the stop
    # the model at the stop and the one before: both read from a per-epoch series
    acc = [0.5, 0.8, 0.9, 0.93, 0.95, 0.94, 0.90, 0.80]
    assert rule.at_stop(acc) == (0.94, 0.95)
    assert rule.at_stop({0: 0.1, 5: 0.95, 6: 0.94}) == (0.94, 0.95)


def test_analytical_rule_waits_for_the_warm_up():
    """icml_submission.py: the check needs epoch >= start_gamblers (s = 10: epochs 1-9 are NLL and ignored)."""
    losses = [1.0] * 12                                            # NLL warm-up losses are below L* already
    rule = AnalyticalStop(L_STAR_05, start_gamblers=10)
    assert feed(rule, "train_loss", losses)[0] == 10
    final = AnalyticalStop(L_STAR_05, start_gamblers=10, convention="final")
    assert feed(final, "train_loss", losses)[0] == 11
    never = AnalyticalStop(L_STAR_05)
    assert feed(never, "train_loss", [2.0, float("nan"), 1.9]) == [] and never.stop_epoch is None
    assert never.previous_epoch is None and all(math.isnan(v) for v in never.at_stop([0.5, 0.6, 0.7]))


def test_batch_rule_fires_no_later_than_the_epoch_rule():
    """Algorithm 1 on a simulated plateau: batch means fluctuate around L* with the catalog's spread (0.097 at
    r = 0.5, batch 128), so the per-batch rule fires at plateau entry, before the epoch mean crosses."""
    a, o, B, per_epoch = 0.5, 9.9, 128, 10
    L, sd = plateau_loss(a, o), plateau_batch_std(a, o, B)
    assert round(sd, 3) == 0.097
    rng = np.random.default_rng(0)
    level = [2.3, 2.2, L + 0.02, L + 0.01, L - 0.05, L - 0.2]         # the epoch's centre
    batch, epoch = BatchAnalyticalStop(L), AnalyticalStop(L)
    step = 0
    for e, centre in enumerate(level, 1):
        losses = centre + sd * rng.standard_normal(per_epoch)
        for x in losses:
            step += 1
            batch.update_batch(e, step, x)
        batch.update(e, {"train_loss": losses.mean()})
        epoch.update(e, {"train_loss": losses.mean()})
    assert batch.stopped and epoch.stopped
    assert batch.stop_epoch <= epoch.stop_epoch
    assert batch.stop_epoch == 3 and epoch.stop_epoch >= 4
    assert 20 < batch.stop_step <= 30 and batch.stop_value < L
    assert batch.summary()["stop_step"] == batch.stop_step
    assert epoch.update_batch(1, 1, 0.0) is True                    # epoch rules ignore batches


def test_validation_stop_patience_five():
    acc = [0.50, 0.70, 0.80, 0.82, 0.81, 0.82, 0.80, 0.79, 0.81, 0.90]
    rule = ValidationStop(patience=5)
    fired = feed(rule, "val_acc", acc)
    assert rule.best_epoch == 4 and rule.stop_epoch == 9 and fired[0] == 9   # no increase in epochs 5-9
    assert rule.previous_epoch == 8 and rule.summary()["best_value"] == 0.82
    keeps = ValidationStop(patience=5)
    assert feed(keeps, "val_acc", [0.1, 0.2, 0.2, 0.2, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3]) == []   # 4 flat epochs max
    other = ValidationStop(patience=2, key="val_acc_clean")
    assert feed(other, "val_acc_clean", [0.5, 0.4, 0.4]) == [3]


def test_train_accuracy_stop_strictly_above_eps():
    rule = TrainAccuracyStop.for_noise(0.8)                        # eps = a = 0.2
    assert rule.threshold == pytest.approx(0.2)
    assert feed(rule, "train_acc", [0.10, 0.15, 0.2, 0.21, 0.5]) == [4, 5]
    assert rule.stop_epoch == 4 and rule.previous_epoch == 3
    pct = TrainAccuracyStop.for_noise(0.5, percent=True)
    assert pct.threshold == pytest.approx(50.0)
    assert feed(pct, "train_acc", [30.0, 45.0]) == [] and not pct.stopped   # NA: the ES point is never reached


def test_abstention_collapse_flag():
    """Catalog open question 19: a too-small o abstains on everything (loss ln o); flag mean f_{m+1} >= 0.95 after
    the warm-up."""
    flag = AbstentionCollapse(start_gamblers=3)
    assert feed(flag, "train_abstention", [0.99, 0.99, 0.5, 0.96, 0.99]) == [4, 5]
    assert flag.stop_epoch == 4 and flag.summary()["limit"] == 0.95
    healthy = AbstentionCollapse()
    assert feed(healthy, "train_abstention", [0.3, 0.556, 0.6]) == []      # the plateau's u = 0.556 at r = 0.5


def test_common_interface():
    for rule, key in [(AbstentionCollapse(), "train_abstention"), (AnalyticalStop(1.0), "train_loss"),
                      (BatchAnalyticalStop(1.0), "train_loss"),
                      (ValidationStop(), "val_acc"), (TrainAccuracyStop(0.5), "train_acc")]:
        assert rule.key == key and not rule.stopped
        assert rule.update(1, {key: 0.4}) in (True, False)
        assert set(rule.summary()) >= {"rule", "stop_epoch", "previous_epoch", "stop_value"}
