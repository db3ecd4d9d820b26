"""The IMDB networks of the label-noise papers (catalogs ../shared/catalog/{gambler,volumization}.md). Both read
token ids [B, T] (int64, batch first; T = 200 with the fixed-length IMDB of repro.data.imdb.load_imdb_fixed) and
return logits [B, num_outputs]. Both run the LSTM over all T positions, padding included, as the authors' code does
(torchtext-legacy fixed-length batches, no packing), from zero initial states.

    LSTMGlove      gambler (Ziyin et al., "Learning Not to Learn in the Presence of Noisy Labels", arXiv only; catalog
                   "Setups", IMDB column): a frozen GloVe 6B-300d embedding over the vocabulary of the train split
                   (repro.data.glove.load_vectors), a 1-layer LSTM with hidden 256, Linear(256 -> m+1 = 3) on the last
                   hidden state h_T.
    LSTMAttention  volumization (Ziyin et al., "Volumization as a Natural Generalization of Weight Decay") "LSTMATT":
                   embedding(300) -> LSTM(256) -> dot-product attention of the outputs against the final hidden
                   state (weights softmax_t(o_t . h_T), context sum_t w_t o_t) -> Linear(256 -> 2).

Reading h_T of the padded sequence is what the catalogs specify ("the last hidden state", fix_length 200); its
consequence: the pad vector is 0 (GloVe) and at initialisation the forget gates are ~1/2, so what a review says
reaches h_T damped by the pad positions after it: at init the gradient reaching the LSTM's input weights from a
review falls ~1e-10 per 50 pad positions and is exactly 0 in float32 after ~150 (measured; a review shorter than
~50 whitespace tokens then gives the input weights no gradient). Long reviews (IMDB reviews average roughly 230
words, so many fill all 200 positions) carry the signal. The authors' training code is not in the catalog; if it
packed the sequences, this differs.

The embedding bug (catalog volumization, "Models"): the authors' LSTMATT calls
`self.word_embeddings.from_pretrained(vectors)` and discards the returned module, so the embedding stays nn.Embedding's
own N(0, 1) init and is trained; GloVe is never used. `embedding_bug=True` (default) reproduces that: the vectors, if
given, are ignored. `embedding_bug=False` does what the code meant: nn.Embedding.from_pretrained(vectors), which
freezes them (its default freeze=True).

Deviations from the authors' code:
- The authors' models are seq-first (they permute the batch); here batch_first=True (same computation).
- No padding_idx in either embedding, as in the authors' (torchtext-legacy) code: the <pad> row of LSTMATT is a random
  trainable vector, that of GloVe zeros (torchtext's unk_init).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LSTMGlove(nn.Module):
    def __init__(self, num_outputs: int = 3, vectors: torch.Tensor | None = None, hidden: int = 256):
        super().__init__()
        if vectors is None:
            raise ValueError("lstm_glove needs vectors=[vocab, 300] (repro.data.glove.load_vectors)")
        self.embed = nn.Embedding.from_pretrained(torch.as_tensor(vectors, dtype=torch.float32), freeze=True)
        self.lstm = nn.LSTM(self.embed.embedding_dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, num_outputs)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(self.embed(ids))
        return self.out(h[-1])


class LSTMAttention(nn.Module):
    def __init__(self, num_outputs: int = 2, vocab_size: int | None = None, vectors: torch.Tensor | None = None,
                 embed_dim: int = 300, hidden: int = 256, embedding_bug: bool = True):
        super().__init__()
        if vocab_size is None and vectors is None:
            raise ValueError("lstmatt needs vocab_size=... (or vectors=[vocab, dim])")
        if embedding_bug or vectors is None:
            if not embedding_bug:
                raise ValueError("lstmatt with embedding_bug=False needs vectors=[vocab, dim] to load")
            n = vocab_size if vocab_size is not None else len(vectors)
            self.embed = nn.Embedding(n, embed_dim)       # N(0, 1), trainable: the bug (vectors discarded)
        else:
            self.embed = nn.Embedding.from_pretrained(torch.as_tensor(vectors, dtype=torch.float32))
        self.lstm = nn.LSTM(self.embed.embedding_dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, num_outputs)

    @staticmethod
    def attend(outputs: torch.Tensor, final: torch.Tensor) -> torch.Tensor:
        """Context vector: outputs [B, T, H] weighted by softmax over t of outputs[:, t] . final [B, H]."""
        weights = F.softmax(torch.bmm(outputs, final.unsqueeze(2)).squeeze(2), dim=1)
        return torch.bmm(outputs.transpose(1, 2), weights.unsqueeze(2)).squeeze(2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        outputs, (h, _) = self.lstm(self.embed(ids))
        return self.out(self.attend(outputs, h[-1]))
