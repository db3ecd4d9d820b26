"""GloVe 6B word vectors (Pennington et al. 2014; glove.6B.zip) for gambler's IMDB model (catalog gambler.md
"Setups": a frozen GloVe 6B-300d embedding over the vocabulary of the train split; volumization's LSTMATT meant to
load them too, see repro/nn/noisy_text.py).

The file is the text format of the zip: <data_dir>/glove.6B/glove.6B.<dim>d.txt (where `repro data fetch
dataset=glove6b` extracts it), one word per line followed by <dim> space-separated floats, UTF-8. Only the words of
the vocabulary are kept (the file has 400,000). A word the file lacks gets the zero vector, as do the specials
(<pad>, <unk>): torchtext-legacy's convention (`Vocab.load_vectors` with its default unk_init = Tensor.zero_), which
the authors' `TEXT.build_vocab(train, vectors=GloVe(name="6B", dim=300))` used. A missing file raises DataMissing,
a line with the wrong number of values DataInvalid (one line each).
"""
from __future__ import annotations

import torch

from repro.data.download import DataInvalid, DataMissing, require


def glove_path(dim: int) -> str:
    return f"glove.6B/glove.6B.{dim}d.txt"


def load_vectors(data_dir, itos: list[str], dim: int = 300) -> tuple[torch.Tensor, int]:
    """(vectors [len(itos), dim] float32, how many words of itos the file has); rows of missing words are 0."""
    try:
        path = require(data_dir, glove_path(dim))
    except DataMissing as e:
        raise DataMissing(f"{e} (it is in glove.6B.zip from https://nlp.stanford.edu/data/glove.6B.zip)") from None
    stoi = {w: i for i, w in enumerate(itos)}
    vectors = torch.zeros(len(itos), dim)
    found = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            values = line.rstrip("\n").rstrip(" ").split(" ")
            if n == 1 and len(values) != dim + 1:
                raise DataInvalid(f"{path}: line 1 has {len(values) - 1} values, expected {dim} (a GloVe "
                                  f"{dim}-d text file)")
            i = stoi.get(values[0])
            if i is None:
                continue
            if len(values) != dim + 1:
                raise DataInvalid(f"{path}: line {n} ({values[0]!r}) has {len(values) - 1} values, expected {dim}")
            try:
                vectors[i] = torch.tensor([float(v) for v in values[1:]])
            except ValueError:
                raise DataInvalid(f"{path}: line {n} ({values[0]!r}) has a value that is not a number") from None
            found += 1
    return vectors, found
