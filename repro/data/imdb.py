"""IMDB movie reviews (Maas et al. 2011, aclImdb_v1.tar.gz) from `data_dir` (LaProp fig=8), and the synthetic token
sequences of tiny runs.

The real data is the extracted archive: <data_dir>/aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt, one review
per file (https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz). A missing folder raises DataMissing
(one line). Tokens: lower-cased words (`<br />` removed); the vocabulary is the `vocab_size - 2` most frequent
training words (0 = padding, 1 = unknown); each review keeps its first `max_len` tokens.

`load_imdb_fixed` is the torchtext-legacy pipeline of the label-noise papers (gambler's IMDB stack, catalog gambler.md
"Setups" and Open question 7; volumization's LSTMATT, volumization.md "Models"): `Field(lower=True, fix_length=200)`
with its default whitespace tokenizer (str.split, then lower-case; `<br />` and punctuation stay in the tokens), the
official train set split 70/30 into train/valid (`Dataset.split()`'s default), a vocabulary of every word of the
train split (no min_freq, no max_size; ordered by decreasing count, ties alphabetically, as torchtext's Vocab),
reviews truncated to their first 200 tokens or padded at the end. Deviations from torchtext-legacy:
- the specials: here 0 = <pad>, 1 = <unk> (this module's convention); torchtext has 0 = <unk>, 1 = <pad>. The ids
  only index the embedding, so nothing else changes;
- the 70/30 permutation comes from torch.Generator(split_seed) (torchtext: Python's `random` state);
- labels are 1 = pos, 0 = neg (torchtext's LabelField numbers the more frequent label of the train split first);
- the label noise is not applied here: `FixedLengthIMDB.noisy_labels` takes the NoisyLabels of the 25,000 official
  training labels (gambler: flip_exact(all_train_labels, r), exactly int(25000 r) flips) and splits them like the
  reviews.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from repro.data.download import DataMissing, require

URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
PAD, UNK = 0, 1
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("<br />", " "))


def tokenize_whitespace(text: str) -> list[str]:
    """torchtext-legacy Field(lower=True)'s default: str.split on whitespace, then lower-case each token."""
    return [t.lower() for t in text.rstrip("\n").split()]


TOKENIZERS = {"words": tokenize, "whitespace": tokenize_whitespace}


def read_split(data_dir, split: str, tokenizer: str = "words") -> tuple[list[list[str]], list[int]]:
    """Tokenized reviews and labels (1 = pos, 0 = neg) of aclImdb/<split>, in sorted file order; `tokenizer` is
    "words" (the regex above) or "whitespace" (torchtext-legacy's)."""
    tok = TOKENIZERS[tokenizer]
    texts, labels = [], []
    for label, folder in ((0, "neg"), (1, "pos")):
        try:
            path = require(data_dir, f"aclImdb/{split}/{folder}")
        except DataMissing as e:
            raise DataMissing(f"{e} (extract {URL} there)") from None
        for f in sorted(Path(path).glob("*.txt")):
            texts.append(tok(f.read_text(encoding="utf-8", errors="replace")))
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


def legacy_vocab(texts: list[list[str]]) -> dict[str, int]:
    """Every word, ordered as torchtext-legacy's Vocab (decreasing count, ties alphabetically), ids from 2 on."""
    counts = Counter(tok for t in texts for tok in t)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {tok: i + 2 for i, (tok, _) in enumerate(ranked)}


def encode_fixed(texts, vocab: dict[str, int], fix_length: int) -> torch.Tensor:
    """ids [N, fix_length] int64: the first fix_length tokens, padded with PAD at the end (torchtext-legacy's
    fix_length with pad_first=False, truncate_first=False); unknown words -> UNK."""
    ids = torch.full((len(texts), fix_length), PAD, dtype=torch.int64)
    for i, t in enumerate(texts):
        seq = [vocab.get(tok, UNK) for tok in t[:fix_length]]
        if seq:
            ids[i, : len(seq)] = torch.tensor(seq)
    return ids


@dataclass
class FixedLengthIMDB:
    """The fixed-length IMDB of the label-noise papers (see the module doc). `itos[i]` is the word of id i."""
    itos: list[str]
    train: tuple[torch.Tensor, torch.Tensor]     # (ids [n_train, L], clean labels [n_train])
    valid: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    train_index: torch.Tensor                    # rows of the official train set (sorted file order) in `train`
    valid_index: torch.Tensor
    all_train_labels: torch.Tensor               # the 25,000 official training labels, clean, file order

    def noisy_labels(self, noisy) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(train labels, train clean mask, valid labels, valid clean mask) of a NoisyLabels drawn over
        `all_train_labels` (e.g. flip_exact(data.all_train_labels, r, generator))."""
        labels, clean = noisy.labels.cpu(), noisy.clean.cpu()
        if len(labels) != len(self.all_train_labels):
            raise ValueError(f"noisy labels for {len(labels)} reviews, expected {len(self.all_train_labels)}")
        return labels[self.train_index], clean[self.train_index], labels[self.valid_index], clean[self.valid_index]


def load_imdb_fixed(data_dir, fix_length: int = 200, valid_fraction: float = 0.3,
                    split_seed: int = 0) -> FixedLengthIMDB:
    """aclImdb through the torchtext-legacy pipeline (module doc): whitespace tokens, vocabulary of the train split,
    fixed length. The 70/30 split: the first round(0.7 N) rows of a permutation drawn from split_seed are train."""
    texts, labels = read_split(data_dir, "train", tokenizer="whitespace")
    test_texts, test_labels = read_split(data_dir, "test", tokenizer="whitespace")
    perm = torch.randperm(len(texts), generator=torch.Generator().manual_seed(split_seed))
    n_train = int(round((1 - valid_fraction) * len(texts)))
    train_index, valid_index = perm[:n_train], perm[n_train:]
    vocab = legacy_vocab([texts[i] for i in train_index.tolist()])
    itos = ["<pad>", "<unk>", *vocab]
    y = torch.tensor(labels, dtype=torch.int64)
    ids = encode_fixed(texts, vocab, fix_length)
    return FixedLengthIMDB(itos=itos, train=(ids[train_index], y[train_index]),
                           valid=(ids[valid_index], y[valid_index]),
                           test=(encode_fixed(test_texts, vocab, fix_length), torch.tensor(test_labels)),
                           train_index=train_index, valid_index=valid_index, all_train_labels=y)


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
