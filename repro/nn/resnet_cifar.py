"""ResNet for CIFAR (He et al. 2016, sec. 4.2) as in bearpaw/pytorch-classification `models/cifar/resnet.py`, the
code of the LaProp authors' CIFAR-10 command (`cifar.py -a resnet --depth 20`): depth = 6n + 2 with BasicBlocks,
16-32-64 channels, projection (1x1 conv + BN) shortcuts where the shape changes, global average pooling, and
bearpaw's initialisation (conv weights N(0, 2 / (k * k * out_channels)), BN weight 1, bias 0).

The only change: adaptive average pooling (bearpaw's AvgPool2d(8) is the same at 32x32 inputs; adaptive also takes
the 16x16 images of the tiny runs)."""
from __future__ import annotations

import math

import torch
from torch import nn


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + residual)


class ResNetCifar(nn.Module):
    def __init__(self, depth: int = 20, num_classes: int = 10, generator: torch.Generator | None = None):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"depth must be 6n + 2 (8, 14, 20, 32, 44, 56, 110...), got {depth}")
        n = (depth - 2) // 6
        self.inplanes = 16
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(16, n)
        self.layer2 = self._make_layer(32, n, stride=2)
        self.layer3 = self._make_layer(64, n, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    std = math.sqrt(2.0 / (m.kernel_size[0] * m.kernel_size[1] * m.out_channels))
                    m.weight.copy_(std * torch.randn(m.weight.shape, generator=generator))
                elif isinstance(m, nn.BatchNorm2d):
                    m.weight.fill_(1)
                    m.bias.zero_()
                elif isinstance(m, nn.Linear):   # nn.Linear's default init, from the generator
                    bound = 1 / math.sqrt(m.in_features)
                    m.weight.copy_((torch.rand(m.weight.shape, generator=generator) * 2 - 1) * bound)
                    m.bias.copy_((torch.rand(m.bias.shape, generator=generator) * 2 - 1) * bound)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride=stride, bias=False),
                                       nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))
