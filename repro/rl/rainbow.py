"""Rainbow-style DQN of the LaProp paper (fig=7), after the authors' `rainbow/` code (train.py, test.py, model.py):
C51 distributional head + double Q + noisy nets + prioritized replay, 1-step returns, no dueling, plus an
epsilon-greedy schedule on top of the noisy nets. One file, typed hyperparameters (`RainbowArgs`), in the spirit
of CleanRL's dqn_atari.py.

    train(args, ...)   a generator of events: ("eval", step, scores), ("log", step, stats), ("done", step, stats)
    evaluate(...)      the authors' test.py protocol for one checkpoint

Checkpoint and resume: `train(..., checkpoint=path)` saves everything a run depends on every
`args.checkpoint_every` agent steps (networks, optimizer, replay buffer and its trees, the environment with the
emulator RNG, every random stream, the counters and the events so far) and, when the file exists, starts from it.
A resumed run produces exactly the events of an uninterrupted one (tests/experiments/test_laprop_rainbow.py).

Random streams (each its own generator, so evaluation never perturbs training): `act` (epsilon-greedy and random
actions), `replay` (prioritized sampling), `noise` (noisy-layer noise during training), the environment's own
(noop resets, emulator); evaluation of the checkpoint at step s uses fresh streams seeded from (eval_seed, s).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from repro.optim import make_optimizer
from repro.rl.replay import PrioritizedReplay
from repro.rl.wrappers import AtariEnv
from repro.train.checkpoint import load_checkpoint, save_checkpoint
from repro.train.loop import train_step


@dataclass
class RainbowArgs:
    """Defaults = the catalog's full-scale setup (the authors' arguments.py and README)."""
    env_id: str = "BreakoutNoFrameskip-v4"
    total_steps: int = 12_000_000          # agent steps (after frame-skip), the authors' frame_idx
    # agent
    num_atoms: int = 51
    v_min: float = -10.0
    v_max: float = 10.0
    sigma_init: float = 0.5
    hidden: int = 512
    double: bool = True
    # exploration: epsilon-greedy on top of the noisy nets
    eps_start: float = 1.0
    eps_final: float = 0.005
    eps_decay: float = 30_000.0
    # prioritized replay
    buffer_size: int = 500_000
    alpha: float = 0.5
    beta_start: float = 0.4
    beta_frames: int = 100_000
    # training
    gamma: float = 0.99
    batch_size: int = 32
    lr: float = 6.25e-5
    optimizer: str = "adam"                # "adam" (eps 1.5e-4) | "laprop" (eps 1e-15)
    optimizer_eps: float = 1.5e-4
    beta1: float = 0.9
    beta2: float = 0.999
    train_freq: int = 4
    target_update: int = 10_000
    learning_starts: int = 80_000          # transitions in the buffer before the first update
    max_episode_steps: int = 9_950         # then random actions until the (life) episode ends
    clip_rewards: bool = True
    # evaluation (test.py): a checkpoint every eval_every steps, eval_games full games each
    eval_every: int = 200_000
    eval_games: int = 20
    eval_life_steps: int = 5_000           # greedy steps per life, then random actions until that life ends
    eval_max_steps: int = 0                # 0: no cap; else stop a game after this many steps (tiny scale only)
    checkpoint_every: int = 200_000
    torch_threads: int = 0                 # >0: torch's intra-op threads during the run (restored after); 1 is
                                           # fastest on a shared CPU (batch-1 acting, small batches)


# ---- network ---------------------------------------------------------------------------------------------------
class NoisyLinear(nn.Module):
    """Factorised Gaussian noisy linear layer (Fortunato et al. 2018), init as in the authors' model.py."""

    def __init__(self, n_in: int, n_out: int, sigma_init: float):
        super().__init__()
        self.n_in, self.n_out = n_in, n_out
        self.weight_mu = nn.Parameter(torch.empty(n_out, n_in))
        self.weight_sigma = nn.Parameter(torch.empty(n_out, n_in))
        self.bias_mu = nn.Parameter(torch.empty(n_out))
        self.bias_sigma = nn.Parameter(torch.empty(n_out))
        self.register_buffer("eps_in", torch.zeros(n_in))
        self.register_buffer("eps_out", torch.zeros(n_out))
        bound = 1 / math.sqrt(n_in)
        nn.init.uniform_(self.weight_mu, -bound, bound)
        nn.init.uniform_(self.bias_mu, -bound, bound)
        self.weight_sigma.data.fill_(sigma_init / math.sqrt(n_in))
        self.bias_sigma.data.fill_(sigma_init / math.sqrt(n_out))

    @staticmethod
    def _f(x: torch.Tensor) -> torch.Tensor:
        return x.sign() * x.abs().sqrt()

    def sample_noise(self, generator: torch.Generator) -> None:
        dev = self.eps_in.device
        self.eps_in.copy_(self._f(torch.randn(self.n_in, generator=generator, device=dev)))
        self.eps_out.copy_(self._f(torch.randn(self.n_out, generator=generator, device=dev)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x (W_mu + W_sigma * eps_out eps_in^T)^T + b, without forming the noisy weight (factorised noise)
        return (F.linear(x, self.weight_mu, self.bias_mu + self.bias_sigma * self.eps_out)
                + F.linear(x * self.eps_in, self.weight_sigma) * self.eps_out)


class CategoricalDQN(nn.Module):
    """Nature-DQN torso + noisy C51 head: forward -> log-probabilities (batch, actions, atoms)."""

    def __init__(self, in_channels: int, n_actions: int, args: RainbowArgs):
        super().__init__()
        self.n_actions, self.num_atoms = n_actions, args.num_atoms
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(), nn.Flatten())
        self.fc1 = NoisyLinear(64 * 7 * 7, args.hidden, args.sigma_init)
        self.fc2 = NoisyLinear(args.hidden, n_actions * args.num_atoms, args.sigma_init)
        self.register_buffer("support", torch.linspace(args.v_min, args.v_max, args.num_atoms))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x.float() / 255.0)
        x = self.fc2(F.relu(self.fc1(x)))
        return F.log_softmax(x.view(-1, self.n_actions, self.num_atoms), dim=2)

    def q_values(self, x: torch.Tensor) -> torch.Tensor:
        return (self.forward(x).exp() * self.support).sum(2)

    def sample_noise(self, generator: torch.Generator) -> None:
        self.fc1.sample_noise(generator)
        self.fc2.sample_noise(generator)


