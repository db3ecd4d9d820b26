"""A compact transformer in plain torch.nn (no fairseq): the encoder-decoder of fairseq's `transformer_iwslt_de_en`
and the encoder-only masked LM of `roberta_base`, with fairseq's conventions where they change training (LaProp
fig=5/6, catalog laprop.md).

    Seq2Seq (fairseq `transformer`, used for IWSLT14 de-en)
        post-norm layers (normalize_before=False): x = LN(x + Dropout(Sublayer(x)))
        token embedding * sqrt(d) + sinusoidal positions (fairseq's: [sin | cos] halves, positions from pad+1)
        ReLU FFN; dropout after attention/FFN/embeddings; attention and activation dropout 0 (fairseq defaults)
        init: xavier_uniform for linears (q/k/v with gain 1/sqrt(2)), zero biases, embeddings N(0, d^-1/2)
        decoder output projection tied to the decoder input embedding (--share-decoder-input-output-embed)
    MaskedLM (fairseq `roberta`)
        post-norm layers, GELU FFN, learned positions (fairseq: padding_idx offset), LayerNorm on the embeddings
        LM head: dense -> GELU -> LayerNorm -> projection tied to the token embedding, + bias
        init: BERT's N(0, 0.02) for linears and embeddings, zero biases (fairseq init_bert_params)

Shapes are batch-first: tokens [B, T] int64, padding marked by `pad` ids.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class TransformerConfig:
    layers: int = 6               # encoder layers (and decoder layers for Seq2Seq, unless dec_layers is set)
    d_model: int = 512
    heads: int = 4
    ffn: int = 1024
    dropout: float = 0.3
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0
    dec_layers: int | None = None
    max_positions: int = 1024
    activation: str = "relu"      # relu (fairseq transformer) | gelu (roberta)


class MultiheadAttention(nn.Module):
    """Scaled dot-product attention with separate q/k/v/out projections (fairseq's parameterisation)."""

    def __init__(self, d: int, heads: int, dropout: float, bert_init: bool = False):
        super().__init__()
        assert d % heads == 0, "d_model must be divisible by heads"
        self.h, self.dropout = heads, dropout
        self.q, self.k, self.v, self.out = (nn.Linear(d, d) for _ in range(4))
        if not bert_init:
            for lin in (self.q, self.k, self.v):
                nn.init.xavier_uniform_(lin.weight, gain=1 / math.sqrt(2))
            nn.init.xavier_uniform_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x, memory=None, key_pad=None, causal=False):
        """x [B, T, d] attends to memory [B, S, d] (self-attention when None); key_pad [B, S] True at padding."""
        mem = x if memory is None else memory
        b, t, d = x.shape
        s = mem.shape[1]
        q = self.q(x).view(b, t, self.h, -1).transpose(1, 2)
        k = self.k(mem).view(b, s, self.h, -1).transpose(1, 2)
        v = self.v(mem).view(b, s, self.h, -1).transpose(1, 2)
        mask = None
        if key_pad is not None:
            mask = ~key_pad[:, None, None, :]                        # True = attend
        if causal:
            c = torch.ones(t, s, dtype=torch.bool, device=x.device).tril()
            mask = c if mask is None else mask & c
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    """One post-norm layer: self-attention, optional cross-attention (decoder), FFN."""

    def __init__(self, cfg: TransformerConfig, cross: bool = False, bert_init: bool = False):
        super().__init__()
        d = cfg.d_model
        self.cfg = cfg
        self.attn = MultiheadAttention(d, cfg.heads, cfg.attention_dropout, bert_init)
        self.ln_attn = nn.LayerNorm(d)
        self.cross = MultiheadAttention(d, cfg.heads, cfg.attention_dropout, bert_init) if cross else None
        self.ln_cross = nn.LayerNorm(d) if cross else None
        self.fc1, self.fc2 = nn.Linear(d, cfg.ffn), nn.Linear(cfg.ffn, d)
        self.ln_ffn = nn.LayerNorm(d)
        if not bert_init:
            for lin in (self.fc1, self.fc2):
                nn.init.xavier_uniform_(lin.weight)
                nn.init.zeros_(lin.bias)

    def forward(self, x, pad, memory=None, memory_pad=None, causal=False):
        drop = lambda y: F.dropout(y, self.cfg.dropout, self.training)  # noqa: E731
        x = self.ln_attn(x + drop(self.attn(x, key_pad=pad if not causal else None, causal=causal)))
        if self.cross is not None:
            x = self.ln_cross(x + drop(self.cross(x, memory, key_pad=memory_pad)))
        act = F.gelu if self.cfg.activation == "gelu" else F.relu
        h = F.dropout(act(self.fc1(x)), self.cfg.activation_dropout, self.training)
        return self.ln_ffn(x + drop(self.fc2(h)))


