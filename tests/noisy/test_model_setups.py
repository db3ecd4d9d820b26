"""Every network of repro.nn.noisy_nets at full size takes optimizer steps on a batch read by its real loader from
files generated in the real on-disk format (MNIST idx, CIFAR-10 pickles, the aclImdb tree + GloVe text vectors, the
Tiny-ImageNet folders + a torchvision weights file), with its paper's label noise, loss and optimizer
(repro/noisy/model_setups.py). Checks: finite losses, every trainable parameter tensor moves and frozen ones do not,
and, where the optimizer is a plain one, the loss on the batch goes down. ResNet-18 and the EfficientNets are slow."""
import math

import pytest
import torch

from repro.data import fixtures
from repro.data.download import DataMissing
from repro.noisy.model_setups import build_setup, run_steps


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("noisy_data")
    fixtures.write_mnist(root, n_train=300, n_test=20)
    fixtures.write_cifar10(root, per_batch=40, n_test=20)
    # review lengths like the real ones (many over the fixed length 200): the LSTMs read h_200 of padded sequences,
    # and after ~150 zero GloVe pad vectors the gradient reaching the LSTM's input weights underflows to 0
    fixtures.write_imdb(root, n_per_class=60, length=(120, 300))
    fixtures.write_glove(root, fixtures.POSITIVE + fixtures.NEGATIVE + fixtures.FILLER)
    fixtures.write_tiny_imagenet(root, n_classes=4, per_class=3, n_val=4)
    for v in ("b0", "b1"):
        fixtures.write_efficientnet_weights(root, v)
    return root


def check_steps(name, data_dir, batch_size=None, steps=3, decreases=True, **kw):
    setup = build_setup(name, data_dir, batch_size=batch_size, **kw)
    before = {n: p.detach().clone() for n, p in setup.model.named_parameters()}
    losses, _ = run_steps(setup, steps)
    assert all(math.isfinite(l) for l in losses), losses
    for n, p in setup.model.named_parameters():
        moved = not torch.equal(before[n], p.detach())
        assert moved == p.requires_grad, f"{name}: {n} moved={moved}, trainable={p.requires_grad}"
    if decreases:
        assert losses[-1] < losses[0], losses
    return setup


@pytest.mark.parametrize("name, batch, decreases", [
    ("cnn_basic", None, True), ("cnn_basic_cifar", None, True), ("cnn_small", None, True),
    ("mlp_digits", None, True), ("mlp_blobs", None, False), ("mlp_mnist", None, False),
    ("lstm_glove", 4, True), ("lstmatt", 4, False),    # T = 200 LSTMs: small batches here, the paper's below
])
def test_full_size_models_step_on_real_format_data(name, batch, decreases, data_dir):
    setup = check_steps(name, data_dir, batch, decreases=decreases)
    x, y = setup.batch
    expected = {"cnn_basic": (128, 1, 28, 28), "cnn_basic_cifar": (128, 3, 32, 32), "mlp_digits": (128, 64),
                "mlp_mnist": (128, 784), "lstm_glove": (4, 200), "lstmatt": (4, 200)}
    if name in expected:
        assert tuple(x.shape) == expected[name]
    assert y.dtype == torch.int64 and int(y.max()) < {"lstm_glove": 2, "lstmatt": 2}.get(name, 10)


def test_lstm_glove_reads_the_glove_rows_of_its_vocab(data_dir):
    from repro.data.glove import load_vectors
    from repro.data.imdb import load_imdb_fixed

    setup = build_setup("lstm_glove", data_dir)
    itos = load_imdb_fixed(data_dir).itos
    weight = setup.model.embed.weight
    assert weight.shape == (len(itos), 300) and not weight.requires_grad
    known = [i for i, w in enumerate(itos) if w in fixtures.POSITIVE + fixtures.FILLER]
    assert known and (weight[known].abs().sum(1) > 0).all() and (weight[:2] == 0).all()
    assert torch.equal(weight, load_vectors(data_dir, itos)[0])


@pytest.mark.slow
@pytest.mark.parametrize("name, batch", [("lstm_glove", 32), ("lstmatt", 32)])
def test_imdb_models_at_the_papers_batch(name, batch, data_dir):
    setup = check_steps(name, data_dir, batch, decreases=name == "lstm_glove")
    assert tuple(setup.batch[0].shape) == (batch, 200)


@pytest.mark.slow
def test_resnet18_steps_on_cifar_files(data_dir):
    check_steps("resnet18", data_dir, batch_size=32, decreases=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["efficientnet_b0", "efficientnet_b1"])
def test_efficientnet_steps_on_tiny_imagenet_files_with_weights_from_data_dir(name, data_dir):
    setup = check_steps(name, data_dir, batch_size=4, steps=2, decreases=False)
    assert setup.model.net.classifier[1].out_features == 200 and setup.batch[0].shape == (4, 3, 64, 64)
    from repro.nn.efficientnet_tiny import WEIGHTS

    state = torch.load(data_dir / WEIGHTS[name[-2:]], weights_only=True)
    fresh = build_setup(name, data_dir, batch_size=4).model.net.features[0][0].weight
    assert torch.equal(fresh, state["features.0.0.weight"])     # the file's weights, not a random init


def test_missing_data_is_one_line(tmp_path):
    for name, what in (("cnn_basic", "MNIST"), ("cnn_small", "cifar-10"), ("lstmatt", "aclImdb"),
                       ("efficientnet_b0", "tiny-imagenet-200")):
        with pytest.raises(DataMissing) as e:
            build_setup(name, tmp_path)
        assert "\n" not in str(e.value) and what in str(e.value), name
    fixtures.write_imdb(tmp_path, n_per_class=5)
    with pytest.raises(DataMissing, match="glove.6B.300d.txt") as e:
        build_setup("lstm_glove", tmp_path)
    fixtures.write_tiny_imagenet(tmp_path, n_classes=2, per_class=1, n_val=2)
    with pytest.raises(DataMissing, match="efficientnet_b1_rwightman-bac287d4.pth.*repro data fetch") as e:
        build_setup("efficientnet_b1", tmp_path)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="choose one of"):
        build_setup("vgg", tmp_path)
