"""Early-stopping rules of the gambler paper (Ziyin et al., "Learning Not to Learn in the Presence of Noisy Labels",
arXiv 2002.06541; catalog gambler.md, "Analytical early stopping as coded", "What the submission states", open
questions 2, 3, 13) as small stateful objects with one interface:

    rule.update(epoch, metrics) -> bool     after each 1-based epoch; metrics a dict of that epoch's numbers
    rule.update_batch(epoch, step, loss)    after each mini-batch (only rules that look at batches use it)
    rule.stopped, rule.stop_epoch, rule.previous_epoch, rule.summary()

`stop_epoch` is the epoch at which the rule fired (None if it never did: the tables' "NA"); `previous_epoch` =
stop_epoch - 1 (0 = the model before training). Both are recorded because the authors' `icml_submission.py` saves
its checkpoint each epoch and breaks *before* saving the stopping epoch, so which of the two models it evaluated is
ambiguous (open question 3): log the metrics of both (`at_stop`). Once fired, a rule stays fired and ignores later
updates (its record is frozen).

Rules:
- `AnalyticalStop` [code]: stop at the first epoch whose mean training mini-batch loss is < L*(1 - r, o)
  (repro.theory.gambler.plateau_loss) and whose epoch >= start_gamblers (`icml_submission.py`'s check; the final
  `main.py` computes the criterion but never uses it: dead code, implemented here explicitly). Valid for symmetric
  noise only (the code's comment; L* does not hold under pairflip), so `for_noise` refuses pairflip.
- `BatchAnalyticalStop` [paper-v0, Algorithm 1]: stop at the first mini-batch whose loss is < L*, checked before
  that batch's update; no warm-up in the algorithm (start_gamblers = 0 by default). It records the step too.
  Caller's note: to leave the firing batch un-applied, as Algorithm 1 does, check the loss before the optimizer step
  (the training layer's on_step hook runs after it: one extra update).
- `ValidationStop` [paper-v0, VES]: stop when the validation accuracy has not increased for `patience` (= 5)
  consecutive epochs; also records the best epoch.
- `TrainAccuracyStop` [paper-v0, the baselines' "_ES"]: stop at the first epoch with training accuracy > a = 1 - r
  (strictly greater; accuracy and a in the same units, fractions by default).
- `AbstentionCollapse` [catalog open question 19]: a flag, not a stop: fires at the first epoch after warm-up whose
  mean training abstention f_{m+1} is >= 0.95 (too small an o abstains on everything and learns nothing); the
  experiment reports it (fig=3 expects it below o_crit).

Deviations from the authors' code: the warm-up check follows `icml_submission.py` (epoch >= start_gamblers);
`convention="final"` gives the final `main.py`'s epoch > start_gamblers (whose check is dead code anyway). A NaN
loss never fires the analytical rules (the authors break the run on NaN; record divergence elsewhere).
"""
from __future__ import annotations

import math

from repro.nn.gambler_loss import gambler_active
from repro.theory.gambler import plateau_loss


class StoppingRule:
    """Common state: stop_epoch (None until fired), the value that fired it, and the per-epoch history it saw."""

    name = "rule"
    key = "value"

    def __init__(self):
        self.stop_epoch: int | None = None
        self.stop_value: float | None = None
        self.history: dict[int, float] = {}

    @property
    def stopped(self) -> bool:
        return self.stop_epoch is not None

    @property
    def previous_epoch(self) -> int | None:
        return None if self.stop_epoch is None else self.stop_epoch - 1

    def _fire(self, epoch: int, value: float) -> bool:
        self.stop_epoch, self.stop_value = int(epoch), float(value)
        return True

    def check(self, epoch: int, value: float) -> bool:   # pragma: no cover - overridden
        raise NotImplementedError

    def update(self, epoch: int, metrics: dict) -> bool:
        """Feed epoch `epoch`'s metrics (the rule reads metrics[self.key]); True once the rule has fired."""
        if self.stopped:
            return True
        value = float(metrics[self.key])
        self.history[int(epoch)] = value
        return self._fire(epoch, value) if self.check(epoch, value) else False

    def update_batch(self, epoch: int, step: int, loss: float) -> bool:
        """Per-batch rules override this; epoch rules ignore batches."""
        return self.stopped

    def summary(self) -> dict:
        return {"rule": self.name, "stop_epoch": self.stop_epoch, "previous_epoch": self.previous_epoch,
                "stop_value": self.stop_value}

    def at_stop(self, values_by_epoch) -> tuple[float, float]:
        """(value at stop_epoch, value at previous_epoch) of a per-epoch series (a dict epoch -> value, or a sequence
        whose entry i is epoch i + 1; epoch 0 may be a dict key); NaN where missing or never fired."""
        def get(e):
            if e is None:
                return math.nan
            if isinstance(values_by_epoch, dict):
                return float(values_by_epoch.get(e, math.nan))
            return float(values_by_epoch[e - 1]) if 1 <= e <= len(values_by_epoch) else math.nan
        return get(self.stop_epoch), get(self.previous_epoch)


