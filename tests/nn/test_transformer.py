"""The compact transformer (repro/nn/transformer.py): fairseq's conventions where they change results."""
import math

import torch

from repro.nn.transformer import MaskedLM, Seq2Seq, TransformerConfig, count_parameters, positions, sinusoidal_positions

PAD = 1


def test_positions_skip_padding_and_start_after_pad():
    tokens = torch.tensor([[5, 6, 7, PAD], [8, PAD, PAD, PAD]])
    assert positions(tokens, PAD).tolist() == [[2, 3, 4, PAD], [2, PAD, PAD, PAD]]


def test_sinusoidal_table_is_fairseqs():
    d, pad = 8, PAD
    table = sinusoidal_positions(10, d, pad)
    assert torch.all(table[pad] == 0)
    half = d // 2
    freq = math.exp(-math.log(10000.0) / (half - 1))
    pos = 3
    assert math.isclose(table[pos, 1].item(), math.sin(pos * freq), rel_tol=1e-5)
    assert math.isclose(table[pos, half + 1].item(), math.cos(pos * freq), rel_tol=1e-5)


def test_decoder_is_causal_and_ignores_source_padding():
    torch.manual_seed(0)
    model = Seq2Seq(20, 20, TransformerConfig(layers=2, d_model=16, heads=2, ffn=32, dropout=0.0)).eval()
    src = torch.tensor([[4, 5, 6, 2]])
    prev = torch.tensor([[2, 7, 8, 9]])
    out = model(src, prev)
    changed = prev.clone()
    changed[0, 3] = 10                     # a later target token cannot change earlier outputs
    out2 = model(src, changed)
    assert torch.allclose(out[0, :3], out2[0, :3], atol=1e-6) and not torch.allclose(out[0, 3], out2[0, 3])
    padded = torch.tensor([[4, 5, 6, 2, PAD, PAD]])   # padding the source changes nothing
    assert torch.allclose(model(padded, prev), out, atol=1e-5)


def test_iwslt_size_matches_fairseq_transformer_iwslt_de_en():
    """Parameter count of transformer_iwslt_de_en with shared decoder in/out embeddings and vocabularies V_s, V_t:
    encoder layer 4(d^2+d) + 2 d f + f + d + 2*2d; decoder adds cross-attention 4(d^2+d) + 2d;
    embeddings (V_s + V_t) d."""
    d, f, vs, vt = 512, 1024, 40, 48
    model = Seq2Seq(vs, vt, TransformerConfig(layers=6, d_model=d, heads=4, ffn=f))
    enc = 4 * (d * d + d) + 2 * d * f + f + d + 4 * d
    dec = enc + 4 * (d * d + d) + 2 * d
    assert count_parameters(model) == 6 * enc + 6 * dec + (vs + vt) * d


def test_masked_lm_projects_only_the_requested_positions_with_a_tied_head():
    torch.manual_seed(0)
    model = MaskedLM(30, TransformerConfig(layers=2, d_model=16, heads=2, ffn=32, dropout=0.0, max_positions=8,
                                           activation="gelu")).eval()
    tokens = torch.tensor([[0, 5, 6, 7, 2, PAD]])
    full = model(tokens)
    only = torch.tensor([[False, True, False, True, False, False]])
    assert full.shape == (1, 6, 30)
    assert torch.allclose(model(tokens, only=only), full[only], atol=1e-6)
    assert model.embed.weight.abs().max() < 0.2   # BERT init N(0, 0.02)
    grads = torch.autograd.grad(model(tokens, only=only).sum(), model.embed.weight)[0]
    assert grads[29].abs().sum() > 0   # a token absent from the input still gets a gradient: the head is tied
