"""EfficientNet-B0/B1 fine-tuned on Tiny-ImageNet (volumization fig=T3: Ziyin et al., "Volumization as a Natural
Generalization of Weight Decay"; catalog ../shared/catalog/volumization.md, fig=T3).

The network is torchvision's EfficientNet-B0/B1 definition with ImageNet weights read from a local file under
data_dir (WEIGHTS; `repro data fetch dataset=efficientnet_b0|efficientnet_b1` downloads torchvision's file), its
1000-way classifier replaced by a fresh Linear(1280 -> num_outputs = 200). Input: a float batch [B, 3, 64, 64]
(normalised with repro.data.tiny_imagenet.normalize), bilinearly upsampled inside the model to the network's
resolution (224 for B0, 240 for B1), as the catalog says. Output: logits.

`weights=None` builds the same network randomly initialised (tests; never a silent stand-in: a figure passes
weights="imagenet", and a missing file raises DataMissing, one line).

Deviations from the authors' code:
- The authors use lukemelas' `efficientnet_pytorch` (`EfficientNet.from_pretrained`, TF-ported ImageNet weights);
  here torchvision's definition and its IMAGENET1K_V1 weights (rwightman's port: ImageNet top-1 77.69 B0, 78.64 B1).
  The architectures agree (same blocks and widths, 1280-wide head, dropout 0.2 before the classifier and
  stochastic depth / drop-connect 0.2 in both libraries).
- The resize is inside the model (torch's bilinear, align_corners=False) instead of a PIL transform on each image.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from repro.data.download import DataMissing, require

# torchvision 0.29.1: EfficientNet_B{0,1}_Weights.IMAGENET1K_V1 (file name = the URL's last part, sha256 prefix in it)
WEIGHTS = {"b0": "efficientnet_b0_rwightman-7f5810bc.pth", "b1": "efficientnet_b1_rwightman-bac287d4.pth"}
RESOLUTION = {"b0": 224, "b1": 240}


class TinyImageNetEfficientNet(nn.Module):
    def __init__(self, variant: str = "b0", num_outputs: int = 200, weights: str | None = "imagenet",
                 data_dir=None, resolution: int | None = None):
        super().__init__()
        import torchvision

        if variant not in WEIGHTS:
            raise ValueError(f"unknown EfficientNet variant {variant!r}; choose one of: {', '.join(WEIGHTS)}")
        if weights not in ("imagenet", None):
            raise ValueError(f"weights must be 'imagenet' or None, got {weights!r}")
        net = getattr(torchvision.models, f"efficientnet_{variant}")(weights=None)
        if weights == "imagenet":
            path = require(data_dir, WEIGHTS[variant])
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
                net.load_state_dict(state)
            except Exception as e:  # a truncated or foreign file: one line naming it
                raise DataMissing(f"{path} is not torchvision's EfficientNet-{variant.upper()} ImageNet weights "
                                  f"({type(e).__name__}); replace it") from None
        head = net.classifier[1]
        net.classifier[1] = nn.Linear(head.in_features, num_outputs)
        self.net = net
        self.resolution = resolution or RESOLUTION[variant]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False)
        return self.net(x)
