"""A simple (Elman) recurrent network with any activation, for the Snake paper's RNN comparisons (figs 9, 13):

    h_t = act(W_i x_t + W_h h_{t-1} + b),   y_t = W_o h_t + b_o

torch.nn.RNN only offers tanh and ReLU, so this cell is written out; with act = tanh or relu it computes exactly
what nn.RNN computes (tests/nn/test_elman.py checks it against nn.RNN with copied weights). Initialisation is
nn.RNN's: every weight and bias U(-1/sqrt(hidden), 1/sqrt(hidden)); the readout is nn.Linear's default.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from repro.nn.activations import make_activation
from repro.nn.snake_mlp import default_init_


class ElmanRNN(nn.Module):
    def __init__(self, hidden: int, activation: str = "tanh", *, d_in: int = 1, d_out: int = 1, a: float = 1.0,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.hidden = hidden
        self.w_i = nn.Parameter(torch.empty(hidden, d_in))
        self.w_h = nn.Parameter(torch.empty(hidden, hidden))
        self.b = nn.Parameter(torch.empty(hidden))
        self.act = make_activation(activation, a=a)
        self.readout = nn.Linear(hidden, d_out)
        bound = 1.0 / math.sqrt(hidden)
        with torch.no_grad():
            for w in (self.w_i, self.w_h, self.b):
                w.uniform_(-bound, bound, generator=generator)
        default_init_(self.readout, generator)

    def step(self, x_t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.act(x_t @ self.w_i.T + h @ self.w_h.T + self.b)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (T, batch, d_in) -> outputs (T, batch, d_out) and the last hidden state (batch, hidden)."""
        if h is None:
            h = x.new_zeros(x.shape[1], self.hidden)
        hs = []
        for x_t in x:
            h = self.step(x_t, h)
            hs.append(h)
        return self.readout(torch.stack(hs)), h

    @torch.no_grad()
    def rollout(self, x_last: torch.Tensor, h: torch.Tensor, n: int) -> torch.Tensor:
        """Free-running prediction: feed each output back as the next input, n steps. x_last: (batch, d_in)."""
        out, x_t = [], x_last
        for _ in range(n):
            h = self.step(x_t, h)
            x_t = self.readout(h)
            out.append(x_t)
        return torch.stack(out)
