"""Learning Not to Learn in the Presence of Noisy Labels (Ziyin, Chen, Wang, Liang, Salakhutdinov, Morency & Ueda,
arXiv 2002.06541; catalog gambler.md): what every training figure shares, the data sets, the cells and the stacks.

Data sets (params["dataset"]):
    digits            the catalog's tiny harness: sklearn digits, one fixed shuffle, 1200 train / 597 test, pixels/16
                      (repro.data.digits.digits_split), model mlp_digits (64-256-256-(m+1), He init)
    mnist             torchvision's MNIST idx files under data_dir, ToTensor only (x/255, no normalisation: the
                      authors' transform), [N, 1, 28, 28]
    cifar10           the CIFAR-10 python pickles under data_dir, ToTensor only (x/255), [N, 3, 32, 32]
    imdb              aclImdb + GloVe 6B-300d under data_dir: the torchtext-legacy fixed-length pipeline
                      (repro.data.imdb.load_imdb_fixed, 70/30 split of the official train set, length 200), the
                      frozen GloVe embedding over the train split's vocabulary; binary noise = exactly int(25000 r)
                      flips of the official training labels (repro.data.noisy_labels.flip_exact)
    synthetic_tokens  fig=T3's tiny smoke: repro.data.imdb.synthetic_tokens (binary labels), random frozen vectors
                      standing in for GloVe, the same binary-noise code (data=synthetic)
Scale cuts, in params only: n_train / n_test keep the first rows (after the fixed shuffle), so a test can run the
full-size models on small generated files.

Noise: symmetric/pairflip through the Co-teaching `noisify` with random_state = noise_seed (default 0: the same
corruption for every training seed, catalog open question 6). IMDB: the authors' noise is unseeded Python
`random.sample`; here flip_exact draws from the run's "label_noise" stream + noise_seed (differs per seed, as theirs).

Stacks: cells that differ only in hyperparameters train as one vmapped stack (repro.train.stacked.StackedModels);
nn.LSTM has no vmap rule and ResNet-18's BatchNorm buffers are updated in place, so those models train through
`LoopedModels`, the same interface that runs the K models one after another.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch.func import functional_call

from repro.noisy.grid import NoisyTask
from repro.train.stacked import StackedModels

DATASETS = ("digits", "mnist", "cifar10", "imdb", "synthetic_tokens")
LOOPED_MODELS = ("lstm_glove", "resnet18")     # no vmap: nn.LSTM has no batching rule; BatchNorm buffers in place
DEFAULT_MODEL = {"digits": "mlp_digits", "mnist": "cnn_basic", "cifar10": "cnn_small", "imdb": "lstm_glove",
                 "synthetic_tokens": "lstm_glove"}


class LoopedModels(StackedModels):
    """StackedModels (parameters stacked along a leading K axis, __call__ -> (K, B, ...), train/eval mode) for models
    vmap cannot batch (nn.LSTM; BatchNorm's in-place running statistics): model k runs on its slice of the stacked
    parameters, one after another."""

    def __call__(self, x: torch.Tensor, per_model: bool = False) -> torch.Tensor:
        outs = []
        for i in range(self.k):
            params = {n: t[i] for n, t in self.params.items()}
            buffers = {n: t[i] for n, t in self.buffers.items()}
            outs.append(functional_call(self._base, (params, buffers), (x[i] if per_model else x,)))
        return torch.stack(outs)

    def parameters(self) -> list[torch.Tensor]:
        return [p for p in self.params.values() if p.requires_grad]


@dataclass
class Data:
    """Inputs and clean labels of one data set, and what the model needs to be built."""
    x: torch.Tensor
    y: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    model_kwargs: dict
    dataset: str
    data: str                      # "real" | "synthetic"
    binary_noise: bool = False     # IMDB: exactly int(N r) flips instead of noisify


def _cut(x, y, n):
    return (x, y) if n is None else (x[: int(n)], y[: int(n)])


def load_data(p: dict, ctx) -> Data:
    """The data set named by p["dataset"] (module doc), cut to p["n_train"] / p["n_test"] if given."""
    name = p.get("dataset", "digits")
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, not {name!r}")
    kw: dict = {}
    if name == "digits":
        from repro.data.digits import digits_split

        x, y, xt, yt = digits_split(int(p.get("digits_train", 1200)))
        m, data = 10, "real"
    elif name == "mnist":
        from repro.data.mnist import load_idx_dataset

        x, y = load_idx_dataset("MNIST", ctx.data_dir, train=True)
        xt, yt = load_idx_dataset("MNIST", ctx.data_dir, train=False)
        x, xt = x.unsqueeze(1).float().div_(255), xt.unsqueeze(1).float().div_(255)
        y, yt, m, data = y.long(), yt.long(), 10, "real"
    elif name == "cifar10":
        from repro.data.cifar10 import load_cifar10

        x, y = load_cifar10(ctx.data_dir, train=True)
        xt, yt = load_cifar10(ctx.data_dir, train=False)
        x, xt, m, data = x.float().div_(255), xt.float().div_(255), 10, "real"
    elif name == "imdb":
        from repro.data.glove import load_vectors
        from repro.data.imdb import load_imdb_fixed

        imdb = load_imdb_fixed(ctx.data_dir, fix_length=int(p.get("fix_length", 200)))
        vectors, _ = load_vectors(ctx.data_dir, imdb.itos, dim=300)
        (x, y), (xt, yt) = imdb.train, imdb.test
        kw, m, data = {"vectors": vectors, "hidden": int(p.get("hidden", 256))}, 2, "real"
        out = Data(*_cut(x, y, p.get("n_train")), *_cut(xt, yt, p.get("n_test")), m, kw, name, data, True)
        return out
    else:   # synthetic_tokens
        from repro.data.imdb import synthetic_tokens

        g = ctx.cpu_generator("data")
        vocab, length = int(p.get("vocab_size", 200)), int(p.get("seq_len", 30))
        n, n_test = int(p.get("n_train", 512)), int(p.get("n_test", 256))
        ids, _, labels = synthetic_tokens(n + n_test, length, vocab, g, signal=float(p.get("signal", 0.3)))
        vectors = torch.randn(vocab, int(p.get("embed_dim", 16)), generator=g)
        kw = {"vectors": vectors, "hidden": int(p.get("hidden", 16))}
        return Data(ids[:n], labels[:n], ids[n:], labels[n:], 2, kw, name, "synthetic", True)
    return Data(*_cut(x, y, p.get("n_train")), *_cut(xt, yt, p.get("n_test")), m, kw, name, data)


def noisy_task(data: Data, noise: list[tuple], val: int, ctx, device) -> NoisyTask:
    """A NoisyTask with one label vector per entry of noise ((type, rate, noise_seed) per cell), the last `val`
    training points held out with their noisy labels (VES)."""
    if not data.binary_noise:
        task = NoisyTask.corrupt(data.x, data.y, data.x_test, data.y_test, data.num_classes, noise, val=val)
    else:
        from repro.data.noisy_labels import flip_exact

        made, labels, clean = {}, [], []
        for kind, rate, seed in noise:
            if kind != "symmetric":
                raise ValueError(f"binary data take symmetric (flip) noise only, not {kind!r}")
            key = (float(rate), int(seed))
            if key not in made:
                out = flip_exact(data.y, float(rate), (ctx.seed_for("label_noise") + int(seed)) % 2 ** 32)
                made[key] = (torch.as_tensor(out.labels), torch.as_tensor(out.clean))
            labels.append(made[key][0])
            clean.append(made[key][1])
        labels, clean = torch.stack(labels), torch.stack(clean)
        n = len(data.y) - val
        task = NoisyTask(data.x[:n], labels[:, :n], clean[:, :n], data.x_test, data.y_test, data.num_classes,
                         x_val=data.x[n:] if val else None, y_val=labels[:, n:] if val else None)
    return NoisyTask(task.x.to(device), task.labels.to(device), task.clean.to(device), task.x_test.to(device),
                     task.y_test.to(device), task.num_classes,
                     None if task.x_val is None else task.x_val.to(device),
                     None if task.y_val is None else task.y_val.to(device))


# ------------------------------------------------------------------------------------------------ cells
CELL_KEYS = ("o", "noise_rate", "noise_type", "noise_seed", "start_gamblers", "optimizer", "lr", "momentum",
             "val", "method", "forget_rate", "init_offset", "net")


def expand_cells(p: dict) -> list[dict]:
    """The run's cells: p["cells"] (name -> overrides of the panel's defaults; null drops the cell, so a scale
    profile can remove one) times the product of p["cell_grid"] (key -> values); each cell carries its name (`cell`)
    and every key of CELL_KEYS it sets."""
    base = {k: p[k] for k in CELL_KEYS if k in p}
    named = p.get("cells") or {"run": {}}
    grid = p.get("cell_grid") or {}
    keys = list(grid)
    out = []
    for name, over in named.items():
        if over is None and p.get("cells"):
            continue
        for values in itertools.product(*(grid[k] for k in keys)) if keys else [()]:
            cell = {**base, **(over or {}), **dict(zip(keys, values))}
            unknown = set(over or {}) - set(CELL_KEYS)
            if unknown:
                raise ValueError(f"cell {name!r}: unknown keys {sorted(unknown)}; allowed: {', '.join(CELL_KEYS)}")
            cell["cell"] = name          # the grid's values are columns of the rows (cell_columns)
            out.append(cell)
    return out


def payoff_value(o):
    """A cell's payoff as GamblerCells takes it: a float, "nll" or an o-heuristic name."""
    if isinstance(o, str):
        return o
    return float(o)


