"""CIFAR ResNets of the Snake paper (figs 5, 17-20), after kuangliu/pytorch-cifar (the paper's footnote 2): a 3x3
stride-1 stem without max-pool, BasicBlocks [2, 2, 2, 2] for ResNet-18 and Bottlenecks [3, 4, 23, 3] for ResNet-101,
BatchNorm after every conv, 1x1 projection shortcuts, global average pooling, a linear classifier. Every ReLU is
replaced by a fresh module of the chosen activation (`repro.nn.activations.make_activation`; Snake with a scalar a,
optionally variance-corrected, Sec. 5). `width` scales the channels (64 in the paper; 4-8 for tiny runs).
Initialisation is PyTorch's default (as kuangliu), drawn from `generator`.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from repro.nn.activations import make_activation


def _act(spec: dict) -> nn.Module:
    return make_activation(spec["name"], a=spec.get("a", 0.5),
                           variance_correction=spec.get("variance_correction", "none"))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int, act: dict):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.act1 = _act(act)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.act2 = _act(act)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.act2(out + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int, act: dict):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.act1 = _act(act)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.act2 = _act(act)
        self.conv3 = nn.Conv2d(planes, self.expansion * planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(self.expansion * planes)
        self.act3 = _act(act)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, self.expansion * planes, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(self.expansion * planes))

    def forward(self, x):
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.act2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.act3(out + self.shortcut(x))


ARCHS = {"resnet18": (BasicBlock, [2, 2, 2, 2]), "resnet101": (Bottleneck, [3, 4, 23, 3])}


class ResNet(nn.Module):
    def __init__(self, arch: str = "resnet18", activation: str = "relu", *, a: float = 0.5,
                 variance_correction: str = "none", width: int = 64, num_classes: int = 10,
                 generator: torch.Generator | None = None):
        super().__init__()
        try:
            block, num_blocks = ARCHS[arch]
        except KeyError:
            raise ValueError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHS)}") from None
        act = {"name": activation, "a": a, "variance_correction": variance_correction}
        self.in_planes = width
        self.conv1 = nn.Conv2d(3, width, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.act = _act(act)
        layers = []
        for i, (n, stride) in enumerate(zip(num_blocks, [1, 2, 2, 2])):
            planes = width * 2 ** i
            for s in [stride] + [1] * (n - 1):
                layers.append(block(self.in_planes, planes, s, act))
                self.in_planes = planes * block.expansion
        self.layers = nn.Sequential(*layers)
        self.linear = nn.Linear(self.in_planes, num_classes)
        self.reset_parameters(generator)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """PyTorch's default initialisation (Conv2d / Linear reset_parameters, BN weight 1, bias 0), seeded."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                if m.bias is not None:
                    fan_in = m.weight[0].numel()
                    bound = 1 / math.sqrt(fan_in)
                    m.bias.uniform_(-bound, bound, generator=generator)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(1.0)
                m.bias.zero_()

    def forward(self, x):
        out = self.act(self.bn1(self.conv1(x)))
        out = self.layers(out)
        out = torch.flatten(nn.functional.adaptive_avg_pool2d(out, 1), 1)
        return self.linear(out)
