"""IMDB movie reviews (Maas et al. 2011, aclImdb_v1.tar.gz) from `data_dir` (LaProp fig=8), and the synthetic token
sequences of tiny runs.

The real data is the extracted archive: <data_dir>/aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt, one review
per file (https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz). A missing folder raises DataMissing
(one line). Tokens: lower-cased words (`<br />` removed); the vocabulary is the `vocab_size - 2` most frequent
training words (0 = padding, 1 = unknown); each review keeps its first `max_len` tokens.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import torch

from repro.data.download import DataMissing, require

URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
PAD, UNK = 0, 1
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("<br />", " "))


def read_split(data_dir, split: str) -> tuple[list[list[str]], list[int]]:
    """Tokenized reviews and labels (1 = pos, 0 = neg) of aclImdb/<split>, in sorted file order."""
    texts, labels = [], []
    for label, folder in ((0, "neg"), (1, "pos")):
        try:
            path = require(data_dir, f"aclImdb/{split}/{folder}")
        except DataMissing as e:
            raise DataMissing(f"{e} (extract {URL} there)") from None
        for f in sorted(Path(path).glob("*.txt")):
            texts.append(tokenize(f.read_text(encoding="utf-8", errors="replace")))
            labels.append(label)
    return texts, labels


def build_vocab(texts: list[list[str]], vocab_size: int) -> dict[str, int]:
    counts = Counter(tok for t in texts for tok in t)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: vocab_size - 2]
    return {tok: i + 2 for i, (tok, _) in enumerate(ranked)}


def encode(texts, vocab: dict[str, int], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids [N, max_len] int64, zero-padded; lengths [N], each >= 1)."""
    ids = torch.full((len(texts), max_len), PAD, dtype=torch.int64)
    lengths = torch.ones(len(texts), dtype=torch.int64)
    for i, t in enumerate(texts):
        seq = [vocab.get(tok, UNK) for tok in t[:max_len]] or [UNK]
        ids[i, : len(seq)] = torch.tensor(seq)
        lengths[i] = len(seq)
    return ids, lengths


def load_imdb(data_dir, vocab_size: int, max_len: int, device="cpu"):
    """{"train": (ids, lengths, labels), "test": (...)} with the vocabulary of the training split."""
    train_texts, train_labels = read_split(data_dir, "train")
    test_texts, test_labels = read_split(data_dir, "test")
    vocab = build_vocab(train_texts, vocab_size)
    out = {}
    for split, texts, labels in (("train", train_texts, train_labels), ("test", test_texts, test_labels)):
        ids, lengths = encode(texts, vocab, max_len)
        out[split] = (ids.to(device), lengths.to(device), torch.tensor(labels, dtype=torch.int64, device=device))
    return out


def synthetic_tokens(n: int, length: int, vocab_size: int, generator: torch.Generator, signal: float = 0.3,
                     device="cpu"):
    """Token sequences whose label decides how often words from a label-specific subset appear (a learnable
    sentiment-like signal): every position is, with probability `signal`, a word of the label's subset, else a
    uniformly random word. Returns (ids [n, length], lengths [n], labels [n]); lengths vary in [length/2, length]."""
    labels = torch.randint(0, 2, (n,), generator=generator, device=device)
    ids = torch.randint(2, vocab_size, (n, length), generator=generator, device=device)
    half = (vocab_size - 2) // 2
    subset = torch.randint(0, max(1, half // 4), (n, length), generator=generator, device=device) + 2 + labels[:, None] * half
    use = torch.rand(n, length, generator=generator, device=device) < signal
    ids = torch.where(use, subset, ids)
    lengths = torch.randint(length // 2, length + 1, (n,), generator=generator, device=device)
    ids = ids.masked_fill(torch.arange(length, device=device)[None, :] >= lengths[:, None], PAD)
    return ids, lengths, labels
