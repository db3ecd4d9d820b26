"""The fused (torch.compile'd) LaProp step against the eager foreach path, its reference."""
import warnings

import pytest
import torch

import repro.optim.fused as fused_mod
from repro.optim import LaProp
from tests.optim.test_paths import LAPROP_CONFIGS, assert_same_run, ids, train

F64 = torch.float64


@pytest.fixture(autouse=True)
def fresh_dynamo():
    """Each test compiles afresh: dynamo's per-function recompile limit (8) must not turn later tests eager."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def counting_graphs(fn):
    """fn's result and how many graphs dynamo compiled meanwhile."""
    before = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    out = fn()
    return out, torch._dynamo.utils.counters["stats"]["unique_graphs"] - before


@pytest.mark.parametrize("config", LAPROP_CONFIGS, ids=ids)
def test_fused_equals_foreach_over_training(config):
    # 300 steps of warmup + cosine lr, weight decay, a state_dict round trip at step 150; centred runs cross the
    # step-10 switch of the centring phase.
    make = lambda fused: lambda p: LaProp(p, betas=(0.9, 0.99), eps=1e-8, foreach=True, fused=fused, **config)  # noqa: E731
    eager = train(make(False))
    fused, n_graphs = counting_graphs(lambda: train(make(True)))
    assert not fused[1]._fused_kernel.failed
    assert_same_run(eager, fused, rtol=1e-10, atol=1e-12)
    # One graph per phase: the lr schedule and the bias corrections are tensors, not constants.
    assert 1 <= n_graphs <= (2 if config.get("centered") else 1)


def test_fused_float32_matches_foreach_to_float32_rounding():
    make = lambda fused: lambda p: LaProp(p, lr=1e-2, weight_decay=0.01, fused=fused, foreach=True)  # noqa: E731
    assert_same_run(train(make(False), dtype=torch.float32), train(make(True), dtype=torch.float32),
                    rtol=2e-4, atol=2e-5)


def test_fused_handles_parameters_that_skip_steps():
    # Tensor 1 has no gradient on steps 3-5: its L_t, c_n and step count lag, so it steps in a bucket of its own.
    torch.manual_seed(0)
    x0 = [torch.randn(s, dtype=F64) for s in [(3,), (4, 2), (5,)]]
    runs = []
    for fused in (False, True):
        params = [x.clone().requires_grad_() for x in x0]
        opt = LaProp(params, lr=0.05, betas=(0.8, 0.9), eps=1e-8, weight_decay=0.01, foreach=True, fused=fused)
        gen = torch.Generator().manual_seed(1)
        for t in range(20):
            for i, p in enumerate(params):
                p.grad = None if (i == 1 and 3 <= t <= 5) else torch.randn(p.shape, generator=gen, dtype=F64)
            opt.step()
        runs.append((params, opt))
    assert_same_run(*runs, rtol=1e-12, atol=1e-14)
    params, opt = runs[1]
    assert opt.state[params[1]]["step"] == 17 and opt.state[params[0]]["step"] == 20


def test_fused_falls_back_to_eager_when_compilation_fails(monkeypatch):
    def broken(kernel):
        def call(*args, **kwargs):
            raise torch._dynamo.exc.TorchDynamoException("no compiler here")
        return call

    monkeypatch.setattr(fused_mod, "compiled", broken)
    make = lambda fused: lambda p: LaProp(p, weight_decay=0.01, foreach=True, fused=fused)  # noqa: E731
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fell_back = train(make(True), steps=40, round_trip_at=-1)
    assert fell_back[1]._fused_kernel.failed
    assert sum("eager foreach path" in str(w.message) for w in caught) == 1   # warned once, not per step
    assert_same_run(train(make(False), steps=40, round_trip_at=-1), fell_back, rtol=0, atol=0)


def test_fused_is_off_by_default_and_recorded_in_the_state_dict():
    x = torch.zeros(2, requires_grad=True)
    assert LaProp([x]).defaults["fused"] is False
    assert LaProp([x], fused=True).state_dict()["param_groups"][0]["fused"] is True


def test_the_compiled_step_is_asked_for_only_where_it_pays():
    """CPU parameters (plain or in groups): compiled; any other device (CUDA, where the eager foreach step measured
    faster on an H200, here the meta device standing in): eager."""
    from repro.optim.fused import fused_pays_on

    assert fused_pays_on([torch.zeros(2)]) and fused_pays_on([{"params": [torch.zeros(2)], "lr": 0.1}])
    assert not fused_pays_on([torch.zeros(2, device="meta")])
    assert not fused_pays_on([{"params": [torch.zeros(2, device="meta")]}])
