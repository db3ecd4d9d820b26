"""repro.nn.noisy_nets: every named network of the label-noise papers against the catalogs' architectures (parameter
counts worked out by hand from the layer lists of gambler.md / label_smoothing.md / volumization.md "Setups" and
"Models"), output shapes, the seed, LSTMATT's attention and embedding bug, and the failure paths."""
import pytest
import torch
from torch import nn

from repro.nn.noisy_nets import NOISY_MODELS, TEXT_MODELS, make_noisy_model
from repro.nn.noisy_text import LSTMAttention

LSTM_256_ON_300 = 4 * 256 * (300 + 256) + 2 * 4 * 256   # weights W_ih, W_hh and both bias vectors


def n_params(net: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in net.parameters() if p.requires_grad or not trainable_only)


@pytest.mark.parametrize("name, outputs, kwargs, count, shape", [
    # conv 1->20 (520) + conv 20->50 (25,050) + FC 800->500 (400,500) + FC 500->11 (5,511)
    ("cnn_basic", 11, {}, 520 + 25_050 + 400_500 + 5_511, (1, 28, 28)),
    ("cnn_basic", 10, {}, 520 + 25_050 + 400_500 + 5_010, (784,)),
    # 3-channel variant: conv 3->20 (1,520), FC 1250->500 (625,500)
    ("cnn_basic_cifar", 11, {}, 1_520 + 25_050 + 625_500 + 5_511, (3, 32, 32)),
    # LeNet-5: 456 + 2,416 + 48,120 + 10,164 + 850 = 62,006 (the classic CIFAR LeNet count)
    ("cnn_small", 10, {}, 62_006, (3, 32, 32)),
    ("mlp_digits", 11, {}, 64 * 256 + 256 + 256 * 256 + 256 + 256 * 11 + 11, (64,)),
    ("mlp_blobs", 10, {}, 64 * 256 + 256 + 256 * 10 + 10, (64,)),
    ("mlp_mnist", 10, {}, 784 * 1024 + 1024 + 1024 * 10 + 10, (784,)),
])
def test_small_models_match_the_catalog(name, outputs, kwargs, count, shape):
    net = make_noisy_model(name, outputs, **kwargs)
    assert n_params(net) == count
    assert net(torch.rand(5, *shape)).shape == (5, outputs)


def test_resnet18_is_kuangliu_sized_with_m_plus_1_outputs():
    net = make_noisy_model("resnet18", 11)
    assert n_params(net) == 11_173_962 - (512 * 10 + 10) + (512 * 11 + 11)   # cifar_cnns' 10-way count, new head
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 11)


def test_text_models():
    vectors = torch.randn(50, 300)
    glove = make_noisy_model("lstm_glove", 3, vectors=vectors)
    assert n_params(glove, trainable_only=True) == LSTM_256_ON_300 + 256 * 3 + 3   # the embedding is frozen
    assert torch.equal(glove.embed.weight, vectors)
    att = make_noisy_model("lstmatt", 2, vocab_size=50)
    assert n_params(att, trainable_only=True) == 50 * 300 + LSTM_256_ON_300 + 256 * 2 + 2
    ids = torch.randint(0, 50, (4, 200))
    assert glove(ids).shape == (4, 3) and att(ids).shape == (4, 2)
    assert set(TEXT_MODELS) == {"lstm_glove", "lstmatt"}


def test_lstmatt_embedding_bug_ignores_vectors_by_default():
    vectors = torch.randn(20, 300)
    buggy = make_noisy_model("lstmatt", 2, vocab_size=20, vectors=vectors)
    assert not torch.allclose(buggy.embed.weight, vectors) and buggy.embed.weight.requires_grad
    assert 0.9 < float(buggy.embed.weight.detach().std()) < 1.1          # nn.Embedding's N(0, 1)
    fixed = make_noisy_model("lstmatt", 2, vectors=vectors, embedding_bug=False)
    assert torch.equal(fixed.embed.weight, vectors) and not fixed.embed.weight.requires_grad
    with pytest.raises(ValueError, match="vectors"):
        make_noisy_model("lstmatt", 2, vocab_size=20, embedding_bug=False)


def test_attention_is_a_softmax_over_time_against_the_final_state():
    g = torch.Generator().manual_seed(0)
    outputs, final = torch.randn(3, 7, 5, generator=g), torch.randn(3, 5, generator=g)
    got = LSTMAttention.attend(outputs, final)
    for b in range(3):
        w = torch.softmax(torch.stack([outputs[b, t] @ final[b] for t in range(7)]), 0)
        assert torch.allclose(got[b], sum(w[t] * outputs[b, t] for t in range(7)), atol=1e-6)


def test_seed_fixes_the_init_and_leaves_the_global_stream_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = make_noisy_model("mlp_digits", 11, seed=4)
    assert torch.equal(torch.random.get_rng_state(), before)
    b = make_noisy_model("mlp_digits", 11, seed=4)
    c = make_noisy_model("mlp_digits", 11, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a[1].weight, c[1].weight)


def test_he_init_of_mlp_digits():
    net = make_noisy_model("mlp_digits", 11, seed=0)
    w = net[3].weight                                            # 256 -> 256
    assert abs(float(w.detach().std()) - (2 / 256) ** 0.5) < 0.003 and float(net[3].bias.detach().abs().max()) == 0.0


def test_unknown_name_and_missing_kwargs():
    with pytest.raises(ValueError) as e:
        make_noisy_model("lenet", 10)
    assert all(n in str(e.value) for n in NOISY_MODELS) and "\n" not in str(e.value)
    with pytest.raises(ValueError, match="vectors"):
        make_noisy_model("lstm_glove", 3)
    with pytest.raises(ValueError, match="vocab_size"):
        make_noisy_model("lstmatt", 2)
