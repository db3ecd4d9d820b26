"""DeepMind Atari preprocessing as one checkpointable environment (gymnasium + ale-py).

`AtariEnv` applies, in this order, the wrappers of the DeepMind / OpenAI-baselines stack that the LaProp authors'
`rainbow/common/wrappers.py` uses on `BreakoutNoFrameskip-v4`:

  noop reset (up to 30 no-ops)  ->  fire reset  ->  episodic life  ->  max-and-skip 4  ->  84x84 grey
  ->  reward clipping to [-1, 1] (optional; the trainer clips, the evaluation does not)  ->  frame stack 4

They live in one class (instead of a chain of gym.Wrappers) so that the whole environment state -- the emulator
with its RNG, the lives counter, the noop RNG and the frame stack -- can be saved in a checkpoint and restored
exactly (`get_state` / `set_state`). Differences from the baselines stack, both small: the grey image is the
ALE's own grey palette (`obs_type="grayscale"`) instead of OpenCV's RGB->grey, and the 84x84 resize is an exact
area average (torch's adaptive average pooling: each output pixel is the mean of its input cell, cells rounded to
whole pixels, whereas cv2.INTER_AREA weights fractional pixels), so OpenCV is not needed.
"""
from __future__ import annotations

import numpy as np


def _cells(n_in: int, n_out: int):
    i = np.arange(n_out)
    return (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)    # floor and ceil, as adaptive average pooling


def area_resize(img: np.ndarray, size: int = 84) -> np.ndarray:
    """uint8 (H, W) -> uint8 (size, size): each output pixel is the rounded mean of its cell (integral images;
    equal to torch.nn.functional.adaptive_avg_pool2d, without BLAS or thread pools)."""
    h, w = img.shape
    (r0, r1), (c0, c1) = _cells(h, size), _cells(w, size)
    cs = np.zeros((h + 1, w + 1), dtype=np.int64)
    np.cumsum(np.cumsum(img, axis=0, dtype=np.int64), axis=1, out=cs[1:, 1:])
    total = cs[r1][:, c1] - cs[r0][:, c1] - cs[r1][:, c0] + cs[r0][:, c0]
    area = (r1 - r0)[:, None] * (c1 - c0)[None, :]
    return np.rint(total / area).astype(np.uint8)


def make_gym_env(env_id: str = "BreakoutNoFrameskip-v4"):
    """The raw ALE environment (grey observations, no frame-skip). Raises ImportError with the install line."""
    try:
        import ale_py
        import gymnasium as gym
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("the Atari figure needs the `rl` extra: pip install 'gymnasium[atari]>=1.0' "
                          "'ale-py>=0.9'") from e
    gym.register_envs(ale_py)
    return gym.make(env_id, obs_type="grayscale")


class AtariEnv:
    """reset() -> obs; step(a) -> (obs, reward, done, info) with done at every life loss (episodic life) and
    info["real_done"] at game over. Observations are uint8 arrays (frame_stack, 84, 84)."""

    def __init__(self, env_id: str = "BreakoutNoFrameskip-v4", seed: int = 0, *, noop_max: int = 30, skip: int = 4,
                 frame_stack: int = 4, episodic_life: bool = True, clip_rewards: bool = True, size: int = 84):
        self.env = make_gym_env(env_id)
        self.ale = self.env.unwrapped.ale
        self.noop_max, self.skip, self.k = noop_max, skip, frame_stack
        self.episodic_life, self.clip_rewards = episodic_life, clip_rewards
        self.n_actions = int(self.env.action_space.n)
        meanings = self.env.unwrapped.get_action_meanings()
        self.fire = meanings.index("FIRE") if "FIRE" in meanings else None
        self.rng = np.random.default_rng(seed)
        self.env.reset(seed=int(seed))
        self.size = size
        self.lives = 0
        self.real_done = True
        self.frames = np.zeros((frame_stack, size, size), dtype=np.uint8)

    # ---- state for checkpoints -------------------------------------------------------------------------------
    def get_state(self) -> dict:
        return {"ale": self.ale.cloneState(include_rng=True), "rng": self.rng.bit_generator.state,
                "lives": self.lives, "real_done": self.real_done, "frames": self.frames.copy()}

    def set_state(self, s: dict) -> None:
        self.ale.restoreState(s["ale"])
        self.rng.bit_generator.state = s["rng"]
        self.lives, self.real_done, self.frames = s["lives"], s["real_done"], s["frames"].copy()

    # ---- the stack ---------------------------------------------------------------------------------------------
    def _warp(self, grey: np.ndarray) -> np.ndarray:
        return area_resize(grey, self.size)

    def _raw_step(self, a: int):
        _, r, term, trunc, _ = self.env.step(a)
        return float(r), bool(term or trunc)

    def _skip_step(self, a: int):
        """Max-and-skip: repeat the action `skip` times, max over the last two frames, sum the rewards."""
        total, done, buf = 0.0, False, []
        for i in range(self.skip):
            r, done = self._raw_step(a)
            total += r
            if i >= self.skip - 2:
                buf.append(self.ale.getScreenGrayscale())
            if done:
                break
        frame = np.maximum(buf[-2], buf[-1]) if len(buf) == 2 else (buf[-1] if buf else self.ale.getScreenGrayscale())
        return frame, total, done

    def _noop_reset(self):
        """Game reset followed by 1..noop_max raw no-op frames (below max-and-skip, as in baselines)."""
        self.env.reset()
        for _ in range(int(self.rng.integers(1, self.noop_max + 1))):
            _, done = self._raw_step(0)
            if done:
                self.env.reset()
        return self.ale.getScreenGrayscale()

    def _life_reset(self):
        """Episodic life's reset: a new game after game over, else one no-op (skipped) step to continue."""
        if self.real_done or not self.episodic_life:
            return self._noop_reset()
        frame, _, done = self._skip_step(0)
        return self._noop_reset() if done else frame

    def reset(self) -> np.ndarray:
        """Fire reset over episodic life: after every (life) reset press FIRE then RIGHT (skipped steps)."""
        self.real_done = False
        frame = self._life_reset()
        if self.fire is not None:
            for a in (self.fire, 2):
                frame, _, done = self._skip_step(a)
                if done:
                    self.real_done = True
                    frame = self._life_reset()
                    self.real_done = False
        self.lives = self.ale.lives()
        self.frames[:] = self._warp(frame)
        return self.frames.copy()

    def step(self, action: int):
        frame, reward, done = self._skip_step(int(action))
        self.real_done = done
        lives = self.ale.lives()
        if self.episodic_life and 0 < lives < self.lives:
            done = True
        self.lives = lives
        self.frames[:-1] = self.frames[1:]
        self.frames[-1] = self._warp(frame)
        if self.clip_rewards:
            reward = float(np.sign(reward))
        return self.frames.copy(), reward, done, {"real_done": self.real_done, "lives": lives}

    def random_action(self) -> int:
        return int(self.rng.integers(self.n_actions))

    def close(self) -> None:
        self.env.close()
