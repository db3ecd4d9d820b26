"""repro.data.imdb: the aclImdb reader on a generated tree in the real layout, tokens and vocabulary."""
import pytest
import torch

from repro.data import fixtures
from repro.data.download import DataMissing
from repro.data.imdb import PAD, UNK, build_vocab, encode, load_imdb, synthetic_tokens, tokenize


def test_tokenize_drops_html_breaks_and_lowercases():
    assert tokenize("Great film.<br /><br />It's GOOD, 10/10") == ["great", "film", "it's", "good", "10", "10"]


def test_vocab_and_encoding():
    texts = [["a", "b", "a"], ["c", "a", "b", "d"]]
    vocab = build_vocab(texts, vocab_size=4)   # 2 reserved ids + the 2 most frequent words
    assert vocab == {"a": 2, "b": 3}
    ids, lengths = encode(texts + [[]], vocab, max_len=3)
    assert ids.tolist() == [[2, 3, 2], [UNK, 2, 3], [UNK, PAD, PAD]] and lengths.tolist() == [3, 3, 1]


def test_loads_a_generated_aclimdb_tree(tmp_path):
    base = fixtures.write_imdb(tmp_path, n_per_class=12)
    assert len(list((base / "train" / "pos").glob("*_*.txt"))) == 12
    data = load_imdb(tmp_path, vocab_size=50, max_len=16)
    ids, lengths, labels = data["train"]
    assert ids.shape == (24, 16) and labels.tolist() == [0] * 12 + [1] * 12
    assert (lengths >= 1).all() and (lengths <= 16).all() and int(ids.max()) < 50
    assert data["test"][0].shape == (24, 16)
    # Sentiment words made it into the vocabulary and the encoding.
    assert (ids > UNK).float().mean() > 0.5


def test_missing_folder_is_one_line(tmp_path):
    with pytest.raises(DataMissing) as e:
        load_imdb(tmp_path, vocab_size=10, max_len=4)
    assert "\n" not in str(e.value) and "aclImdb" in str(e.value)


def test_synthetic_tokens_carry_the_label():
    ids, lengths, labels = synthetic_tokens(400, 20, 100, torch.Generator().manual_seed(0))
    assert ids.shape == (400, 20) and ((ids != PAD).sum(1) == lengths).all()
    low = ((ids >= 2) & (ids < 51)).float().sum(1) / lengths   # the first half of the vocabulary
    assert low[labels == 0].mean() > low[labels == 1].mean() + 0.1


# ------------------------------------------------------------------- the label-noise papers' fixed-length pipeline
def test_whitespace_tokens_keep_punctuation_and_html_as_torchtext_legacy():
    from repro.data.imdb import tokenize_whitespace

    assert tokenize_whitespace("Great film.<br /><br />It's GOOD\n") == ["great", "film.<br", "/><br", "/>it's", "good"]


def test_legacy_vocab_orders_by_count_then_alphabetically():
    from repro.data.imdb import encode_fixed, legacy_vocab

    vocab = legacy_vocab([["b", "c", "a"], ["c", "b", "d"]])
    assert vocab == {"b": 2, "c": 3, "a": 4, "d": 5}
    ids = encode_fixed([["a", "zz", "b", "c"], []], vocab, fix_length=3)
    assert ids.tolist() == [[4, UNK, 2], [PAD, PAD, PAD]]     # truncated to the first 3 / padded at the end


def test_fixed_length_imdb_splits_70_30_with_the_vocab_of_the_train_split(tmp_path):
    from repro.data.imdb import load_imdb_fixed
    from repro.data.noisy_labels import flip_exact

    fixtures.write_imdb(tmp_path, n_per_class=20)
    data = load_imdb_fixed(tmp_path, fix_length=200, split_seed=3)
    (xtr, ytr), (xva, yva), (xte, yte) = data.train, data.valid, data.test
    assert xtr.shape == (28, 200) and xva.shape == (12, 200) and xte.shape == (40, 200)
    assert sorted(data.train_index.tolist() + data.valid_index.tolist()) == list(range(40))
    assert torch.equal(ytr, data.all_train_labels[data.train_index])
    # the vocabulary holds exactly the words of the train split's reviews
    from repro.data.imdb import read_split

    texts, _ = read_split(tmp_path, "train", tokenizer="whitespace")
    train_words = {w for i in data.train_index.tolist() for w in texts[i]}
    assert set(data.itos[2:]) == train_words and data.itos[:2] == ["<pad>", "<unk>"]
    assert (xva == UNK).any() or {w for i in data.valid_index.tolist() for w in texts[i]} <= train_words
    # decoding a training row gives back its first tokens
    row = texts[int(data.train_index[0])]
    assert [data.itos[i] for i in xtr[0, : len(row)].tolist()] == row[:200] and (xtr[0, len(row):] == PAD).all()
    # another split seed, another split; the same seed, the same one
    assert not torch.equal(load_imdb_fixed(tmp_path, split_seed=4).train_index, data.train_index)
    assert torch.equal(load_imdb_fixed(tmp_path, split_seed=3).train[0], xtr)
    # noise is drawn over all 40 official training reviews (exactly int(40 * 0.25) = 10 flips) and split alike
    noisy = flip_exact(data.all_train_labels, 0.25, generator=0)
    ytr_noisy, clean_tr, yva_noisy, clean_va = data.noisy_labels(noisy)
    assert int((~clean_tr).sum() + (~clean_va).sum()) == 10
    assert torch.equal(ytr_noisy != ytr, ~clean_tr) and torch.equal(yva_noisy != yva, ~clean_va)
    with pytest.raises(ValueError, match="expected 40"):
        data.noisy_labels(flip_exact(ytr, 0.25))


def test_fixed_length_imdb_missing_folder_is_one_line(tmp_path):
    from repro.data.imdb import load_imdb_fixed

    with pytest.raises(DataMissing) as e:
        load_imdb_fixed(tmp_path)
    assert "\n" not in str(e.value) and "aclImdb" in str(e.value)
