"""The training layer (repro/train/): the loop takes exactly the steps of a hand-written loop, its hooks see what
the figures log, divergence and max_steps stop it where they should; batches, augmentation, checkpoints."""
import math

import pytest
import torch

from repro.runner.context import RunContext
from repro.train import (RunningMean, checkpoint_path, endless_batches, evaluate_classifier, fit, load_checkpoint,
                         random_crop_flip, save_checkpoint, shuffled_batches, train_step)
from repro.train.loop import steps_for


def _problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(50, 3, generator=g), torch.randint(0, 4, (50,), generator=g)
    net = torch.nn.Linear(3, 4)
    with torch.no_grad():
        net.weight.copy_(torch.randn(4, 3, generator=g))
        net.bias.zero_()
    return x, y, net


def test_fit_takes_the_steps_of_a_hand_written_loop_in_the_same_order():
    x, y, net = _problem()
    ref = torch.nn.Linear(3, 4)
    ref.load_state_dict(net.state_dict())
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    g, g_ref = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    losses = []
    list(fit(opt, lambda idx: torch.nn.functional.cross_entropy(net(x[idx]), y[idx]),
             lambda epoch: shuffled_batches(50, 16, g), epochs=3,
             on_step=lambda state, idx: losses.append(state.loss.item())))
    ref_losses = []
    for _ in range(3):
        order = torch.randperm(50, generator=g_ref)
        for i in range(0, 50, 16):
            idx = order[i:i + 16]
            loss = torch.nn.functional.cross_entropy(ref(x[idx]), y[idx])
            ref_opt.zero_grad()
            loss.backward()
            ref_opt.step()
            ref_losses.append(loss.item())
    assert len(losses) == 12 and losses == ref_losses
    assert torch.equal(net.weight, ref.weight)


def test_hooks_see_steps_and_epochs_and_max_steps_ends_inside_an_epoch():
    x, y, net = _problem()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    events = []
    state = None

    def run():
        nonlocal state
        state = yield from fit(opt, lambda idx: torch.nn.functional.cross_entropy(net(x[idx]), y[idx]),
                               lambda epoch: shuffled_batches(50, 20, torch.Generator().manual_seed(epoch)),
                               epochs=5, max_steps=7,
                               on_epoch_start=lambda s: events.append(("start", s.epoch, s.step)),
                               on_step=lambda s, idx: [{"step": s.step}],
                               on_epoch_end=lambda s: events.append(("end", s.epoch, s.step)))

    rows = list(run())
    assert [r["step"] for r in rows] == list(range(1, 8))
    assert events == [("start", 1, 0), ("end", 1, 3), ("start", 2, 3), ("end", 2, 6), ("start", 3, 6), ("end", 3, 7)]
    assert state.step == 7 and state.epoch == 3 and not state.diverged
    assert steps_for(50, 20, 5, max_steps=7) == (3, 7)
    assert steps_for(50, 20, 5, steps=4) == (2, 4)


def test_a_non_finite_loss_stops_the_run_at_the_next_check():
    w = torch.nn.Parameter(torch.tensor(1.0))
    opt = torch.optim.SGD([w], lr=1.0)
    values = [1.0, 2.0, math.inf, 3.0, 4.0, 5.0, 6.0]

    def loss_fn(t):
        return w * 0 + values[t - 1]

    seen = []
    state = None

    def run():
        nonlocal state
        state = yield from fit(opt, loss_fn, lambda epoch: range(1, 8), check_finite_every=2,
                               on_step=lambda s, t: seen.append(t))

    list(run())
    assert seen == [1, 2, 3, 4] and state.diverged and state.step == 4


def test_micro_batch_losses_accumulate_into_one_step_equal_to_the_whole_batch():
    x, y, net = _problem()
    whole = torch.nn.Linear(3, 4)
    whole.load_state_dict(net.state_dict())
    opt, opt_whole = torch.optim.SGD(net.parameters(), lr=0.5), torch.optim.SGD(whole.parameters(), lr=0.5)

    def micro(batch):
        for part in (slice(0, 25), slice(25, 50)):
            yield torch.nn.functional.cross_entropy(net(x[part]), y[part], reduction="sum") / 50

    loss, norm = train_step(opt, micro, clip_norm=math.inf)
    loss_whole, _ = train_step(opt_whole, lambda b: torch.nn.functional.cross_entropy(whole(x), y))
    torch.testing.assert_close(loss, loss_whole)
    torch.testing.assert_close(net.weight, whole.weight)
    assert norm > 0


def test_lr_schedule_is_set_before_each_step_and_clip_norm_clips():
    w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    opt = torch.optim.SGD([w], lr=1.0)
    norms, lrs = [], []
    list(fit(opt, lambda t: (w * w).sum() / 2, lambda epoch: range(3), lr_at=lambda step: 0.1 * step,
             clip_norm=1.0, on_step=lambda s, t: (norms.append(s.grad_norm.item()),
                                                   lrs.append(opt.param_groups[0]["lr"])) and None))
    assert lrs == pytest.approx([0.1, 0.2, 0.3])
    assert norms[0] == pytest.approx(5.0)   # the norm before clipping; the step moved w by lr * 1 along -w
    assert torch.linalg.vector_norm(w).item() == pytest.approx(5.0 - 0.1 - 0.2 - 0.3, rel=1e-6)


