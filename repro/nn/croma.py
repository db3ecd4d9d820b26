"""CroMA's networks (meta_alignment: Liang, Wu, Ziyin, Morency & Salakhutdinov, arXiv 2012.02813; catalog
meta_alignment.md, "Implementation in the official code" and "Encoders per task"): a source encoder f_s, a target
encoder f_t, an optional alignment head A on the target side (the code's; not in Algorithm 1) and the shared
classifier g. Target logits g(A(f_t(x_t))), source logits g(f_s(x_s)).

Encoders are built from a modality spec (a dict with `kind`), so a real loader and a stand-in describe their inputs
the same way:
    vector   {dim}                    MLP: Linear -> ReLU -> Linear (features, synth_strong's image-like side)
    sequence {dim}                    LSTM (layers, bidirectional) -> max-pool over time -> Linear: the code's text
                                      encoder over frozen BERT states, and the 2-layer speech LSTM over 40-d frames
    tokens   {vocab}                  Embedding -> the sequence encoder (the paper's BiLSTM text encoder, 256-d)
    signal   {length}                 a 1-d signal as a length-T sequence of scalars -> the sequence encoder
    image    {channels, size}         small CNN (conv-ReLU-maxpool x2, global average pool, Linear): 8x8 digits
    resnet18 {channels}               torchvision ResNet-18, fc -> Linear(512 -> d); `weights_path` loads staged
                                      ImageNet weights (the GPU box is offline; without them: the code's 'nop18')
The classifier g: ReLU -> Linear(d -> N) (code, hidden=0) or Linear(d -> hidden) -> ReLU -> Linear(hidden -> N) (the
paper's "1 hidden layer of 256"; no ReLU on the embedding itself: with it, Reptile over label-permuted tasks drove
the embedding negative and every unit died in our stand-in runs).

`SharedEncoder` is the domain-adaptation baselines' one encoder for both modalities: the source encoder's body with
a separate linear input map for the target only (catalog, Baselines: "Shared").

Deviations: CNN/MLP sizes of the stand-ins are project choices; TResNet and the AudioSet CNN are not built in.
"""
from __future__ import annotations

import torch
from torch import nn

KINDS = ("vector", "sequence", "tokens", "signal", "image", "resnet18")


class MLPEncoder(nn.Module):
    def __init__(self, dim: int, hidden: int, out: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, out))
        self.in_dim = dim

    def embed_input(self, x):
        return x.flatten(1)

    def body(self, h):
        return self.net(h)

    def forward(self, x):
        return self.body(self.embed_input(x))


class SequenceEncoder(nn.Module):
    """LSTM over [B, T, dim] (or token ids / a scalar signal through embed_input) -> max over time -> Linear."""

    def __init__(self, dim: int, hidden: int, out: int, layers: int = 1, bidirectional: bool = False,
                 vocab: int | None = None, scalar: bool = False):
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim) if vocab else None
        self.scalar = scalar
        self.in_dim = dim
        self.lstm = nn.LSTM(dim, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional)
        self.proj = nn.Linear(hidden * (2 if bidirectional else 1), out)

    def embed_input(self, x):
        if self.embedding is not None:
            return self.embedding(x)
        return x.unsqueeze(-1) if self.scalar else x

    def body(self, h):
        out, _ = self.lstm(h)
        return self.proj(out.max(dim=1).values)

    def forward(self, x):
        return self.body(self.embed_input(x))


class ConvEncoder(nn.Module):
    def __init__(self, channels: int, width: int, out: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(2 * width, out))
        self.channels = channels

    def forward(self, x):
        if x.dim() == 3:
            x = x.unsqueeze(1)
        return self.net(x)


class ResNet18Encoder(nn.Module):
    def __init__(self, out: int, channels: int = 3, weights_path: str | None = None):
        super().__init__()
        from torchvision.models import resnet18

        net = resnet18(weights=None)
        if weights_path:
            net.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
        if channels != 3:
            net.conv1 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
        net.fc = nn.Linear(512, out)
        self.net = net

    def forward(self, x):
        return self.net(x)