def projected_target(online: CategoricalDQN, target: CategoricalDQN, next_state, reward, done, args: RainbowArgs):
    """The C51 projection of r + gamma z onto the support, with the double-Q action (online net's argmax)."""
    with torch.no_grad():
        support = target.support
        next_dist = target(next_state).exp()
        chooser = online(next_state).exp() if args.double else next_dist
        next_action = (chooser * support).sum(2).argmax(1)
        p = next_dist[torch.arange(len(next_action), device=next_action.device), next_action]                       # (B, atoms)
        tz = (reward[:, None] + args.gamma * support[None, :] * (1 - done[:, None])).clamp(args.v_min, args.v_max)
        b = (tz - args.v_min) / ((args.v_max - args.v_min) / (args.num_atoms - 1))
        lo = b.floor().long()
        hi = (lo + 1).clamp(max=args.num_atoms - 1)
        m = torch.zeros_like(p)
        m.scatter_add_(1, lo, p * (lo + 1 - b))     # when b is an integer, all mass goes to lo (as the authors')
        m.scatter_add_(1, hi, p * (b - lo))
        return m


# ---- the agent's steps -----------------------------------------------------------------------------------------
def epsilon_at(step: int, a: RainbowArgs) -> float:
    return a.eps_final + (a.eps_start - a.eps_final) * math.exp(-step / a.eps_decay)


def beta_at(step: int, a: RainbowArgs) -> float:
    return min(1.0, a.beta_start + step * (1.0 - a.beta_start) / a.beta_frames)


def _greedy(model: CategoricalDQN, state: np.ndarray, device) -> int:
    with torch.no_grad():
        return int(model.q_values(torch.from_numpy(state).to(device)[None]).argmax(1).item())


def td_update(online, target, opt, replay: PrioritizedReplay, beta: float, args: RainbowArgs, device) -> float:
    s, a, r, s2, d, w, idx = replay.sample(args.batch_size, beta)
    s, s2 = torch.from_numpy(s).to(device), torch.from_numpy(s2).to(device)
    a, r = torch.from_numpy(a).to(device), torch.from_numpy(r).to(device)
    d, w = torch.from_numpy(d).to(device), torch.from_numpy(w).to(device)
    per_sample = {}

    def loss_fn(_):
        m = projected_target(online, target, s2, r, d, args)
        logp = online(s)[torch.arange(len(a), device=device), a]
        # KL(m || p) as the authors' F.kl_div(log p, m).sum(1): cross-entropy minus the target's entropy
        loss = (m * (torch.where(m > 0, m, torch.ones_like(m)).log() - logp)).sum(1)
        per_sample["loss"] = loss.detach()
        return (loss * w).mean()

    mean_loss, _ = train_step(opt, loss_fn)   # the training layer's step (repro/train/loop.py)
    replay.update_priorities(idx, per_sample["loss"].abs().cpu().numpy().astype(np.float64) + 1e-7)
    return float(mean_loss.item())


