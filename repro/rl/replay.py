"""Prioritized experience replay (Schaul et al. 2016, proportional variant) with a sum-tree and a min-tree, as in
the OpenAI-baselines buffer the LaProp authors' Rainbow uses: new transitions get the largest priority seen so far,
sampling is stratified over `batch` equal slices of the total priority mass, and the importance weights
(N P(i))^-beta are divided by their largest possible value (from the minimum priority).

Observations are frame stacks (k, H, W) uint8; a transition stores its state stack and only the newest frame of
the next state (next_state = state[1:] + that frame), 5/8 of the memory of storing both stacks.
"""
from __future__ import annotations

import numpy as np


class SumTree:
    """Binary trees over `capacity` leaves (a power of two): sums for proportional sampling, minima for the
    largest importance weight. Every operation is vectorised over a batch of leaves."""

    def __init__(self, capacity: int):
        assert capacity > 0 and capacity & (capacity - 1) == 0, "capacity must be a power of two"
        self.capacity = capacity
        self.sums = np.zeros(2 * capacity, dtype=np.float64)
        self.mins = np.full(2 * capacity, np.inf, dtype=np.float64)

    def update(self, idx, values) -> None:
        idx = np.asarray(idx, dtype=np.int64) + self.capacity
        values = np.broadcast_to(np.asarray(values, dtype=np.float64), idx.shape)
        # last write wins for repeated leaves, as a sequential loop would
        self.sums[idx] = values
        self.mins[idx] = values
        idx = np.unique(idx // 2)
        while idx.size and idx[0] >= 1:
            self.sums[idx] = self.sums[2 * idx] + self.sums[2 * idx + 1]
            self.mins[idx] = np.minimum(self.mins[2 * idx], self.mins[2 * idx + 1])
            if idx[0] == 1:
                break
            idx = np.unique(idx // 2)

    @property
    def total(self) -> float:
        return float(self.sums[1])

    @property
    def min(self) -> float:
        return float(self.mins[1])

    def leaf(self, idx):
        return self.sums[np.asarray(idx) + self.capacity]

    def find_prefixsum(self, mass) -> np.ndarray:
        """For each mass in [0, total), the leaf i with sum(leaves < i) <= mass < sum(leaves <= i)."""
        mass = np.array(mass, dtype=np.float64)
        idx = np.ones(mass.shape, dtype=np.int64)
        while idx[0] < self.capacity:
            left = 2 * idx
            go_right = self.sums[left] <= mass
            mass = np.where(go_right, mass - self.sums[left], mass)
            idx = left + go_right
        return idx - self.capacity


class PrioritizedReplay:
    def __init__(self, size: int, obs_shape, alpha: float, rng: np.random.Generator):
        self.capacity = 1 << max(0, int(size - 1).bit_length())   # the authors' it_capacity: next power of two
        self.size, self.alpha, self.rng = size, alpha, rng
        self.tree = SumTree(self.capacity)
        self.obs = np.zeros((size, *obs_shape), dtype=np.uint8)
        self.next_last = np.zeros((size, *obs_shape[1:]), dtype=np.uint8)
        self.action = np.zeros(size, dtype=np.int64)
        self.reward = np.zeros(size, dtype=np.float32)
        self.done = np.zeros(size, dtype=np.float32)
        self.pos, self.n, self.max_priority = 0, 0, 1.0

    def __len__(self) -> int:
        return self.n

    def push(self, state, action, reward, next_state, done) -> None:
        i = self.pos
        self.obs[i], self.next_last[i] = state, next_state[-1]
        self.action[i], self.reward[i], self.done[i] = action, reward, done
        self.tree.update([i], self.max_priority ** self.alpha)
        self.pos, self.n = (i + 1) % self.size, min(self.n + 1, self.size)

    def sample(self, batch: int, beta: float):
        total = self.tree.total
        edges = (np.arange(batch) + self.rng.random(batch)) * (total / batch)
        idx = np.minimum(self.tree.find_prefixsum(edges), self.n - 1)
        p_min = self.tree.min / total
        max_weight = (p_min * self.n) ** (-beta)
        weights = (self.tree.leaf(idx) / total * self.n) ** (-beta) / max_weight
        state = self.obs[idx]
        next_state = np.concatenate([state[:, 1:], self.next_last[idx][:, None]], axis=1)
        return (state, self.action[idx], self.reward[idx], next_state, self.done[idx],
                weights.astype(np.float32), idx)

    def update_priorities(self, idx, priorities) -> None:
        priorities = np.asarray(priorities, dtype=np.float64)
        assert np.all(priorities > 0), "priorities must be positive"
        self.tree.update(idx, priorities ** self.alpha)
        self.max_priority = max(self.max_priority, float(priorities.max()))

    # ---- checkpoints -------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Zero-copy: the filled part of every array as a torch tensor sharing memory with the buffer (torch.save
        then writes each as its own storage record, which holds the ~17 GB of a full-scale buffer without a
        second copy in memory). Save it before the buffer changes again."""
        import torch
        n = self.n
        arrays = {k: torch.from_numpy(getattr(self, k)[:n]) for k in ("obs", "next_last", "action", "reward", "done")}
        return {**arrays, "sums": torch.from_numpy(self.tree.sums), "mins": torch.from_numpy(self.tree.mins),
                "pos": self.pos, "n": n, "max_priority": self.max_priority}

    def load_state_dict(self, s: dict) -> None:
        n = s["n"]
        for k in ("obs", "next_last", "action", "reward", "done"):
            getattr(self, k)[:n] = np.asarray(s[k])
        self.tree.sums[:], self.tree.mins[:] = np.asarray(s["sums"]), np.asarray(s["mins"])
        self.pos, self.n, self.max_priority = s["pos"], n, s["max_priority"]
