"""IWSLT14 German-English (LaProp fig=5) from `data_dir`, fairseq-style vocabularies and token-count batches, and the
synthetic reverse-copy task of tiny runs.

On-disk format: the output of fairseq's `examples/translation/prepare-iwslt14.sh` (tokenized, lower-cased, BPE'd
text, one sentence per line, tokens separated by spaces, BPE continuations marked `@@`):

    <data_dir>/iwslt14.tokenized.de-en/{train,valid,test}.{de,en}

(the folder the script writes; ~160k training pairs). A missing file raises DataMissing (one line).

Vocabulary (as `fairseq-preprocess` without --joined-dictionary, one per language, from the training split):
<s>=0, <pad>=1, </s>=2, <unk>=3, then the training tokens by decreasing count (ties alphabetical), padded with
`madeupwordNNNN` to a multiple of 8. A sentence is its token ids followed by </s>; the decoder input is the target
shifted right with </s> first (fairseq's prev_output_tokens).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch

from repro.data.download import DataMissing, require

FOLDER = "iwslt14.tokenized.de-en"
PREPARE = "fairseq examples/translation/prepare-iwslt14.sh"
BOS, PAD, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")


class Dictionary:
    """token <-> id, fairseq's layout (specials first, then by count)."""

    def __init__(self, tokens: list[str]):
        self.symbols = list(tokens)
        self.index = {t: i for i, t in enumerate(self.symbols)}

    @classmethod
    def build(cls, lines, extra: tuple[str, ...] = (), max_size: int | None = None, pad_to: int = 8):
        counts = Counter(tok for line in lines for tok in line)
        ranked = [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if t not in SPECIALS]
        if max_size is not None:
            ranked = ranked[: max(0, max_size - len(SPECIALS) - len(extra))]
        symbols = [*SPECIALS, *ranked]
        i = 0
        while (len(symbols) + len(extra)) % pad_to:
            symbols.append(f"madeupword{i:04d}")
            i += 1
        return cls(symbols + list(extra))

    def __len__(self) -> int:
        return len(self.symbols)

    def encode(self, tokens: list[str], append_eos: bool = True) -> torch.Tensor:
        ids = [self.index.get(t, UNK) for t in tokens] + ([EOS] if append_eos else [])
        return torch.tensor(ids, dtype=torch.int64)


