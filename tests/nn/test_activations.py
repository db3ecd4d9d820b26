import math

import numpy as np
import pytest
import torch

from repro.nn.activations import NAMES, activation_fn, make_activation
from repro.nn.snake import Snake

CLOSED = {
    "relu": lambda x: np.maximum(x, 0),
    "tanh": np.tanh,
    "lrelu": lambda x: np.where(x > 0, x, 0.01 * x),
    "swish": lambda x: x / (1 + np.exp(-x)),
    "sin": np.sin,
    "sincos": lambda x: np.sin(x) + np.cos(x),
    "xsin": lambda x: x + np.sin(x),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "identity": lambda x: x,
    "snake": lambda x: x + np.sin(x) ** 2,
}


@pytest.mark.parametrize("name", NAMES)
def test_every_activation_matches_its_closed_form(name):
    x = np.linspace(-8, 8, 1601)
    got = activation_fn(name)(torch.tensor(x)).numpy()
    assert np.allclose(got, CLOSED[name](x), atol=1e-12)
    mod = make_activation(name, a=1.0)
    assert np.allclose(mod(torch.tensor(x)).numpy(), CLOSED[name](x), atol=1e-12)


def test_snake_keywords_reach_the_module_and_unknown_names_fail():
    m = make_activation("snake", 8, a=0.25, a_mode="learnable", variance_correction="paper")
    assert isinstance(m, Snake) and m.a.shape == (8,) and m.a.requires_grad and m.variance_correction == "paper"
    assert activation_fn("snake", a=2.0)(torch.tensor(math.pi / 4)).item() == pytest.approx(math.pi / 4 + 0.5)
    with pytest.raises(ValueError, match="unknown activation"):
        make_activation("gelu")