def cell_columns(cell: dict) -> dict:
    """The columns every row of a cell carries: its name, payoff, o (fixed payoffs), noise rate, optimizer, and the
    keys the cell sets among method, net, lr, momentum, start_gamblers, forget_rate, noise_type. Cells of a
    cell_grid share their name and differ in these columns."""
    o = cell.get("o", "nll")
    cols = {"cell": cell["cell"], "payoff": str(o), "noise_rate": float(cell.get("noise_rate", 0.0)),
            "optimizer": cell.get("optimizer", "adam")}
    if not isinstance(o, str):
        cols["o"] = float(o)
    for key in ("method", "net", "lr", "momentum", "start_gamblers", "forget_rate", "noise_type"):
        if cell.get(key) is not None:
            cols[key] = str(cell[key]) if key == "forget_rate" else cell[key]
    return cols


def make_stack(model: str, num_outputs: int, model_kwargs: dict, seeds: list[int], device):
    """The K models (model k initialised under torch.manual_seed(seeds[k])) as a StackedModels, or LoopedModels
    for the models vmap cannot batch."""
    from repro.nn.noisy_nets import make_noisy_model

    models = []
    for s in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(s))
            models.append(make_noisy_model(model, num_outputs, **model_kwargs).to(device))
    return (LoopedModels if model in LOOPED_MODELS else StackedModels)(models)


