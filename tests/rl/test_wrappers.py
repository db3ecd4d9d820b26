"""DeepMind Atari preprocessing on the real game (ale-py ships the ROMs): shapes, the area resize, episodic life,
reward clipping, and exact save/restore of the whole environment state."""
import numpy as np
import pytest
import torch

pytest.importorskip("ale_py")
from repro.rl.wrappers import AtariEnv, area_resize  # noqa: E402


def test_area_resize_equals_adaptive_average_pooling():
    img = np.random.default_rng(0).integers(0, 256, (210, 160), dtype=np.uint8)
    ref = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(img)[None, None].double(), 84)[0, 0].numpy()
    np.testing.assert_array_equal(area_resize(img), np.rint(ref).astype(np.uint8))
    flat = np.full((210, 160), 77, np.uint8)
    assert (area_resize(flat) == 77).all()


def test_breakout_stack_lives_and_rewards():
    env = AtariEnv("BreakoutNoFrameskip-v4", seed=0, clip_rewards=True)
    obs = env.reset()
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8 and env.n_actions == 4
    assert (obs[0] == obs[3]).all()            # reset fills the stack with the first frame
    lives, rewards, life_losses, games = env.ale.lives(), set(), 0, 0
    assert lives == 5
    for _ in range(20000):
        nxt, r, done, info = env.step(env.random_action())
        np.testing.assert_array_equal(nxt[:3], obs[1:])
        rewards.add(r)
        obs = nxt
        if done:
            life_losses += 1
            if info["real_done"]:
                assert life_losses == 5                     # a game is five lives, each a done
                games, life_losses = games + 1, 0
                if 1.0 in rewards:
                    break
            else:
                assert info["lives"] == lives - life_losses     # episodic life: done at every lost life
            obs = env.reset()
    assert games >= 1 and rewards == {0.0, 1.0}
    env.close()


def test_state_round_trip_is_exact():
    env = AtariEnv(seed=3)
    env.reset()
    for _ in range(40):
        env.step(env.random_action())
    saved = env.get_state()
    run = lambda: [(o.copy(), r, d) for o, r, d, _ in (env.step(env.random_action()) for _ in range(200))]  # noqa
    a = run()
    env.set_state(saved)
    b = run()
    assert all((x[0] == y[0]).all() and x[1:] == y[1:] for x, y in zip(a, b))
    env.close()
