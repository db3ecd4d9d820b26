"""A single-layer, batch-first LSTM written as a loop over time of plain tensor ops, with nn.LSTM's parameters
(weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0; gates in torch's order i, f, g, o) and outputs
(outputs [B, T, H], (h_n [1, B, H], c_n [1, B, H])). Why: torch.func.vmap has no batching rule for aten::lstm, so
K LSTMs cannot be stacked (repro/train/stacked.py); this one can. `from_lstm` copies an nn.LSTM (same numbers to
rounding: tests/nn/test_unrolled_lstm.py). Used by volumization's stacked IMDB sweeps (LSTMATT,
repro/experiments/volumization/sweeps.py); slower than cuDNN's fused kernel per model, amortised over the stack."""
from __future__ import annotations

import torch
from torch import nn


class UnrolledLSTM(nn.Module):
    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih_l0 = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih_l0 = nn.Parameter(torch.empty(4 * hidden_size))
        self.bias_hh_l0 = nn.Parameter(torch.empty(4 * hidden_size))

    @classmethod
    def from_lstm(cls, lstm: nn.LSTM) -> "UnrolledLSTM":
        if lstm.num_layers != 1 or lstm.bidirectional or not lstm.batch_first or not lstm.bias or lstm.proj_size:
            raise ValueError("UnrolledLSTM replaces a single-layer, unidirectional, batch-first LSTM with biases")
        out = cls(lstm.input_size, lstm.hidden_size)
        out.load_state_dict(lstm.state_dict())
        return out

    def forward(self, x: torch.Tensor):
        b, t, _ = x.shape
        h = x.new_zeros(b, self.hidden_size)
        c = x.new_zeros(b, self.hidden_size)
        pre = torch.nn.functional.linear(x, self.weight_ih_l0, self.bias_ih_l0 + self.bias_hh_l0)   # all steps at once
        outs = []
        for step in range(t):
            gates = pre[:, step] + h @ self.weight_hh_l0.T
            i, f, g, o = gates.chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        return torch.stack(outs, dim=1), (h.unsqueeze(0), c.unsqueeze(0))
