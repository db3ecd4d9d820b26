"""scikit-learn's bundled handwritten digits (1797 images of 8x8 pixels, values 0..16; UCI optdigits test set), the
real-data stand-in of escape_rate's tiny MNIST entries (fig=3(c), fig=4, fig=7): read by sklearn.datasets.load_digits
from the files installed with scikit-learn, so nothing is downloaded. Rows on it say data=real, dataset=digits."""
from __future__ import annotations

import torch


def load_digits(device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(x [1797, 64] float32 = pixels/16 in [0, 1], y [1797] int64 digit labels), in the file's order."""
    from sklearn.datasets import load_digits as _load

    d = _load()
    x = torch.as_tensor(d.data, dtype=torch.float32, device=device).div_(16.0)
    return x, torch.as_tensor(d.target, dtype=torch.int64, device=device)
