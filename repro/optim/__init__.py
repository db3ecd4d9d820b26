"""Optimizers: the repo's Adam / AMSGrad (PyTorch conventions) and LaProp (the authors' conventions), and the
volumization step on top of any of them (`Volumization(base, v=, alpha=)`).

`make_optimizer(name, params, **kw)` builds one from its config name; see OPTIMIZERS for the names.
"""
from __future__ import annotations

from functools import partial

import torch

from repro.optim.adam import Adam
from repro.optim.laprop import LaProp
from repro.optim.volumization import Volumization, kaiming_volume, volumize_

OPTIMIZERS = {
    "adam": Adam,
    "amsgrad": partial(Adam, amsgrad=True),
    "laprop": LaProp,
    "sgd": torch.optim.SGD,
}


def make_optimizer(name: str, params, **kw) -> torch.optim.Optimizer:
    try:
        factory = OPTIMIZERS[name]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; valid choices: {', '.join(sorted(OPTIMIZERS))}") from None
    return factory(params, **kw)


__all__ = ["Adam", "LaProp", "OPTIMIZERS", "Volumization", "kaiming_volume", "make_optimizer", "volumize_"]
