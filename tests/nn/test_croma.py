"""CroMA networks (repro/nn/croma.py) and the Reptile step (repro/optim/reptile.py)."""
import pytest
import torch

from repro.nn.croma import CroMANet, build_encoder
from repro.optim.reptile import ReptileMeta, reptile_interpolate


@pytest.mark.parametrize("spec,x", [({"kind": "vector", "dim": 6}, torch.randn(4, 6)),
                                    ({"kind": "sequence", "dim": 3, "layers": 2}, torch.randn(4, 5, 3)),
                                    ({"kind": "tokens", "vocab": 7, "bidirectional": True}, torch.randint(7, (4, 5))),
                                    ({"kind": "signal", "length": 9}, torch.randn(4, 9)),
                                    ({"kind": "image", "channels": 1}, torch.randn(4, 1, 8, 8))])
def test_encoders_map_to_the_embedding(spec, x):
    assert build_encoder(spec, 5, 8)(x).shape == (4, 5)


def test_bad_modality_kind():
    with pytest.raises(ValueError, match="modality kind"):
        build_encoder({"kind": "video"}, 4, 4)


def test_shared_encoder_uses_the_source_body_and_its_own_input_map():
    net = CroMANet({"kind": "tokens", "vocab": 7}, {"kind": "sequence", "dim": 3}, 4, 6, 8, shared=True)
    assert net.f_t.source is net.f_s
    assert net.target_logits(torch.randn(2, 5, 3)).shape == (2, 4)
    ids = {id(q) for q in net.encoder_params()}
    assert len(ids) == len(net.encoder_params())   # the shared body is counted once


def test_reptile_sgd_is_theta_plus_eps_phi_minus_theta():
    theta = torch.nn.Parameter(torch.tensor([1.0, -2.0, 3.0]))
    phi = torch.tensor([0.0, 2.0, 3.5])
    expected = reptile_interpolate(theta.detach().clone(), phi, 0.1)
    ReptileMeta([theta], "sgd", lr=0.1).step([phi])
    assert torch.allclose(theta.detach(), expected)
    assert torch.allclose(expected, torch.tensor([0.9, -1.6, 3.05]))


def test_reptile_adam_and_errors():
    theta = torch.nn.Parameter(torch.zeros(2))
    ReptileMeta([theta], "adam", lr=0.01).step([torch.ones(2)])
    assert torch.allclose(theta.detach(), torch.full((2,), 0.01), atol=1e-6)   # Adam's first step: lr * sign
    with pytest.raises(ValueError):
        ReptileMeta([theta], "rmsprop")
    with pytest.raises(ValueError):
        ReptileMeta([theta], "sgd").step([])