def read_tokens(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8") as f:
        return [line.split() for line in f]


def _require(data_dir, split: str, lang: str) -> Path:
    try:
        return require(data_dir, f"{FOLDER}/{split}.{lang}")
    except DataMissing as e:
        raise DataMissing(f"{e} (run {PREPARE} and put its output folder there)") from None


def load_iwslt(data_dir, src: str = "de", tgt: str = "en", splits=("train",)) -> dict:
    """{"src_vocab", "tgt_vocab", <split>: (list of src id tensors, list of tgt id tensors)} with the vocabularies of
    the training split. Sentence pairs with an empty side are dropped (fairseq keeps them; prepare-iwslt14 has none)."""
    train = {lang: read_tokens(_require(data_dir, "train", lang)) for lang in (src, tgt)}
    if len(train[src]) != len(train[tgt]):
        raise DataMissing(f"{FOLDER}/train.{src} and train.{tgt} have different line counts: re-run {PREPARE}")
    out = {"src_vocab": Dictionary.build(train[src]), "tgt_vocab": Dictionary.build(train[tgt])}
    for split in splits:
        text = train if split == "train" else {
            lang: read_tokens(_require(data_dir, split, lang)) for lang in (src, tgt)}
        pairs = [(s, t) for s, t in zip(text[src], text[tgt]) if s and t]
        out[split] = ([out["src_vocab"].encode(s) for s, _ in pairs], [out["tgt_vocab"].encode(t) for _, t in pairs])
    return out


def reverse_task(n: int, length: int, vocab_size: int, generator: torch.Generator):
    """Synthetic translation: the target is the source reversed. Tokens are drawn uniformly from the non-special
    ids 4..vocab_size-1; each sentence is `length` tokens plus </s>. Returns (src list, tgt list)."""
    body = torch.randint(len(SPECIALS), vocab_size, (n, length), generator=generator)
    eos = torch.full((n, 1), EOS, dtype=torch.int64)
    src, tgt = torch.cat([body, eos], 1), torch.cat([body.flip(1), eos], 1)
    return list(src), list(tgt)


def translation_task(p: dict, data_dir, generator: torch.Generator):
    """(src, tgt, src_vocab, tgt_vocab, data) of a run's params: dataset=iwslt14 reads the training split from
    data_dir (data="real"); dataset=reverse makes n_train reversal pairs of `length` tokens over vocab_size symbols
    with `generator` (data="synthetic")."""
    if p["dataset"] == "iwslt14":
        d = load_iwslt(data_dir)
        src, tgt = d["train"]
        return src, tgt, len(d["src_vocab"]), len(d["tgt_vocab"]), "real"
    if p["dataset"] == "reverse":
        vocab = int(p["vocab_size"])
        src, tgt = reverse_task(int(p["n_train"]), int(p["length"]), vocab, generator)
        return src, tgt, vocab, vocab, "synthetic"
    raise ValueError(f"unknown dataset {p['dataset']!r}; choose iwslt14 or reverse")


def token_batches(src_lens, tgt_lens, max_tokens: int, generator: torch.Generator) -> list[torch.Tensor]:
    """fairseq's batching: sentences in random order, stably sorted by target then source length, grouped so that
    (sentences in the batch) x (longest side in it) <= max_tokens; returns the batches (index tensors) shuffled."""
    src_lens, tgt_lens = torch.as_tensor(src_lens), torch.as_tensor(tgt_lens)
    order = torch.randperm(len(src_lens), generator=generator)
    order = order[torch.sort(tgt_lens[order], stable=True).indices]
    order = order[torch.sort(src_lens[order], stable=True).indices]
    longest = torch.maximum(src_lens, tgt_lens)[order].tolist()
    batches, start, width = [], 0, 0
    for i, n in enumerate(longest):
        if n > max_tokens:
            raise ValueError(f"a sentence of {n} tokens exceeds max_tokens={max_tokens}")
        w = max(width, n)
        if i > start and w * (i - start + 1) > max_tokens:
            batches.append(order[start:i])
            start, w = i, n
        width = w
    batches.append(order[start:])
    perm = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in perm]


def collate(src: list[torch.Tensor], tgt: list[torch.Tensor], pad: int = PAD, eos: int = EOS):
    """(src [B, S], prev_output_tokens [B, T], target [B, T]), right-padded with `pad`."""
    s = torch.nn.utils.rnn.pad_sequence(src, batch_first=True, padding_value=pad)
    t = torch.nn.utils.rnn.pad_sequence(tgt, batch_first=True, padding_value=pad)
    prev = torch.nn.utils.rnn.pad_sequence([torch.cat([x.new_tensor([eos]), x[:-1]]) for x in tgt],
                                           batch_first=True, padding_value=pad)
    return s, prev, t


def write_fixture(root, n_train: int = 200, n_valid: int = 20, seed: int = 0) -> Path:
    """Small files in the prepare-iwslt14 format (for the tests; never used by a figure): BPE-like tokens with
    `@@` continuations, German-like source words and their English 'translations' in a fixed word map."""
    import random

    rng = random.Random(seed)
    stems = ["ich", "du", "wir", "haus", "gut", "sch@@", "ön", "jetzt", "und", "nicht", "ein@@", "mal", "das", "ist"]
    trans = {w: f"e{w}" for w in stems}
    folder = Path(root) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("valid", n_valid), ("test", n_valid)):
        de, en = [], []
        for _ in range(n):
            words = [rng.choice(stems) for _ in range(rng.randint(3, 15))] + ["."]
            de.append(" ".join(words))
            en.append(" ".join(trans.get(w, w) for w in reversed(words[:-1])) + " .")
        (folder / f"{split}.de").write_text("\n".join(de) + "\n", encoding="utf-8")
        (folder / f"{split}.en").write_text("\n".join(en) + "\n", encoding="utf-8")
    return folder
