"""meta_alignment (arXiv 2012.02813) text->speech: CMU Wilderness language identification from data_dir.

The audio must be re-crawled with the festvox CMU Wilderness scripts (catalog), so the on-disk layout is ours
[reconstructed]: one folder per language, each utterance a verse's text and its speech with the same stem,

    <data_dir>/wilderness/<language>/<utt>.txt    the verse text (UTF-8, one line)
    <data_dir>/wilderness/<language>/<utt>.wav    its speech (mono PCM WAV)

Text is tokenised into lower-cased words (the word-embedding BiLSTM, xmodal SimpleLSTM); speech becomes 40-d log
mel filterbank frames (audio.speech_frames; xmodal SpeechEncoder's input). Languages split 0.8 / 0.1 / 0.1 by a
seeded permutation (paper: 79 / 9 / 10 of 99). Missing -> DataMissing; a text without its WAV -> DataInvalid.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from repro.data.download import DataInvalid, DataMissing, resolve_data_dir

ROOT = "wilderness"


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
