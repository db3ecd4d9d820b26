"""meta_alignment (arXiv 2012.02813): pretrained feature extractors from torchvision model definitions, with the
weights read from a file the user puts in data_dir (nothing is downloaded at run time: the GPU box is offline).

- Images (text->image targets, image->audio sources): torchvision ResNet-18 (or -152), ImageNet weights, `fc`
  replaced by Linear(512 -> out_dim) as in xmodal's models.py [code]. Input: RGB resized to 256, centre-cropped to
  224, ImageNet mean/std (xmodal data_utils.image_preprocess) [code].
- Audio (image->audio targets): the paper's "CNN pretrained on AudioSet" has no torchvision definition; we use a
  torchvision ResNet-18 over 1-channel log-mel spectrograms (first conv summed over RGB, the usual transfer of
  ImageNet weights to spectrograms) with AudioSet-trained weights from a user file, or ImageNet weights
  [reconstructed; catalog Open question 8 / 14].
A missing weights file raises DataMissing: one line naming the file and where to put it.
"""
from __future__ import annotations

import torch
from torch import nn

from repro.data.download import DataInvalid, DataMissing, resolve_data_dir

# torchvision's file names for the IMAGENET1K_V1 weights (torchvision.models.ResNet18_Weights / ResNet152_Weights)
WEIGHT_FILES = {"resnet18": "resnet18-f37072fd.pth", "resnet152": "resnet152-394f9c45.pth"}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def image_transform():
    """xmodal's image_preprocess: Resize(256), CenterCrop(224), ToTensor, ImageNet normalisation."""
    from torchvision import transforms

    return transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                               transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def weights_path(data_dir, arch: str, weights_file: str | None = None):
    if arch not in WEIGHT_FILES:
        raise ValueError(f"arch must be one of {tuple(WEIGHT_FILES)}, not {arch!r}")
    name = weights_file or WEIGHT_FILES[arch]
    path = resolve_data_dir(data_dir) / name
    if not path.exists():
        raise DataMissing(f"missing pretrained weights: put {name} (torchvision's {arch} ImageNet state dict, "
                          f"download.pytorch.org/models/{WEIGHT_FILES[arch]}) at {path}, or set data_dir=...")
    return path


def resnet_encoder(data_dir, arch: str = "resnet18", out_dim: int = 128, weights_file: str | None = None,
                   in_channels: int = 3, pretrained: bool = True) -> nn.Module:
    """A torchvision ResNet with its weights loaded from data_dir and `fc` -> Linear(features, out_dim) (new).
    `in_channels=1` (spectrograms): the first conv's weights are summed over RGB. `pretrained=False` is xmodal's
    'nop18' option (random init; no file needed)."""
    import torchvision

    net = getattr(torchvision.models, arch)(weights=None)
    if pretrained:
        path = weights_path(data_dir, arch, weights_file)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            net.load_state_dict(state)
        except (RuntimeError, KeyError, ValueError, EOFError) as e:
            raise DataInvalid(f"{path}: not a {arch} state dict ({type(e).__name__}); replace it with torchvision's "
                              f"{WEIGHT_FILES[arch]}") from None
    if in_channels == 1:
        conv = net.conv1
        new = nn.Conv2d(1, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=False)
        with torch.no_grad():
            new.weight.copy_(conv.weight.sum(dim=1, keepdim=True))
        net.conv1 = new
    net.fc = nn.Linear(net.fc.in_features, out_dim)
    return net


def frozen_backbone(data_dir, arch: str = "resnet18", weights_file: str | None = None,
                    in_channels: int = 3) -> nn.Module:
    """resnet_encoder with `fc` removed (Identity): the pooled features (512-d for ResNet-18) of the pretrained
    network, frozen, in eval mode (batch norm uses its ImageNet statistics). The real loaders run it once over a
    data set and the CroMA encoders train on its outputs."""
    net = resnet_encoder(data_dir, arch, out_dim=1, weights_file=weights_file, in_channels=in_channels)
    net.fc = nn.Identity()
    net.eval()
    for q in net.parameters():
        q.requires_grad_(False)
    return net


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@torch.no_grad()
def extract_features(net: nn.Module, n: int, item, batch_size: int = 64, device: str = "auto") -> torch.Tensor:
    """[n, features] float32 on the CPU: net over item(0), ..., item(n - 1) (each an input tensor), in batches."""
    dev = pick_device(device)
    net = net.to(dev)
    out = []
    for start in range(0, n, batch_size):
        x = torch.stack([item(i) for i in range(start, min(start + batch_size, n))]).to(dev)
        out.append(net(x).float().cpu())
    return torch.cat(out) if out else torch.zeros(0, 0)
