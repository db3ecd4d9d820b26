"""Rainbow checkpoints are loaded with weights_only=True (issue 15, item 10): what a checkpoint holds loads, a
pickle that would run code does not."""
import os

import numpy as np
import pytest
import torch

from repro.rl import rainbow
from repro.train.checkpoint import save_checkpoint


def test_checkpoint_contents_load_with_weights_only(tmp_path):
    blob = {"args": {"lr": 1e-4}, "seed": 3, "obs": np.zeros((4, 84, 84), dtype=np.uint8),
            "replay_rng": np.random.default_rng(0).bit_generator.state, "st": {"step": 5, "rewards": [1.0]},
            "env": {"frames": np.ones((4, 8, 8), dtype=np.uint8), "lives": 3}, "events": [("eval", 5, [1.0])],
            "replay": {"obs": torch.zeros(2, 4), "pos": 2}, "noise_gen": torch.Generator().get_state(),
            "f32": np.arange(3, dtype=np.float32)}
    path = str(tmp_path / "ck.pt")
    save_checkpoint(path, blob)
    ck = rainbow._load(path)
    assert ck["seed"] == 3 and ck["obs"].shape == (4, 84, 84) and ck["events"] == [("eval", 5, [1.0])]
    assert ck["f32"].dtype == np.float32


class _Evil:
    def __reduce__(self):
        return (os.system, ("true",))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    path = str(tmp_path / "evil.pt")
    torch.save({"x": _Evil()}, path)
    with pytest.raises(Exception, match="(?i)weights_only|unsupported global"):
        rainbow._load(path)
