"""UnrolledLSTM equals nn.LSTM (outputs, final states, gradients) and, unlike it, stacks under vmap."""
import pytest
import torch
from torch import nn

from repro.nn.unrolled_lstm import UnrolledLSTM
from repro.train.stacked import StackedModels


def test_equals_nn_lstm_forward_and_backward():
    torch.manual_seed(0)
    ref = nn.LSTM(5, 7, batch_first=True)
    mine = UnrolledLSTM.from_lstm(ref)
    x = torch.randn(3, 11, 5)
    (o1, (h1, c1)), (o2, (h2, c2)) = ref(x), mine(x)
    for a, b in ((o1, o2), (h1, h2), (c1, c2)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    o1.square().sum().backward()
    o2.square().sum().backward()
    for name, p in ref.named_parameters():
        torch.testing.assert_close(p.grad, getattr(mine, name).grad, rtol=1e-4, atol=1e-6)


def test_stacks_under_vmap_and_rejects_other_lstms():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = UnrolledLSTM(4, 6)
            nn.init.normal_(self.lstm.weight_ih_l0)
            for name in ("weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
                nn.init.normal_(getattr(self.lstm, name))

        def forward(self, x):
            return self.lstm(x)[1][0][0]

    nets = [Net() for _ in range(3)]
    x = torch.randn(2, 5, 4)
    out = StackedModels(nets)(x)
    for k, net in enumerate(nets):
        torch.testing.assert_close(out[k], net(x))
    with pytest.raises(ValueError, match="single-layer"):
        UnrolledLSTM.from_lstm(nn.LSTM(4, 6, num_layers=2, batch_first=True))