def build_encoder(spec: dict, out: int, hidden: int) -> nn.Module:
    """An encoder for the modality spec (module doc) with output dimension `out` and width `hidden`."""
    kind = spec.get("kind")
    layers, bi = int(spec.get("layers", 1)), bool(spec.get("bidirectional", False))
    if kind == "vector":
        return MLPEncoder(int(spec["dim"]), hidden, out)
    if kind == "sequence":
        return SequenceEncoder(int(spec["dim"]), hidden, out, layers, bi)
    if kind == "tokens":
        return SequenceEncoder(int(spec.get("embed", hidden)), hidden, out, layers, bi, vocab=int(spec["vocab"]))
    if kind == "signal":
        return SequenceEncoder(1, hidden, out, layers, bi, scalar=True)
    if kind == "image":
        return ConvEncoder(int(spec.get("channels", 1)), int(spec.get("width", hidden // 2 or 1)), out)
    if kind == "resnet18":
        return ResNet18Encoder(out, int(spec.get("channels", 3)), spec.get("weights_path"))
    raise ValueError(f"modality kind must be one of {', '.join(KINDS)}, not {kind!r}")


class Classifier(nn.Module):
    """g: ReLU -> Linear(d -> N) (hidden = 0, the code) or Linear -> ReLU -> Linear (hidden > 0, the paper). `reset_head(n)`
    gives a fresh last layer with n outputs (the non-meta baselines' new head at meta-test)."""

    def __init__(self, dim: int, n_out: int, hidden: int = 0):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU()) if hidden else nn.ReLU()
        self.head = nn.Linear(hidden or dim, n_out)

    def forward(self, z):
        return self.head(self.trunk(z))

    def reset_head(self, n_out: int) -> None:
        old = self.head
        self.head = nn.Linear(old.in_features, n_out).to(old.weight.device)


class SharedEncoder(nn.Module):
    """One encoder for both modalities: the target goes through its own linear input map into the source encoder's
    input space (per time step for sequences, flattened for vectors), then through the source encoder's body."""

    def __init__(self, source: nn.Module, target_dim: int):
        super().__init__()
        if not hasattr(source, "body"):
            raise ValueError("a shared encoder needs a vector or sequence source encoder")
        self.source = source
        self.in_map = nn.Linear(target_dim, source.in_dim)

    def forward(self, x):   # the target path
        if x.dim() > 3 or (x.dim() == 3 and isinstance(self.source, MLPEncoder)):
            x = x.flatten(1)
        return self.source.body(self.in_map(x))


class CroMANet(nn.Module):
    """f_s, f_t (or a SharedEncoder), A and g. `shared=True` builds the DA baselines' shared encoder."""

    def __init__(self, source_spec: dict, target_spec: dict, n_way: int, embed_dim: int, hidden: int,
                 classifier_hidden: int = 0, align_head: bool = False, shared: bool = False,
                 target_flat_dim: int | None = None):
        super().__init__()
        self.f_s = build_encoder(source_spec, embed_dim, hidden)
        if shared:
            tdim = int(target_spec.get("dim") or target_flat_dim)
            self.f_t = SharedEncoder(self.f_s, tdim)
        else:
            self.f_t = build_encoder(target_spec, embed_dim, hidden)
        self.A = nn.Linear(embed_dim, embed_dim) if align_head else nn.Identity()
        self.g = Classifier(embed_dim, n_way, classifier_hidden)
        self.shared = shared

    def embed_source(self, x):
        return self.f_s(x)

    def embed_target(self, x):
        return self.A(self.f_t(x))

    def source_logits(self, x):
        return self.g(self.embed_source(x))

    def target_logits(self, x):
        return self.g(self.embed_target(x))

    def encoder_params(self) -> list[nn.Parameter]:
        """f_s, f_t, A without duplicates (a shared encoder's body appears once)."""
        seen, out = set(), []
        for m in (self.f_s, self.f_t, self.A):
            for q in m.parameters():
                if id(q) not in seen:
                    seen.add(id(q))
                    out.append(q)
        return out

    def target_path_params(self) -> list[nn.Parameter]:
        seen, out = set(), []
        for m in (self.f_t, self.A, self.g):
            for q in m.parameters():
                if id(q) not in seen:
                    seen.add(id(q))
                    out.append(q)
        return out