def evaluate(model: CategoricalDQN, args: RainbowArgs, seed: int, device) -> list[float]:
    """test.py: `eval_games` full games (every life), greedy (epsilon 0) with the noisy layers resampled every step;
    after `eval_life_steps` steps in one life, random actions until that life ends. Raw (unclipped) scores."""
    env = AtariEnv(args.env_id, seed=seed, clip_rewards=False)
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    scores = []
    try:
        for _ in range(args.eval_games):
            env.real_done = True                  # always a new game
            state, score, steps = env.reset(), 0.0, 0
            lives = env.ale.lives()
            capped = False
            while lives > 0 and not capped:
                done = False
                for _ in range(args.eval_life_steps):
                    model.sample_noise(gen)
                    state, r, done, _ = env.step(_greedy(model, state, device))
                    score, steps = score + r, steps + 1
                    capped = bool(args.eval_max_steps) and steps >= args.eval_max_steps
                    if done or capped:
                        break
                if capped:
                    break
                while not done:
                    _, r, done, _ = env.step(env.random_action())
                    score += r
                lives -= 1
                state = env.reset()
            scores.append(score)
    finally:
        env.close()
    return scores


# ---- training with checkpoints ---------------------------------------------------------------------------------
class Interrupted(RuntimeError):
    """Raised after a checkpoint when a run is stopped on purpose (stop_after_steps / max_wall_s); rerun to resume."""


def _checkpoint_globals() -> list:
    """What a checkpoint holds besides tensors and plain containers: numpy arrays (the env's frames, the
    observation), numpy dtypes and the emulator's state. Only these are allowed when loading (weights_only)."""
    import numpy.dtypes

    core = getattr(np, "_core", None) or np.core
    out = [core.multiarray._reconstruct, np.ndarray, np.dtype,
           *(getattr(numpy.dtypes, n) for n in dir(numpy.dtypes) if n.endswith("DType"))]
    try:
        from ale_py import ALEState
        out.append(ALEState)
    except ImportError:
        pass
    return out


def _load(path: str) -> dict:
    """A checkpoint, read with weights_only=True: nothing but tensors, containers and _checkpoint_globals() can be
    unpickled (a tampered file cannot run code)."""
    return load_checkpoint(path, allowed=_checkpoint_globals(), mmap=True)   # replay arrays read, not copied twice


def train(args: RainbowArgs, *, seed: int, device="cpu", checkpoint: str | None = None,
          stop_after_steps: int | None = None, max_wall_s: float | None = None):
    """Yield events ("eval", step, [scores]) at every checkpoint step, ("log", step, {...}) with the training
    statistics of the interval, then ("done", total_steps, {...}). Stopping (stop_after_steps, max_wall_s) saves a
    checkpoint and raises Interrupted; calling again with the same checkpoint path resumes."""
    threads = torch.get_num_threads()
    if args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)
    try:
        yield from _train(args, seed=seed, device=device, checkpoint=checkpoint, stop_after_steps=stop_after_steps,
                          max_wall_s=max_wall_s)
    finally:
        torch.set_num_threads(threads)


