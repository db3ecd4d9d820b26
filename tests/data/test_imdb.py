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
