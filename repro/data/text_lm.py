"""Text for masked-LM pretraining (LaProp fig=6): WikiText-103 (or any Wikipedia text in the same format) from
`data_dir`, fairseq-style blocks and BERT masking, and the synthetic Zipf tokens of tiny runs.

On-disk format: word-level tokenized text, one paragraph (or heading) per line, tokens separated by spaces, as in
the standard WikiText-103 release (wikitext-103-v1.zip, Merity et al. 2016):

    <data_dir>/wikitext-103/wiki.train.tokens        (~103M tokens; blank lines are skipped)

Any other text in this format can be used with the config's `text_file` (e.g. a Wikipedia dump run through a word
tokenizer). A missing file raises DataMissing (one line).

Differences from the authors' fairseq RoBERTa setup (documented in conf/laprop/fig6.yaml): word-level tokens with a
vocabulary of the `vocab_size` most frequent training words (default 50,000, the size of RoBERTa's GPT-2 BPE
vocabulary; the rest map to <unk>) instead of GPT-2 BPE; every token is a whole word, so whole-word masking is
automatic. Blocks follow fairseq's `--sample-break-mode complete`: whole lines (each ending in </s>) are packed into
blocks of at most tokens_per_sample - 1 tokens (a longer line is cut), and <s> is prepended.
"""
from __future__ import annotations

from pathlib import Path

import torch

from repro.data.download import DataMissing, require
from repro.data.iwslt import BOS, EOS, PAD, SPECIALS, Dictionary

WIKITEXT = "wikitext-103/wiki.train.tokens"
URL = "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-103-v1.zip"
MASK = "<mask>"


def read_lines(path: Path, max_lines: int | None = None) -> list[list[str]]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            toks = line.split()
            if toks:
                out.append(toks)
                if max_lines and len(out) >= max_lines:
                    break
    return out


def pack_blocks(lines: list[torch.Tensor], tokens_per_sample: int) -> torch.Tensor:
    """Complete-mode blocks [N, tokens_per_sample] (int32, <pad>-filled): <s> then whole lines while they fit."""
    room = tokens_per_sample - 1
    blocks, cur = [], []
    for ids in lines:
        ids = ids[:room].tolist()
        if cur and len(cur) + len(ids) > room:
            blocks.append(cur)
            cur = []
        cur = cur + ids
    if cur:
        blocks.append(cur)
    out = torch.full((len(blocks), tokens_per_sample), PAD, dtype=torch.int32)
    for i, b in enumerate(blocks):
        out[i, 0] = BOS
        out[i, 1:1 + len(b)] = torch.tensor(b, dtype=torch.int32)
    return out


def load_text_blocks(data_dir, relpath: str = WIKITEXT, vocab_size: int = 50000, tokens_per_sample: int = 512,
                     max_lines: int | None = None) -> tuple[torch.Tensor, Dictionary]:
    """(blocks [N, tokens_per_sample] int32, vocabulary with <mask> as its last symbol)."""
    try:
        path = require(data_dir, relpath)
    except DataMissing as e:
        raise DataMissing(f"{e} (WikiText-103: extract {URL})") from None
    lines = read_lines(path, max_lines)
    vocab = Dictionary.build(lines, extra=(MASK,), max_size=vocab_size)
    return pack_blocks([vocab.encode(t) for t in lines], tokens_per_sample), vocab


def synthetic_zipf(n: int, length: int, vocab_size: int, generator: torch.Generator, alpha: float = 1.0,
                   line_length: int = 8) -> torch.Tensor:
    """[n, length] int64 blocks of Zipf-distributed tokens (P(rank r) ~ r^-alpha over the non-special ids, the last
    id is <mask>): <s>, then 'lines' of `line_length` tokens each followed by </s>. Learnable structure: each line
    repeats its first token at its end (an MLM can recover masked copies)."""
    specials, n_words = len(SPECIALS), vocab_size - len(SPECIALS) - 1
    probs = torch.arange(1, n_words + 1, dtype=torch.float64) ** -alpha
    words = torch.multinomial(probs / probs.sum(), n * length, replacement=True, generator=generator)
    x = (words + specials).view(n, length)
    x[:, 0] = BOS
    for start in range(1, length, line_length + 1):
        end = min(start + line_length, length)
        if end - start >= 2:
            x[:, end - 1] = x[:, start]
        if end < length:
            x[:, end] = EOS
    return x


def mask_tokens(tokens: torch.Tensor, vocab_size: int, mask_id: int, generator: torch.Generator,
                mask_prob: float = 0.15, leave_unmasked_prob: float = 0.1, random_token_prob: float = 0.1,
                n_special: int = len(SPECIALS)):
    """BERT/fairseq masking: `mask_prob` of the non-<pad>, non-<s> positions are targets; of those, 80% become
    <mask>, 10% a random non-special token, 10% stay. Returns (inputs, targets bool mask). At least one target
    per batch. Random numbers come from `generator` (on the CPU), so compared runs see the same masks."""
    cpu = tokens.cpu()
    can = cpu.ne(PAD) & cpu.ne(BOS)
    u = torch.rand(cpu.shape, generator=generator)
    target = can & (u < mask_prob)
    if not target.any():
        target[can.nonzero()[0].unbind()] = True
    v = torch.rand(cpu.shape, generator=generator)
    rand_tok = torch.randint(n_special, mask_id, cpu.shape, generator=generator)
    inputs = cpu.clone()
    inputs[target & (v < 1 - leave_unmasked_prob - random_token_prob)] = mask_id
    swap = target & (v >= 1 - leave_unmasked_prob - random_token_prob) & (v < 1 - leave_unmasked_prob)
    inputs[swap] = rand_tok[swap]
    return inputs.to(tokens.device), target.to(tokens.device)


def write_fixture(root, relpath: str = WIKITEXT, n_lines: int = 300, seed: int = 0) -> Path:
    """A small file in the WikiText format (for the tests; never used by a figure): headings, paragraphs, blanks."""
    import random

    rng = random.Random(seed)
    words = "the of and in to a was is for on as with by he at from his an were are which this".split()
    words += [f"w{i}" for i in range(300)]
    lines = []
    for i in range(n_lines):
        if i % 20 == 0:
            lines += ["", f" = Heading {i // 20} = ", ""]
        lines.append(" " + " ".join(rng.choice(words) for _ in range(rng.randint(5, 120))) + " ")
    path = Path(root) / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
