"""The small CNNs of the label-noise papers: gambler (Ziyin et al., "Learning Not to Learn in the Presence of Noisy
Labels") and label_smoothing (Chen, Ziyin, Wang, Liang, "An Investigation of how Label Smoothing Affects
Generalization"); catalogs ../shared/catalog/{gambler,label_smoothing}.md, "Setups".

    CNNBasic  "CNN_basic" (both papers' MNIST network): conv5x5 C->20, ReLU, maxpool 2; conv5x5 20->50, ReLU,
              maxpool 2; FC 50*s*s -> 500, ReLU; FC 500 -> num_outputs. MNIST (C = 1, 28x28): s = 4, FC 800 -> 500.
              The gambler has m+1 outputs (the last is abstention), label_smoothing m.
    CNNSmall  "CNN_small" (LeNet-5; the gambler's final-code CIFAR-10 network and label_smoothing's "small CNN",
              `cnn_small` in the coauthor fork's logs): conv5x5 3->6, ReLU, pool 2; conv5x5 6->16, ReLU, pool 2;
              FC 400 -> 120 -> 84 -> num_outputs, ReLU between.

Both take a float batch [B, C, H, W] (or [B, C*H*W], reshaped to the square image of `image_size`), return logits.
PyTorch's default initialisation, as in the authors' code.

Deviations from the authors' code:
- The 3-channel CNN_basic for CIFAR-10 (gambler fig=4's "simple CNN", the catalog's "3-channel variant") has no
  definition in the authors' code: it is CNN_basic with in_channels=3 and image_size=32, so its first FC layer is
  50*5*5 = 1250 -> 500 [reconstructed].
- Flat input is accepted (the repo's MNIST loader returns [N, 784]); the authors feed [B, 1, 28, 28].
"""
from __future__ import annotations

import torch
from torch import nn


def _as_images(x: torch.Tensor, channels: int, size: int) -> torch.Tensor:
    return x.view(len(x), channels, size, size) if x.dim() == 2 else x


class CNNBasic(nn.Module):
    def __init__(self, num_outputs: int = 10, in_channels: int = 1, image_size: int = 28):
        super().__init__()
        self.in_channels, self.image_size = in_channels, image_size
        side = ((image_size - 4) // 2 - 4) // 2          # two (valid conv5x5, pool 2) stages
        self.features = nn.Sequential(nn.Conv2d(in_channels, 20, 5), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(20, 50, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(50 * side * side, 500), nn.ReLU(),
                                        nn.Linear(500, num_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(_as_images(x, self.in_channels, self.image_size)))


class CNNSmall(nn.Module):
    def __init__(self, num_outputs: int = 10, in_channels: int = 3, image_size: int = 32):
        super().__init__()
        self.in_channels, self.image_size = in_channels, image_size
        side = ((image_size - 4) // 2 - 4) // 2
        self.features = nn.Sequential(nn.Conv2d(in_channels, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * side * side, 120), nn.ReLU(),
                                        nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, num_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(_as_images(x, self.in_channels, self.image_size)))
