"""repro.data.tiny_imagenet on a generated tree in the layout of tiny-imagenet-200.zip (JPEGs, wnids.txt,
val_annotations.txt); failure paths."""
import pytest
import torch

from repro.data import fixtures
from repro.data.download import DataInvalid, DataMissing
from repro.data.tiny_imagenet import load_tiny_imagenet, normalize, read_wnids


def test_train_and_val_in_the_real_layout(tmp_path):
    base = fixtures.write_tiny_imagenet(tmp_path, n_classes=4, per_class=3, n_val=6)
    wnids = read_wnids(tmp_path)
    assert wnids == sorted(base.joinpath("wnids.txt").read_text().split())
    x, y = load_tiny_imagenet(tmp_path, "train")
    assert x.shape == (12, 3, 64, 64) and x.dtype == torch.uint8 and sorted(y.tolist()) == [k for k in range(4)
                                                                                           for _ in range(3)]
    # the class of an image is its folder's wnid; colours differ per class (so labels follow the files)
    means = torch.stack([x[y == k].float().mean((0, 2, 3)) for k in range(4)])
    assert torch.cdist(means, means).add(torch.eye(4) * 1e3).min() > 5
    xv, yv = load_tiny_imagenet(tmp_path, "val")
    ann = dict(l.split("\t")[:2] for l in (base / "val" / "val_annotations.txt").read_text().splitlines())
    names = sorted(ann)
    assert xv.shape == (6, 3, 64, 64) and yv.tolist() == [wnids.index(ann[n]) for n in names]
    z = normalize(x)
    assert z.dtype == torch.float32 and abs(float(z.mean())) < 3


def test_greyscale_jpeg_becomes_rgb(tmp_path):
    fixtures.write_tiny_imagenet(tmp_path, n_classes=2, per_class=1, n_val=2)
    x, _ = load_tiny_imagenet(tmp_path, "train")
    grey = [i for i in range(len(x)) if torch.equal(x[i, 0], x[i, 1]) and torch.equal(x[i, 1], x[i, 2])]
    assert len(grey) == 1


def test_failure_paths_are_one_line(tmp_path):
    with pytest.raises(DataMissing, match="repro data fetch dataset=tiny_imagenet") as e:
        load_tiny_imagenet(tmp_path)
    assert "\n" not in str(e.value)
    base = fixtures.write_tiny_imagenet(tmp_path, n_classes=2, per_class=1, n_val=2)
    (base / "val" / "images" / "val_1.JPEG").unlink()
    with pytest.raises(DataMissing, match="val_1.JPEG") as e:
        load_tiny_imagenet(tmp_path, "val")
    assert "\n" not in str(e.value)
    from PIL import Image

    wnid = read_wnids(tmp_path)[0]
    img = next((base / "train" / wnid / "images").glob("*.JPEG"))
    Image.new("RGB", (32, 32)).save(img, format="JPEG")
    with pytest.raises(DataInvalid, match="32x32 image, expected 64x64"):
        load_tiny_imagenet(tmp_path, "train")
    with pytest.raises(ValueError, match="'train' or 'val'"):
        load_tiny_imagenet(tmp_path, "test")
