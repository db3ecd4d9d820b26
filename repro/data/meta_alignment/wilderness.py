"""meta_alignment (arXiv 2012.02813) text->speech: CMU Wilderness language identification from data_dir.

The audio must be re-crawled with the festvox CMU Wilderness scripts (catalog), so the on-disk layout is ours
[reconstructed]: one folder per language, each utterance a verse's text and its speech with the same stem,

    <data_dir>/wilderness/<language>/<utt>.txt    the verse text (UTF-8, one line)
    <data_dir>/wilderness/<language>/<utt>.wav    its speech (mono PCM WAV)

Text is tokenised into lower-cased words (the word-embedding BiLSTM, xmodal SimpleLSTM); speech becomes 40-d log
mel filterbank frames (audio.speech_frames; xmodal SpeechEncoder's input). Languages split 0.8 / 0.1 / 0.1 by a
seeded permutation (paper: 79 / 9 / 10 of 99). Missing -> DataMissing; a text without its WAV -> DataInvalid.

`load(data_dir, cache_dir=None, **kw) -> CrossModalData` (what meta_alignment.fewshot reads as dataset=wilderness):
- source x_s = the verse's word ids (vocabulary over every utterance's text, `min_count`; 0 = padding, 1 = unknown),
  cut to `max_words` (64) and zero-padded -> [N, L]; source_spec `tokens` (embedding 256, bidirectional): the
  paper's BiLSTM text encoder (embedding 256, 1 layer, hidden = the run's `hidden`, 256). The vocabulary covers
  the meta-test languages' texts too (text carries no label; retrieval, fig=6/11, encodes meta-test texts).
- target x_t = 40-d log mel filterbank frames (audio.speech_frames), each utterance normalised per channel to mean
  0 / std 1 (per-utterance CMVN, a standard speech choice the paper does not state [reconstructed]), cut to
  `max_frames` (1000 = 10 s) and zero-padded -> [N, T, 40]; target_spec `sequence` with 2 layers: the paper's
  2-layer speech LSTM. Padding steps are run through the LSTMs (max-pooled over time like the code's per-batch
  zero padding). No pretrained network: the paper's encoders train from scratch on these inputs.
- strong pairs: a verse's text and its speech (pair_t = arange); y_s = y_t = the language (index into the sorted
  language folders); classes per split from language_split (`split_seed`).
- cached per process and, with cache_dir (ctx.cache_dir), on disk (feature_cache.py). Rows: data=real,
  dataset=wilderness.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from repro.data.download import DataInvalid, DataMissing, resolve_data_dir
from repro.data.episodes import CrossModalData

ROOT = "wilderness"
TEXT_EMBED = 256           # the paper's text embedding size (Table 5)


@dataclass
class Utterance:
    language: str
    text: str
    wav: Path


def load_wilderness(data_dir, min_utterances: int = 1) -> dict[str, list[Utterance]]:
    """language -> its utterances (sorted by stem)."""
    root = resolve_data_dir(data_dir) / ROOT
    if not root.is_dir():
        raise DataMissing(f"missing CMU Wilderness: re-crawl it with the festvox scripts "
                          f"(github.com/festvox/datasets-CMU_Wilderness) and put <language>/<utt>.txt + <utt>.wav "
                          f"under {root}, or set data_dir=...")
    out = {}
    for lang in sorted(p for p in root.iterdir() if p.is_dir()):
        utts = []
        for txt in sorted(lang.glob("*.txt")):
            wav = txt.with_suffix(".wav")
            if not wav.exists():
                raise DataInvalid(f"{txt}: no speech file {wav.name} beside it")
            utts.append(Utterance(lang.name, txt.read_text(encoding="utf-8").strip(), wav))
        if len(utts) >= min_utterances:
            out[lang.name] = utts
    if not out:
        raise DataMissing(f"no language folders with <utt>.txt + <utt>.wav under {root}")
    return out


def language_split(languages, seed: int = 0, fractions=(0.8, 0.1, 0.1)) -> dict[str, list[str]]:
    """Seeded split of the languages: int(0.8 n) train, int(0.1 n) val, the rest test (99 -> 79 / 9 / 11; the
    paper's 79 / 9 / 10 sums to 98)."""
    langs = sorted(languages)
    order = [langs[i] for i in np.random.default_rng(seed).permutation(len(langs))]
    n_train, n_val = int(fractions[0] * len(langs)), int(fractions[1] * len(langs))
    return {"train": order[:n_train], "val": order[n_train:n_train + n_val], "test": order[n_train + n_val:]}


def words(text: str) -> list[str]:
    return text.lower().split()


def build_vocab(utterances, min_count: int = 1) -> dict[str, int]:
    """word -> id (0 = padding, 1 = unknown), over the given utterances' texts."""
    counts: dict[str, int] = {}
    for u in utterances:
        for w in words(u.text):
            counts[w] = counts.get(w, 0) + 1
    vocab = {"<pad>": 0, "<unk>": 1}
    for w in sorted(counts):
        if counts[w] >= min_count:
            vocab[w] = len(vocab)
    return vocab


def encode_text(text: str, vocab: dict[str, int]) -> torch.Tensor:
    return torch.tensor([vocab.get(w, 1) for w in words(text)] or [1], dtype=torch.long)


def speech(u: Utterance) -> torch.Tensor:
    """[frames, 40] log mel filterbank frames of an utterance."""
    from repro.data.meta_alignment.audio import read_wav, speech_frames

    samples, rate = read_wav(u.wav)
    return speech_frames(samples, rate)


def _cmvn(frames: torch.Tensor) -> torch.Tensor:
    """Per-utterance mean and variance normalisation of each filterbank channel."""
    return (frames - frames.mean(0)) / (frames.std(0, unbiased=False) + 1e-5)


def load(data_dir, cache_dir=None, split_seed: int = 0, min_utterances: int = 1, max_words: int = 64,
         max_frames: int = 1000, min_count: int = 1) -> CrossModalData:
    """The text->speech family as repro.data.episodes.CrossModalData (module doc, "load")."""
    from repro.data.meta_alignment.feature_cache import cached

    kw = dict(split_seed=split_seed, min_utterances=min_utterances, max_words=max_words, max_frames=max_frames,
              min_count=min_count)

    def build() -> CrossModalData:
        by_lang = load_wilderness(data_dir, min_utterances=min_utterances)
        langs = sorted(by_lang)
        utts = [u for lang in langs for u in by_lang[lang]]
        vocab = build_vocab(utts, min_count=min_count)
        tokens = [encode_text(u.text, vocab)[:int(max_words)] for u in utts]
        frames = [_cmvn(speech(u))[:int(max_frames)] for u in utts]
        x_s = torch.zeros(len(utts), max(len(t) for t in tokens), dtype=torch.long)     # 0 = <pad>
        x_t = torch.zeros(len(utts), max(len(f) for f in frames), frames[0].shape[1])
        for i, (t, f) in enumerate(zip(tokens, frames)):
            x_s[i, :len(t)] = t
            x_t[i, :len(f)] = f
        y = torch.as_tensor([langs.index(u.language) for u in utts], dtype=torch.int64)
        split = language_split(langs, seed=split_seed)
        classes = {f"meta_{k}": sorted(langs.index(lang) for lang in split[k]) for k in ("train", "val", "test")}
        return CrossModalData(
            name="wilderness", data="real", strength="strong", x_s=x_s, y_s=y, x_t=x_t, y_t=y.clone(),
            classes=classes, pair_t=torch.arange(len(y)),
            source_spec={"kind": "tokens", "vocab": len(vocab), "embed": TEXT_EMBED, "bidirectional": True},
            target_spec={"kind": "sequence", "dim": x_t.shape[2], "layers": 2},
            class_names=dict(enumerate(langs)), dataset="wilderness")

    return cached("wilderness", data_dir, cache_dir, kw, [resolve_data_dir(data_dir) / ROOT], build)
