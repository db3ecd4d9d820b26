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


def digits_split(n_train: int, shuffle_seed: int = 0, device="cpu"):
    """The label-noise papers' tiny harness: the 1797 digits in one fixed random order (numpy's RandomState of
    `shuffle_seed`), the first n_train for training and the rest for testing (gambler: 1200 / 597; label_smoothing:
    1437 / 360). Returns (x_train, y_train, x_test, y_test)."""
    import numpy as np

    x, y = load_digits(device)
    order = torch.as_tensor(np.random.RandomState(shuffle_seed).permutation(len(y)), device=x.device)
    x, y = x[order], y[order]
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]
