"""Synthetic linear-regression data of the minibatch-noise figures of arXiv 2012.03636 (Figs 2(b), 3(d–f),
4(b), 9(b); catalog "Minibatch regression setup").

x_i ~ N(0, diag(input_var)), y_i = w*ᵀx_i + ε_i with ε_i ~ N(0, noise_std²), i = 1..N. The loss is
L = (1/2N) Σ_i (wᵀx_i − y_i)² (½·MSE), so the expected Hessian is diag(input_var) and ŵ, the least-squares
solution of the realised data, is the stationary mean of minibatch SGD on it. The generating parameters are
kept with the data because `sampling=fresh` draws new samples from the same law at every step.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RegressionData:
    X: torch.Tensor           # [N, D] inputs
    y: torch.Tensor           # [N] labels
    input_var: torch.Tensor   # [D] variances of the input coordinates (diagonal of E[xxᵀ])
    w_star: torch.Tensor      # [D] teacher weights
    noise_std: float          # label-noise standard deviation

    @property
    def w_hat(self) -> torch.Tensor:
        """Least-squares solution of the realised data (computed in float64)."""
        X64, y64 = self.X.double(), self.y.double()
        return torch.linalg.lstsq(X64, y64.unsqueeze(1)).solution.squeeze(1).to(self.X.dtype)


def make_regression_data(N: int, D_diag, w_star, noise_std: float, generator: torch.Generator,
                         dtype: torch.dtype = torch.float64) -> RegressionData:
    """Draw N samples (x_i, y_i) with x ~ N(0, diag(D_diag)) and y = w*ᵀx + N(0, noise_std²)."""
    device = generator.device
    input_var = torch.as_tensor(D_diag, dtype=dtype, device=device).reshape(-1)
    w_star = torch.as_tensor(w_star, dtype=dtype, device=device).reshape(-1).expand_as(input_var).clone()
    X = torch.randn(N, len(input_var), generator=generator, dtype=dtype, device=device) * input_var.sqrt()
    y = X @ w_star + noise_std * torch.randn(N, generator=generator, dtype=dtype, device=device)
    return RegressionData(X=X, y=y, input_var=input_var, w_star=w_star, noise_std=float(noise_std))