def sinusoidal_positions(n: int, d: int, pad: int) -> torch.Tensor:
    """fairseq's SinusoidalPositionalEmbedding table [n + pad + 1, d]: row pad is zero, positions start at pad + 1,
    the first d/2 columns are sines and the last d/2 cosines of pos * 10000^(-i/(d/2-1))."""
    half = d // 2
    freq = torch.exp(torch.arange(half, dtype=torch.float32) * -(math.log(10000.0) / (half - 1)))
    pos = torch.arange(n + pad + 1, dtype=torch.float32)[:, None] * freq[None]
    table = torch.cat([torch.sin(pos), torch.cos(pos)], dim=1)
    if d % 2:
        table = torch.cat([table, torch.zeros(len(table), 1)], dim=1)
    table[pad] = 0
    return table


def positions(tokens: torch.Tensor, pad: int) -> torch.Tensor:
    """fairseq's make_positions: pad + 1, pad + 2, ... at non-padding tokens, pad at padding."""
    nonpad = tokens.ne(pad).long()
    return torch.cumsum(nonpad, dim=1) * nonpad + pad


class Seq2Seq(nn.Module):
    """Encoder-decoder transformer (fairseq `transformer_iwslt_de_en` at its default sizes)."""

    def __init__(self, src_vocab: int, tgt_vocab: int, cfg: TransformerConfig, pad: int = 1):
        super().__init__()
        self.cfg, self.pad = cfg, pad
        d = cfg.d_model
        self.src_embed = nn.Embedding(src_vocab, d, padding_idx=pad)
        self.tgt_embed = nn.Embedding(tgt_vocab, d, padding_idx=pad)
        for emb in (self.src_embed, self.tgt_embed):
            nn.init.normal_(emb.weight, 0, d ** -0.5)
            emb.weight.data[pad].zero_()
        self.register_buffer("pos", sinusoidal_positions(cfg.max_positions, d, pad), persistent=False)
        self.encoder = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.decoder = nn.ModuleList(Block(cfg, cross=True) for _ in range(cfg.dec_layers or cfg.layers))

    def _embed(self, emb, tokens):
        x = emb(tokens) * math.sqrt(self.cfg.d_model) + self.pos[positions(tokens, self.pad)]
        return F.dropout(x, self.cfg.dropout, self.training)

    def forward(self, src: torch.Tensor, prev_tgt: torch.Tensor) -> torch.Tensor:
        """Logits [B, T, tgt_vocab] of the next target token after each of prev_tgt [B, T] (teacher forcing)."""
        src_pad = src.eq(self.pad)
        x = self._embed(self.src_embed, src)
        for block in self.encoder:
            x = block(x, src_pad)
        y = self._embed(self.tgt_embed, prev_tgt)
        for block in self.decoder:
            y = block(y, None, memory=x, memory_pad=src_pad, causal=True)
        return F.linear(y, self.tgt_embed.weight)   # shared decoder input-output embedding


class MaskedLM(nn.Module):
    """Encoder-only masked language model (fairseq `roberta_base` at its default sizes)."""

    def __init__(self, vocab: int, cfg: TransformerConfig, pad: int = 1):
        super().__init__()
        self.cfg, self.pad = cfg, pad
        d = cfg.d_model
        self.embed = nn.Embedding(vocab, d, padding_idx=pad)
        self.pos_embed = nn.Embedding(cfg.max_positions + pad + 1, d, padding_idx=pad)
        self.ln_embed = nn.LayerNorm(d)
        self.layers = nn.ModuleList(Block(cfg, bert_init=True) for _ in range(cfg.layers))
        self.head_dense = nn.Linear(d, d)
        self.head_ln = nn.LayerNorm(d)
        self.head_bias = nn.Parameter(torch.zeros(vocab))
        for m in self.modules():   # init_bert_params
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
            if isinstance(m, nn.Embedding) and m.padding_idx is not None:
                m.weight.data[m.padding_idx].zero_()

    def forward(self, tokens: torch.Tensor, only: torch.Tensor | None = None) -> torch.Tensor:
        """Logits [B, T, vocab], or [N, vocab] at the positions where the bool mask `only` is True (fairseq
        projects the masked positions only)."""
        pad = tokens.eq(self.pad)
        x = self.embed(tokens) + self.pos_embed(positions(tokens, self.pad))
        x = F.dropout(self.ln_embed(x), self.cfg.dropout, self.training)
        for block in self.layers:
            x = block(x, pad)
        if only is not None:
            x = x[only]
        x = self.head_ln(F.gelu(self.head_dense(x)))
        return F.linear(x, self.embed.weight) + self.head_bias


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
