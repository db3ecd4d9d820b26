"""meta_alignment (arXiv 2012.02813): audio front-ends for the real image->audio (ESC-50) and text->speech
(Wilderness) families: PCM WAV reading (scipy), log-mel spectrograms for the audio CNN, and 40-d log mel
filterbank frames for the speech LSTM (the paper's "input dim 40", xmodal's SpeechEncoder).

torchaudio is not a dependency: the mel filterbank is the HTK formula (mel = 2595 log10(1 + f/700)), triangular
filters on the power spectrum of a Hann-windowed STFT. Settings (25 ms window, 10 ms hop, 40 mels for speech;
1024 / 512 / 128 mels for ESC-50 spectrograms) are standard choices, not the paper's (it does not state them)
[reconstructed].
"""
from __future__ import annotations

import numpy as np
import torch

from repro.data.download import DataInvalid


def read_wav(path) -> tuple[np.ndarray, int]:
    """(mono float32 samples in [-1, 1], sample rate) of a PCM WAV; DataInvalid (one line) if unreadable."""
    from scipy.io import wavfile

    try:
        rate, data = wavfile.read(path)
    except (ValueError, OSError) as e:
        raise DataInvalid(f"{path}: not a readable WAV file ({e})") from None
    if data.dtype.kind == "i":
        data = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
    elif data.dtype.kind == "u":
        data = (data.astype(np.float32) - 128.0) / 128.0
    data = data.astype(np.float32)
    if data.ndim == 2:
        data = data.mean(axis=1)
    if data.size == 0:
        raise DataInvalid(f"{path}: empty WAV file")
    return data, int(rate)


def mel_filterbank(n_mels: int, n_fft: int, rate: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """[n_mels, n_fft // 2 + 1] triangular filters, equally spaced on the HTK mel scale."""
    fmax = fmax or rate / 2
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)          # noqa: E731
    hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)           # noqa: E731
    edges = hz(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lo) / np.maximum(mid - lo, 1e-9)
    down = (hi - freqs[None]) / np.maximum(hi - mid, 1e-9)
    return np.maximum(0.0, np.minimum(up, down)).astype(np.float32)


def log_mel(samples: np.ndarray, rate: int, n_mels: int, win_s: float, hop_s: float) -> torch.Tensor:
    """[frames, n_mels] log(mel power + 1e-6)."""
    win, hop = int(round(win_s * rate)), int(round(hop_s * rate))
    n_fft = 1 << (win - 1).bit_length()
    x = torch.from_numpy(samples)
    if len(x) < n_fft:
        x = torch.nn.functional.pad(x, (0, n_fft - len(x)))
    spec = torch.stft(x, n_fft, hop_length=hop, win_length=win, window=torch.hann_window(win), center=True,
                      return_complex=True).abs() ** 2                      # [freq, frames]
    fb = torch.from_numpy(mel_filterbank(n_mels, n_fft, rate))
    return torch.log(fb @ spec + 1e-6).T.contiguous()


def speech_frames(samples: np.ndarray, rate: int) -> torch.Tensor:
    """40-d log mel filterbank frames, 25 ms window, 10 ms hop (the speech encoder's input)."""
    return log_mel(samples, rate, 40, 0.025, 0.010)


def esc_spectrogram(samples: np.ndarray, rate: int, n_mels: int = 128) -> torch.Tensor:
    """[1, n_mels, frames] log-mel image of a clip for the audio CNN."""
    return log_mel(samples, rate, n_mels, 1024 / 44100, 512 / 44100).T.unsqueeze(0)
