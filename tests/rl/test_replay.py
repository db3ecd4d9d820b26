"""Prioritized replay: the sum-tree's prefix search and sums against brute force, proportional sampling, the
importance weights of Schaul et al. (normalised by the largest), the next-state reconstruction, checkpoints."""
import numpy as np
import pytest

from repro.rl.replay import PrioritizedReplay, SumTree


def test_sum_tree_matches_brute_force():
    rng = np.random.default_rng(0)
    tree = SumTree(16)
    values = np.zeros(16)
    written = np.zeros(16, bool)
    for _ in range(50):
        idx = rng.integers(0, 16, size=3)
        v = rng.random(3) * 5
        tree.update(idx, v)
        for i, x in zip(idx, v):   # sequential semantics: the last write to a leaf wins
            values[i] = x
            written[i] = True
        assert tree.total == pytest.approx(values.sum(), rel=1e-12)
        assert tree.min == pytest.approx(values[written].min())   # unwritten leaves count as +inf
    cum = np.cumsum(values)
    mass = rng.random(200) * tree.total
    expected = np.searchsorted(cum, mass, side="right")
    np.testing.assert_array_equal(tree.find_prefixsum(mass), expected)


def test_sampling_is_proportional_to_priority_alpha_and_weights_follow_schaul():
    rng = np.random.default_rng(1)
    buf = PrioritizedReplay(8, (2, 3, 3), alpha=0.5, rng=rng)
    for i in range(8):
        buf.push(np.full((2, 3, 3), i, np.uint8), i % 3, float(i), np.full((2, 3, 3), i + 1, np.uint8), 0.0)
    prios = np.arange(1, 9, dtype=float)
    buf.update_priorities(np.arange(8), prios)
    p = prios ** 0.5 / (prios ** 0.5).sum()
    counts = np.zeros(8)
    for _ in range(3000):
        *_, w, idx = buf.sample(8, beta=0.4)
        np.add.at(counts, idx, 1)
        np.testing.assert_allclose(w, (p[idx] * 8) ** -0.4 / (p.min() * 8) ** -0.4, rtol=1e-6)
    freq = counts / counts.sum()
    np.testing.assert_allclose(freq, p, atol=0.01)
    assert buf.max_priority == 8.0


def test_next_state_is_the_shifted_stack_plus_the_new_frame_and_checkpoint_round_trips():
    buf = PrioritizedReplay(5, (3, 2, 2), alpha=0.5, rng=np.random.default_rng(0))
    frames = [np.full((2, 2), k, np.uint8) for k in range(10)]
    for t in range(7):   # wraps around the ring
        s = np.stack(frames[t:t + 3])
        s2 = np.stack(frames[t + 1:t + 4])
        buf.push(s, t, float(t), s2, float(t == 6))
    assert len(buf) == 5 and buf.pos == 2
    s, a, r, s2, d, w, idx = buf.sample(5, beta=1.0)
    for k in range(5):
        t = int(a[k])
        np.testing.assert_array_equal(s[k], np.stack(frames[t:t + 3]))
        np.testing.assert_array_equal(s2[k], np.stack(frames[t + 1:t + 4]))
        assert r[k] == t and d[k] == float(t == 6)
    other = PrioritizedReplay(5, (3, 2, 2), alpha=0.5, rng=np.random.default_rng(0))
    other.load_state_dict(buf.state_dict())
    buf.rng, other.rng = np.random.default_rng(5), np.random.default_rng(5)
    for x, y in zip(buf.sample(4, 0.7), other.sample(4, 0.7)):
        np.testing.assert_array_equal(x, y)


def test_capacity_is_the_next_power_of_two_and_priorities_must_be_positive():
    buf = PrioritizedReplay(5, (1, 1, 1), alpha=0.5, rng=np.random.default_rng(0))
    assert buf.capacity == 8
    buf.push(np.zeros((1, 1, 1), np.uint8), 0, 0.0, np.zeros((1, 1, 1), np.uint8), 0.0)
    with pytest.raises(AssertionError):
        buf.update_priorities([0], [0.0])
