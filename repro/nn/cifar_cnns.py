"""The eight CIFAR-10 CNNs of adam_variance fig=2, 3, S1-S9 (the supplement's panel labels name kuangliu/pytorch-cifar's
CIFAR variants), and the two tiny stand-ins of the catalog's tiny runs. Every network takes [B, 3, 32, 32] and returns
[B, 10] logits.

Adapted from torchvision (same blocks and widths as kuangliu's CIFAR variant; the stem and the down-sampling changed
for 32x32 input as kuangliu does; torchvision's own initialisation, not kuangliu's PyTorch defaults):
    resnet18        torchvision resnet18: 3x3 stride-1 stem, no max-pool (= kuangliu ResNet18, 11,173,962 parameters)
    vgg19           torchvision vgg19_bn's features (conv+BN+ReLU, 16 convs) + Linear(512, 10) (= kuangliu VGG('VGG19'))
    shufflenetv2    torchvision shufflenet_v2_x1_0: stride-1 stem, no max-pool (kuangliu ShuffleNetV2(net_size=1))
    densenet121     torchvision densenet121: 3x3 stride-1 stem, no max-pool (kuangliu DenseNet121; torchvision keeps its
                    BN + ReLU after the stem, kuangliu has none)
    efficientnet_b0 torchvision efficientnet_b0: stride-1 stem and stride-1 second stage (kuangliu's CIFAR strides
                    1,1,2,2,1,2,1); torchvision keeps its 320->1280 head conv (kuangliu: none), dropout 0.2 and
                    stochastic depth 0.2
Our own compact definitions (no torchvision counterpart), after kuangliu/pytorch-cifar, PyTorch's default init:
    mobilenet       MobileNet v1 (kuangliu MobileNet: 3x3 stem to 32, 13 depthwise-separable blocks, 1024 -> 10)
    resnext29_2x64d ResNeXt-29, cardinality 2, bottleneck width 64 (kuangliu ResNeXt29_2x64d)
    regnetx_200mf   RegNetX-200MF (kuangliu RegNetX_200MF: 64-channel stem, depths 1,1,4,7, widths 24,56,152,368,
                    group width 8, bottleneck ratio 1, no SE)
Tiny stand-ins (catalog, tiny scale):
    mlp             3072 -> 64 -> 10, ReLU (first layer: 196,608 weights)
    cnn2            two 3x3 convs with 8 channels (ReLU, 2x2 max-pool each), Linear(512, 10)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


# ---------------------------------------------------------------------------------------------- torchvision-adapted
def resnet18() -> nn.Module:
    import torchvision

    net = torchvision.models.resnet18(num_classes=10)
    net.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    return net


def vgg19() -> nn.Module:
    import torchvision

    return nn.Sequential(torchvision.models.vgg19_bn().features, nn.Flatten(), nn.Linear(512, 10))


def shufflenetv2() -> nn.Module:
    import torchvision

    net = torchvision.models.shufflenet_v2_x1_0(num_classes=10)
    net.conv1[0].stride = (1, 1)
    net.maxpool = nn.Identity()
    return net


def densenet121() -> nn.Module:
    import torchvision

    net = torchvision.models.densenet121(num_classes=10)
    net.features.conv0 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
    net.features.pool0 = nn.Identity()
    return net


def efficientnet_b0() -> nn.Module:
    import torchvision

    net = torchvision.models.efficientnet_b0(num_classes=10)
    net.features[0][0].stride = (1, 1)                 # stem
    net.features[2][0].block[1][0].stride = (1, 1)     # depthwise conv of the second stage's first block
    return net


# ---------------------------------------------------------------------------------------------- our own definitions
def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]


class MobileNet(nn.Module):
    """MobileNet v1 for CIFAR (kuangliu): (out channels, stride) of the 13 depthwise-separable blocks."""
    CFG = [64, (128, 2), 128, (256, 2), 256, (512, 2), 512, 512, 512, 512, 512, (1024, 2), 1024]

    def __init__(self, num_classes: int = 10):
        super().__init__()
        layers, cin = [*_conv_bn(3, 32, 3), nn.ReLU()], 32
        for c in self.CFG:
            cout, stride = c if isinstance(c, tuple) else (c, 1)
            layers += [*_conv_bn(cin, cin, 3, stride, groups=cin), nn.ReLU(), *_conv_bn(cin, cout, 1), nn.ReLU()]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.linear = nn.Linear(1024, num_classes)

    def forward(self, x):
        return self.linear(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


class _Bottleneck(nn.Module):
    """1x1 -> grouped 3x3 (stride) -> 1x1, BN after each, projection shortcut when the shape changes (ResNeXt, RegNetX)."""

    def __init__(self, cin: int, width: int, cout: int, stride: int, groups: int):
        super().__init__()
        self.body = nn.Sequential(*_conv_bn(cin, width, 1), nn.ReLU(), *_conv_bn(width, width, 3, stride, groups),
                                  nn.ReLU(), *_conv_bn(width, cout, 1))
        self.shortcut = (nn.Sequential(*_conv_bn(cin, cout, 1, stride)) if stride != 1 or cin != cout
                         else nn.Identity())

    def forward(self, x):
        return F.relu(self.body(x) + self.shortcut(x))


class ResNeXt29(nn.Module):
    """kuangliu ResNeXt: 1x1 stem to 64, three stages of 3 blocks (strides 1, 2, 2), the bottleneck width doubling
    per stage, block output = 2 x cardinality x width."""

    def __init__(self, cardinality: int = 2, bottleneck_width: int = 64, num_classes: int = 10):
        super().__init__()
        blocks, cin, width = [], 64, bottleneck_width
        for stride in (1, 2, 2):
            for i in range(3):
                gw = cardinality * width
                blocks.append(_Bottleneck(cin, gw, 2 * gw, stride if i == 0 else 1, cardinality))
                cin = 2 * gw
            width *= 2
        self.stem = nn.Sequential(*_conv_bn(3, 64, 1), nn.ReLU())
        self.blocks = nn.Sequential(*blocks)
        self.linear = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.linear(F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1).flatten(1))


class RegNetX(nn.Module):
    """kuangliu RegNet without SE: 3x3 stride-1 stem to 64, four stages (first block strided), X blocks of
    bottleneck ratio 1 with groups = width / group_width."""

    def __init__(self, depths=(1, 1, 4, 7), widths=(24, 56, 152, 368), strides=(1, 1, 2, 2), group_width: int = 8,
                 num_classes: int = 10):
        super().__init__()
        blocks, cin = [], 64
        for depth, width, stride in zip(depths, widths, strides):
            for i in range(depth):
                blocks.append(_Bottleneck(cin, width, width, stride if i == 0 else 1, width // group_width))
                cin = width
        self.stem = nn.Sequential(*_conv_bn(3, 64, 3), nn.ReLU())
        self.blocks = nn.Sequential(*blocks)
        self.linear = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.linear(F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1).flatten(1))


def mobilenet() -> nn.Module:
    return MobileNet()


def resnext29_2x64d() -> nn.Module:
    return ResNeXt29(2, 64)


def regnetx_200mf() -> nn.Module:
    return RegNetX()


# ---------------------------------------------------------------------------------------------- tiny stand-ins
def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(3072, 64), nn.ReLU(), nn.Linear(64, 10))


def cnn2() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 8 * 8, 10))


MODELS = {"resnet18": resnet18, "vgg19": vgg19, "shufflenetv2": shufflenetv2, "densenet121": densenet121,
          "efficientnet_b0": efficientnet_b0, "mobilenet": mobilenet, "resnext29_2x64d": resnext29_2x64d,
          "regnetx_200mf": regnetx_200mf, "mlp": mlp, "cnn2": cnn2}


def build(name: str, seed: int | None = None) -> nn.Module:
    """The named network on the CPU; with a seed, its initialisation draws from a generator seeded with it (the
    global generator is forked, so the caller's random state is untouched)."""
    try:
        factory = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}") from None
    if seed is None:
        return factory()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory()
