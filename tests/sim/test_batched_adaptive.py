"""The batched per-cell-hyperparameter recursions equal the optimizer classes run cell by cell."""
import pytest
import torch

from repro.optim import make_optimizer
from repro.sim.batched_adaptive import BatchedAdaptive


@pytest.mark.parametrize("name", ["adam", "amsgrad", "laprop"])
def test_batched_equals_optimizer_classes_per_cell(name):
    gen = torch.Generator().manual_seed(0)
    mus, nus = [0.0, 0.5, 0.9], [0.1, 0.81, 0.999]
    grads = torch.randn(25, len(mus), len(nus), 4, generator=gen, dtype=torch.float64) * 3
    eps = 1e-8
    mu = torch.tensor(mus, dtype=torch.float64)[:, None, None]
    nu = torch.tensor(nus, dtype=torch.float64)[None, :, None]
    batched = BatchedAdaptive(name, mu, nu, 1e-2, eps, like=grads[0])
    x = torch.zeros_like(grads[0])
    for g in grads:
        x += batched.update(g)
    for i, m in enumerate(mus):
        for j, n in enumerate(nus):
            p = torch.zeros(4, dtype=torch.float64, requires_grad=True)
            opt = make_optimizer(name, [p], lr=1e-2, betas=(m, n), eps=eps)
            for g in grads:
                p.grad = g[i, j].clone()
                opt.step()
            torch.testing.assert_close(x[i, j], p.detach(), rtol=1e-10, atol=1e-12)


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="adam, amsgrad, laprop"):
        BatchedAdaptive("sgd", 0.9, 0.9, 1.0, 1e-8, like=torch.zeros(1))
