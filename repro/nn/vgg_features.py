"""Feature extractors for neural style transfer (LaProp fig=3): ImageNet-pretrained VGG-19 (torchvision's
IMAGENET1K_V1 weights, read from disk only) and, for tiny runs, a small fixed random conv net.

Both map an image batch in [0, 1] to a dict {layer name: activation} for the requested layers. VGG-19 layers are
named conv<block>_<index> (conv1_1 ... conv5_4) and return the convolution's output (before its ReLU), as in the
PyTorch style-transfer tutorial; ImageNet normalisation is applied inside.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from repro.data.download import DataMissing, resolve_data_dir

VGG19_FILE = "vgg19-dcbb9e9d.pth"   # torchvision.models.VGG19_Weights.IMAGENET1K_V1
VGG19_URL = f"https://download.pytorch.org/models/{VGG19_FILE}"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def find_vgg19_weights(data_dir) -> Path:
    """The weights file in data_dir (or data_dir/checkpoints) or in the torch hub cache; DataMissing (one line)
    if none holds it. Never downloads."""
    candidates = [resolve_data_dir(data_dir) / VGG19_FILE, resolve_data_dir(data_dir) / "checkpoints" / VGG19_FILE,
                  Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE]
    for path in candidates:
        if path.exists():
            return path
    raise DataMissing(f"pretrained VGG-19 weights not found: put {VGG19_FILE} ({VGG19_URL}, 548 MB) in "
                      f"{candidates[0].parent} or {candidates[2].parent}, or run `repro data fetch dataset=vgg19`")


class FeatureExtractor(nn.Module):
    """A sequential conv net cut after the last requested layer; returns {name: activation}."""

    def __init__(self, layers: nn.Sequential, names: dict[int, str], wanted, mean=None, std=None):
        super().__init__()
        wanted = list(wanted)
        missing = [w for w in wanted if w not in names.values()]
        if missing:
            raise ValueError(f"unknown layers {missing}; available: {', '.join(names.values())}")
        last = max(i for i, n in names.items() if n in wanted)
        self.layers = layers[: last + 1]
        self.names = {i: n for i, n in names.items() if n in wanted}
        self.register_buffer("mean", torch.tensor(mean or (0.0, 0.0, 0.0)).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std or (1.0, 1.0, 1.0)).view(1, 3, 1, 1))
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (x - self.mean) / self.std
        out = {}
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.names:
                out[self.names[i]] = x
        return out


def vgg19_features(data_dir, wanted) -> FeatureExtractor:
    """Pretrained VGG-19 features (eval mode, frozen), from the weights file found by find_vgg19_weights."""
    import torchvision

    path = find_vgg19_weights(data_dir)
    state = torch.load(path, map_location="cpu", weights_only=True)
    layers = torchvision.models.vgg19(weights=None).features
    # Only the convolutional part is used; its keys must all be there (the classifier's may be absent).
    layers.load_state_dict({k[len("features."):]: v for k, v in state.items() if k.startswith("features.")})
    names, block, index = {}, 1, 0
    for i, layer in enumerate(layers):
        if isinstance(layer, nn.Conv2d):
            index += 1
            names[i] = f"conv{block}_{index}"
        elif isinstance(layer, nn.MaxPool2d):
            block, index = block + 1, 0
        elif isinstance(layer, nn.ReLU):
            layers[i] = nn.ReLU(inplace=False)   # the conv outputs we return must not be overwritten
    return FeatureExtractor(layers, names, wanted, IMAGENET_MEAN, IMAGENET_STD).eval()


def random_conv_features(wanted, channels=(16, 32, 64), seed: int = 0) -> FeatureExtractor:
    """The tiny stand-in: conv1..conv<k> (3x3, ReLU, 2x2 average pooling between layers), weights drawn once from a
    fixed seed with PyTorch's default conv init; layer names conv1, conv2, ..."""
    gen = torch.Generator().manual_seed(seed)
    layers, names, c_in = [], {}, 3
    for k, c_out in enumerate(channels, start=1):
        if k > 1:
            layers.append(nn.AvgPool2d(2))
        conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        bound = 1 / (c_in * 9) ** 0.5
        with torch.no_grad():
            conv.weight.copy_((torch.rand(conv.weight.shape, generator=gen) * 2 - 1) * bound * 3 ** 0.5)
            conv.bias.copy_((torch.rand(conv.bias.shape, generator=gen) * 2 - 1) * bound)
        names[len(layers)] = f"conv{k}"
        layers += [conv, nn.ReLU()]
        c_in = c_out
    return FeatureExtractor(nn.Sequential(*layers), names, wanted).eval()