class AnalyticalStop(StoppingRule):
    """Epoch-mean training loss < L* (the authors' code), checked once the gambler's loss is active."""

    name = "analytical_epoch"
    key = "train_loss"

    def __init__(self, threshold: float, start_gamblers: int = 0, convention: str = "icml"):
        super().__init__()
        self.threshold, self.start_gamblers, self.convention = float(threshold), int(start_gamblers), convention

    @classmethod
    def for_noise(cls, noise_rate: float, o: float, noise_type: str = "symmetric", **kw):
        """The rule at threshold L*(1 - r, o); symmetric noise only."""
        if noise_type != "symmetric":
            raise ValueError(f"the analytical rule needs symmetric noise (L* does not hold under {noise_type})")
        return cls(plateau_loss(1.0 - noise_rate, o), **kw)

    def check(self, epoch: int, value: float) -> bool:
        return gambler_active(epoch, self.start_gamblers, self.convention) and value < self.threshold

    def summary(self) -> dict:
        return {**super().summary(), "threshold": self.threshold}


class BatchAnalyticalStop(AnalyticalStop):
    """Algorithm 1: the first mini-batch loss < L* ends training (before that batch's update)."""

    name = "analytical_batch"

    def __init__(self, threshold: float, start_gamblers: int = 0, convention: str = "icml"):
        super().__init__(threshold, start_gamblers, convention)
        self.stop_step: int | None = None

    def update(self, epoch: int, metrics: dict) -> bool:
        """Epoch metrics are only recorded (the rule fires on batches)."""
        if not self.stopped and self.key in metrics:
            self.history[int(epoch)] = float(metrics[self.key])
        return self.stopped

    def update_batch(self, epoch: int, step: int, loss: float) -> bool:
        if self.stopped:
            return True
        if self.check(epoch, float(loss)):
            self.stop_step = int(step)
            return self._fire(epoch, loss)
        return False

    def summary(self) -> dict:
        return {**super().summary(), "stop_step": self.stop_step}


class ValidationStop(StoppingRule):
    """VES: stop when metrics[key] (validation accuracy) has not increased for `patience` consecutive epochs."""

    name = "validation"
    key = "val_acc"

    def __init__(self, patience: int = 5, key: str = "val_acc"):
        super().__init__()
        self.patience, self.key = int(patience), key
        self.best_epoch: int | None = None
        self.best_value = -math.inf

    def check(self, epoch: int, value: float) -> bool:
        if self.best_epoch is None or value > self.best_value:
            self.best_epoch, self.best_value = int(epoch), value
            return False
        return epoch - self.best_epoch >= self.patience

    def summary(self) -> dict:
        return {**super().summary(), "best_epoch": self.best_epoch, "best_value": self.best_value}


class TrainAccuracyStop(StoppingRule):
    """The baselines' ES: stop at the first epoch with training accuracy (vs the noisy labels) > threshold = 1 - r."""

    name = "train_accuracy"
    key = "train_acc"

    def __init__(self, threshold: float, key: str = "train_acc"):
        super().__init__()
        self.threshold, self.key = float(threshold), key

    @classmethod
    def for_noise(cls, noise_rate: float, percent: bool = False, **kw):
        """threshold a = 1 - r (x100 with percent), rounded to 12 decimals so that 1 - 0.8 is 0.2, not 0.19999..."""
        return cls(round((1.0 - noise_rate) * (100.0 if percent else 1.0), 12), **kw)

    def check(self, epoch: int, value: float) -> bool:
        return value > self.threshold

    def summary(self) -> dict:
        return {**super().summary(), "threshold": self.threshold}


class AbstentionCollapse(StoppingRule):
    """Flags total abstention: mean training f_{m+1} >= limit at an epoch where the gambler's loss is active."""

    name = "abstention_collapse"
    key = "train_abstention"

    def __init__(self, limit: float = 0.95, start_gamblers: int = 0, convention: str = "icml"):
        super().__init__()
        self.limit, self.start_gamblers, self.convention = float(limit), int(start_gamblers), convention

    def check(self, epoch: int, value: float) -> bool:
        return gambler_active(epoch, self.start_gamblers, self.convention) and value >= self.limit

    def summary(self) -> dict:
        return {**super().summary(), "limit": self.limit}