def make_optimizer(name: str, params, cells: list[dict], p: dict):
    """One optimizer for a stack: adam (StackedAdam), sgd (StackedSGD, momentum), laprop (repro.optim.LaProp;
    element-wise, so it steps stacked parameters as it steps one model; hyperparameters shared by the stack)."""
    from repro.train.stacked import StackedAdam, StackedSGD

    lrs = [float(c.get("lr", p.get("lr", 1e-3))) for c in cells]
    lr = lrs[0] if len(set(lrs)) == 1 else torch.tensor(lrs)
    if name == "adam":
        return StackedAdam(params, lr=lr, betas=tuple(p.get("betas", (0.9, 0.999))), eps=float(p.get("eps", 1e-8)))
    if name == "sgd":
        moms = [float(c.get("momentum", p.get("momentum", 0.9))) for c in cells]
        mom = moms[0] if len(set(moms)) == 1 else torch.tensor(moms)
        return StackedSGD(params, lr=lr, momentum=mom)
    if name == "laprop":
        from repro.optim import LaProp

        if not isinstance(lr, float):
            raise ValueError("laprop stacks take one lr")
        return LaProp(params, lr=lr, betas=tuple(p.get("betas", (0.9, 0.9))), eps=float(p.get("eps", 1e-15)))
    raise ValueError(f"optimizer must be adam, sgd or laprop, not {name!r}")