def test_running_mean_weights_and_flushes():
    m = RunningMean()
    m.add(torch.tensor(1.0), 3)
    m.add(torch.tensor(2.0), 1)
    assert m.flush() == pytest.approx(1.25)
    assert math.isnan(m.flush())


def test_evaluate_classifier_counts_and_restores_the_mode():
    x, y, net = _problem()
    net.train()
    loss, acc = evaluate_classifier(net, x, y, batch_size=7)
    out = net(x)
    assert loss == pytest.approx(torch.nn.functional.cross_entropy(out, y).item(), rel=1e-6)
    assert acc == pytest.approx(100.0 * (out.argmax(1) == y).float().mean().item())
    assert net.training


def test_crop_flip_keeps_shapes_and_content_and_draws_from_the_generator():
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).reshape(2, 3, 32, 32)
    out = random_crop_flip(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    for i in range(2):   # every output is a shifted (and maybe flipped) window of the zero-padded input
        padded = torch.nn.functional.pad(x[i], (4, 4, 4, 4))
        windows = [padded[:, r:r + 32, c:c + 32] for r in range(9) for c in range(9)]
        assert any(torch.equal(out[i], w) or torch.equal(out[i], w.flip(2)) for w in windows)
    assert torch.equal(out, random_crop_flip(x, torch.Generator().manual_seed(0)))
    assert not torch.equal(out, random_crop_flip(x, torch.Generator().manual_seed(1)))


def test_shuffled_batches_cover_every_index_once():
    batches = shuffled_batches(10, 4, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    assert [len(b) for b in shuffled_batches(10, 4, torch.Generator().manual_seed(0), drop_last=True)] == [4, 4]


def test_checkpoints_live_in_the_contexts_directory_named_by_identity(tmp_path):
    ctx = RunContext(seed=0, checkpoint_dir=tmp_path)
    path = checkpoint_path(ctx, "paper.fn", {"seed": 1, "params": {"lr": 0.1}})
    assert path.parent == tmp_path
    assert path != checkpoint_path(ctx, "paper.fn", {"seed": 2, "params": {"lr": 0.1}})
    assert checkpoint_path(RunContext(seed=0), "paper.fn", {}) is None
    assert load_checkpoint(path) is None
    save_checkpoint(path, {"step": 3, "w": torch.ones(2)})
    assert load_checkpoint(path)["step"] == 3 and not list(tmp_path.glob("*.tmp*"))


def test_endless_batches_redraw_the_order_when_fewer_than_a_batch_remain():
    g, g_ref = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    it = endless_batches(23, 5, g, drop_last=True)
    order, expected = [], []
    for _ in range(12):   # the hand-written form of the RoBERTa loop: refill, take the first five
        if len(order) < 5:
            order = torch.randperm(23, generator=g_ref).tolist()
        expected.append(order[:5])
        order = order[5:]
    assert [next(it).tolist() for _ in range(12)] == expected


def test_a_killed_run_resumes_from_its_checkpoint_with_exactly_the_rows_of_an_uninterrupted_one(tmp_path):
    from repro.train import Resume

    x, y, _ = _problem()

    def run(path, kill_at=None, started=None):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Dropout(0.2), torch.nn.Linear(8, 4))
        opt = torch.optim.Adam(net.parameters(), lr=0.05)
        order = torch.Generator().manual_seed(1)

        def on_epoch_start(state):
            if started is not None:
                started.append(state.epoch)
            if state.epoch == kill_at:
                raise KeyboardInterrupt   # the worker is killed

        def on_epoch_end(state):
            yield {"epoch": state.epoch, "step": state.step, "loss": state.loss.item()}

        rows = list(fit(opt, lambda idx: torch.nn.functional.cross_entropy(net(x[idx]), y[idx]),
                        lambda epoch: shuffled_batches(50, 16, order), epochs=5, on_epoch_start=on_epoch_start,
                        on_epoch_end=on_epoch_end, resume=Resume(path, modules=[net], generators=[order], every=2)))
        return rows, net

    straight, net = run(None)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "ck.pt", kill_at=4)   # checkpoints after epoch 2, killed during epoch 4
    assert (tmp_path / "ck.pt").exists()
    started = []
    resumed, net_resumed = run(tmp_path / "ck.pt", started=started)
    assert started == [3, 4, 5]   # it trained only what the checkpoint had not
    assert not (tmp_path / "ck.pt").exists()   # a finished run removes its checkpoint
    assert resumed == straight and [r["epoch"] for r in resumed] == [1, 2, 3, 4, 5]
    for a, b in zip(net.parameters(), net_resumed.parameters()):
        assert torch.equal(a, b)


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    """load_checkpoint reads with weights_only=True (issue 15, item 10): a pickle that calls a function is refused."""
    import os

    import pytest

    from repro.train.checkpoint import load_checkpoint

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    path = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, path)
    with pytest.raises(Exception, match="(?i)weights_only|unsupported global"):
        load_checkpoint(path)
