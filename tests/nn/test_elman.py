import torch

from repro.nn.elman import ElmanRNN


def test_elman_matches_torch_rnn_for_tanh_and_relu():
    for act in ("tanh", "relu"):
        ours = ElmanRNN(7, act, d_in=2, d_out=3, generator=torch.Generator().manual_seed(0)).double()
        ref = torch.nn.RNN(2, 7, nonlinearity=act).double()
        with torch.no_grad():
            ref.weight_ih_l0.copy_(ours.w_i)
            ref.weight_hh_l0.copy_(ours.w_h)
            ref.bias_ih_l0.copy_(ours.b)
            ref.bias_hh_l0.zero_()
        x = torch.randn(11, 4, 2, dtype=torch.float64)
        out, h = ours(x)
        hs, h_ref = ref(x)
        assert torch.allclose(h, h_ref[0], atol=1e-12)
        assert torch.allclose(out, ours.readout(hs), atol=1e-12)


def test_rollout_feeds_outputs_back_and_init_is_seeded():
    a = ElmanRNN(5, "snake", a=10.0, generator=torch.Generator().manual_seed(1))
    b = ElmanRNN(5, "snake", a=10.0, generator=torch.Generator().manual_seed(1))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert a.w_h.abs().max() <= 1 / 5 ** 0.5
    x = torch.randn(6, 1, 1)
    out, h = a(x)
    roll = a.rollout(out[-1], h, 4)
    # step by step by hand
    x_t, hh, manual = out[-1], h, []
    for _ in range(4):
        hh = a.step(x_t, hh)
        x_t = a.readout(hh)
        manual.append(x_t)
    assert torch.allclose(roll, torch.stack(manual))
    assert roll.shape == (4, 1, 1)
