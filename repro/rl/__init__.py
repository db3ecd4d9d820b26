"""Reinforcement-learning baselines (install the `rl` extra: gymnasium + ale-py, which ship the Atari ROMs).

`repro.rl.rainbow` is a single-file Rainbow-style DQN (C51 + double Q + noisy nets + prioritized replay) after the
LaProp authors' `rainbow/` code; `repro.rl.wrappers` holds the DeepMind Atari preprocessing and `repro.rl.replay`
the prioritized replay buffer with its sum-tree.
"""
