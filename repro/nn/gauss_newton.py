"""The Gauss–Newton Hessian of a scalar-output network under the mean-square loss, its spectrum and its effective
dimension (escape_rate fig=3(c), fig=4, fig=7; arXiv 2105.09557 App. E).

For L = (1/2N) Σ_μ (f(θ, x_μ) − y_μ)² the Gauss–Newton approximation of the Hessian is H = (1/N) Σ_μ ∇f_μ ∇f_μᵀ =
JᵀJ/N, J the [N, P] Jacobian of the outputs (for linear regression f = θᵀx it is exactly XᵀX/N, the Hessian).
Two ways to its eigenvalues, the same nonzero ones:
- P ≤ N: H itself, accumulated from Jacobian rows in chunks (P×P, float64): all P eigenvalues (fig=7's histogram);
- N < P: the Gram form K/N with K = JJᵀ (N×N; repro.nn.escape_nets.mlp_gram for Linear/ReLU stacks), padded with
  the P − N zeros of H.
The effective dimension is the participation ratio n = (Σ p_i²)⁻¹ with p_i = h_i / Σ_j h_j
(repro.theory.escape.participation_ratio).
"""
from __future__ import annotations

import torch
from torch import nn

from repro.nn.escape_nets import _linear_layers, inputs_and_deltas, mlp_gram

Tensor = torch.Tensor


def mlp_jacobian(model: nn.Sequential, x: Tensor) -> Tensor:
    """[N, P] Jacobian of a scalar-output Linear/ReLU stack, columns in the order of model.parameters() (each layer's
    weight row-major, then its bias): ∂f/∂W_l = Δ_l ⊗ A_l and ∂f/∂b_l = Δ_l, with A_l the layer's input and
    Δ_l = ∂f/∂z_l per sample (one backward of Σ_μ f_μ, since samples do not interact)."""
    layers = _linear_layers(model)
    _, A, deltas = inputs_and_deltas(model, x, "mlp_jacobian")
    cols = []
    for layer, a, d in zip(layers, A, deltas):
        cols.append((d.unsqueeze(2) * a.unsqueeze(1)).reshape(len(x), -1))
        if layer.bias is not None:
            cols.append(d)
    return torch.cat(cols, 1)


def gauss_newton_matrix(model: nn.Sequential, x: Tensor, chunk: int = 1024) -> Tensor:
    """H = JᵀJ/N [P, P] in float64, summed over `chunk`-row pieces of x (the Jacobian is never held whole)."""
    P = sum(q.numel() for q in model.parameters())
    H = torch.zeros(P, P, dtype=torch.float64, device=x.device)
    for i in range(0, len(x), chunk):
        J = mlp_jacobian(model, x[i:i + chunk]).double()
        H += J.T @ J
    return H / len(x)


def gauss_newton_eigenvalues(model: nn.Sequential, x: Tensor, chunk: int = 1024) -> Tensor:
    """All P eigenvalues (ascending, float64, on the CPU) of H = JᵀJ/N: from the P×P matrix when P ≤ N, else from
    the N×N Gram matrix K/N padded with the P − N zero eigenvalues of H."""
    P, N = sum(q.numel() for q in model.parameters()), len(x)
    if P <= N:
        ev = torch.linalg.eigvalsh(gauss_newton_matrix(model, x, chunk))
    else:
        _, K = mlp_gram(model, x, chunk=chunk)
        ev = torch.cat([torch.zeros(P - N, dtype=torch.float64, device=K.device), torch.linalg.eigvalsh(K / N)])
        ev = ev.sort().values
    return ev.cpu()