def _train(args: RainbowArgs, *, seed, device, checkpoint, stop_after_steps, max_wall_s):
    device = torch.device(device)
    t0 = time.time()
    ss = np.random.SeedSequence(seed)
    s_env, s_act, s_replay, s_noise, s_init, s_eval = (int(x.generate_state(1)[0]) for x in ss.spawn(6))
    env = AtariEnv(args.env_id, seed=s_env, clip_rewards=False)
    act_rng = np.random.default_rng(s_act)
    noise_gen = torch.Generator(device=device)
    noise_gen.manual_seed(s_noise)
    torch.manual_seed(s_init)          # network init (CPU generator); not used afterwards
    online = CategoricalDQN(env.k, env.n_actions, args).to(device)
    target = CategoricalDQN(env.k, env.n_actions, args).to(device)
    target.load_state_dict(online.state_dict())
    for q in target.parameters():
        q.requires_grad_(False)
    opt = make_optimizer(args.optimizer, online.parameters(), lr=args.lr, betas=(args.beta1, args.beta2),
                         eps=args.optimizer_eps)
    replay = PrioritizedReplay(args.buffer_size, (env.k, 84, 84), args.alpha, np.random.default_rng(s_replay))

    events: list = []
    st = {"step": 0, "episode_reward": 0.0, "episode_length": 0, "rewards": [], "lengths": [], "losses": [],
          "updates": 0}
    if checkpoint and os.path.exists(checkpoint):
        ck = _load(checkpoint)
        if ck["args"] != asdict(args) or ck["seed"] != seed:
            raise ValueError(f"checkpoint {checkpoint} belongs to another run")
        online.load_state_dict(ck["online"])
        target.load_state_dict(ck["target"])
        opt.load_state_dict(ck["opt"])
        replay.load_state_dict(ck["replay"])
        replay.rng.bit_generator.state = ck["replay_rng"]
        act_rng.bit_generator.state = ck["act_rng"]
        noise_gen.set_state(ck["noise_gen"])
        env.set_state(ck["env"])
        state, st, events = ck["obs"], ck["st"], ck["events"]
        yield from events
    else:
        state = env.reset()

    def save():
        save_checkpoint(checkpoint, {"args": asdict(args), "seed": seed, "online": online.state_dict(),
                           "target": target.state_dict(), "opt": opt.state_dict(), "replay": replay.state_dict(),
                           "replay_rng": replay.rng.bit_generator.state, "act_rng": act_rng.bit_generator.state,
                           "noise_gen": noise_gen.get_state(), "env": env.get_state(), "obs": state, "st": st,
                           "events": events})

    def emit(ev):
        events.append(ev)
        return ev

    while st["step"] < args.total_steps:
        st["step"] += 1
        step = st["step"]
        online.sample_noise(noise_gen)
        target.sample_noise(noise_gen)
        if act_rng.random() > epsilon_at(step, args):
            action = _greedy(online, state, device)
        else:
            action = int(act_rng.integers(env.n_actions))
        next_state, raw, done, _ = env.step(action)
        reward = float(np.clip(raw, -1.0, 1.0)) if args.clip_rewards else raw
        replay.push(state, action, reward, next_state, float(done))
        state = next_state
        st["episode_reward"] += raw
        st["episode_length"] += 1
        if st["episode_length"] >= args.max_episode_steps:
            while not done:
                _, _, done, _ = env.step(int(act_rng.integers(env.n_actions)))
        if done:
            state = env.reset()
            st["rewards"].append(st["episode_reward"])
            st["lengths"].append(st["episode_length"])
            st["episode_reward"], st["episode_length"] = 0.0, 0
        if len(replay) > args.learning_starts and step % args.train_freq == 0:
            st["losses"].append(td_update(online, target, opt, replay, beta_at(step, args), args, device))
            st["updates"] += 1
        if step % args.target_update == 0:
            target.load_state_dict(online.state_dict())
        if step % args.eval_every == 0 or step == args.total_steps:
            stats = {"loss_mean": float(np.mean(st["losses"])) if st["losses"] else float("nan"),
                     "loss_max": float(np.max(st["losses"])) if st["losses"] else float("nan"),
                     "n_updates": st["updates"], "interval_updates": len(st["losses"]),
                     "nonfinite_losses": int(np.sum(~np.isfinite(st["losses"]))),
                     "train_episode_reward": float(np.mean(st["rewards"])) if st["rewards"] else float("nan"),
                     "train_episodes": len(st["rewards"]), "epsilon": epsilon_at(step, args)}
            st["losses"], st["rewards"], st["lengths"] = [], [], []
            yield emit(("log", step, stats))
            if step % args.eval_every == 0:
                yield emit(("eval", step, evaluate(online, args, int(s_eval + step) % (1 << 31), device)))
        stop = (stop_after_steps is not None and step >= stop_after_steps) or \
            (max_wall_s is not None and time.time() - t0 > max_wall_s)
        if checkpoint and (step % args.checkpoint_every == 0 or stop) and step < args.total_steps:
            save()
        if stop and step < args.total_steps:
            env.close()
            raise Interrupted(f"stopped at agent step {step} of {args.total_steps}; checkpoint {checkpoint}")
    env.close()
    yield emit(("done", st["step"], {"n_updates": st["updates"]}))
