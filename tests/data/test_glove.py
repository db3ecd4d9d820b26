"""repro.data.glove: GloVe's text format read for a vocabulary (only its words, zeros for the others and the
specials: torchtext-legacy's unk_init), on a file generated in the real format; failure paths."""
import pytest
import torch

from repro.data import fixtures
from repro.data.download import DataInvalid, DataMissing
from repro.data.glove import load_vectors


def test_reads_the_vocab_words_and_zeros_the_rest(tmp_path):
    path = fixtures.write_glove(tmp_path, ["the", "movie", "great"], dim=300, extra=5)
    lines = {l.split(" ")[0]: l.split(" ")[1:] for l in path.read_text().splitlines()}
    itos = ["<pad>", "<unk>", "great", "notinglove", "the"]
    vectors, found = load_vectors(tmp_path, itos)
    assert vectors.shape == (5, 300) and found == 2
    assert torch.allclose(vectors[2], torch.tensor([float(v) for v in lines["great"]]))
    assert torch.allclose(vectors[4], torch.tensor([float(v) for v in lines["the"]]))
    assert (vectors[[0, 1, 3]] == 0).all()


def test_missing_file_is_one_line_naming_the_fetch(tmp_path):
    with pytest.raises(DataMissing) as e:
        load_vectors(tmp_path, ["a"])
    msg = str(e.value)
    assert "\n" not in msg and "glove.6B/glove.6B.300d.txt" in msg and "repro data fetch dataset=glove6b" in msg


def test_wrong_dimension_is_one_line(tmp_path):
    fixtures.write_glove(tmp_path, ["the"], dim=50)
    (tmp_path / "glove.6B" / "glove.6B.50d.txt").rename(tmp_path / "glove.6B" / "glove.6B.300d.txt")
    with pytest.raises(DataInvalid, match="50 values, expected 300") as e:
        load_vectors(tmp_path, ["the"])
    assert "\n" not in str(e.value)
