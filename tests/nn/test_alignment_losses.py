"""meta_alignment alignment losses (repro/nn/alignment_losses.py): eq 2 as printed vs the normalised form, the code's
tri and cos, InfoNCE, on small tensors with hand-computed values."""
import pytest
import torch

from repro.nn.alignment_losses import (alignment_loss, cos_alignment_loss, eq2_alignment_loss,
                                       infonce_alignment_loss, tri_alignment_loss)

ZS = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
ZT = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
IDS = torch.arange(2)


def test_eq2_as_printed_by_hand():
    # scores: s0.t0 = 2, s0.t1 = 1, s1.t0 = 0, s1.t1 = 2 -> item 0: -2 + 1, item 1: -2 + 0 -> mean -1.5
    assert eq2_alignment_loss(ZS, ZT, IDS, IDS) == pytest.approx(-1.5)


def test_eq2_unnormalised_is_unbounded_but_nce_is_scale_free():
    for c in (1.0, 10.0, 100.0):
        assert eq2_alignment_loss(c * ZS, c * ZT, IDS, IDS) == pytest.approx(-1.5 * c * c)
        assert alignment_loss("nce", c * ZS, c * ZT, IDS, IDS) == pytest.approx(
            float(eq2_alignment_loss(ZS, ZT, IDS, IDS, normalize=True)))
    # normalised: item 0: -1 + 1/sqrt2, item 1: -1/sqrt2 + 0
    assert float(eq2_alignment_loss(ZS, ZT, IDS, IDS, normalize=True)) == pytest.approx(-0.5)


def test_eq2_weak_pairs_average_positives_and_sum_negatives():
    zs = torch.tensor([[1.0, 0.0]])
    zt = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.5, 0.0]])
    # cluster 0 on both sides for the first two target items: -(1 + 3)/2 + 0.5
    got = eq2_alignment_loss(zs, zt, torch.tensor([0]), torch.tensor([0, 0, 1]))
    assert float(got) == pytest.approx(-1.5)
    with pytest.raises(ValueError):
        eq2_alignment_loss(zs, zt, torch.tensor([5]), torch.tensor([0, 0, 1]))


def test_tri_matches_the_code_formula_with_the_diagonal_constant():
    zs, zt = torch.eye(2), torch.eye(2)
    # M = I: off-diagonal max(0, m + 0 - 1) = 0 for m = 0.5, diagonal m each -> 2 * 0.5 / 2
    assert float(tri_alignment_loss(zs, zt, IDS, IDS, margin=0.5)) == pytest.approx(0.5)
    swapped = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    # M = swapped: off-diagonal 0.5 + 1 - 0 = 1.5 (twice), diagonal 0.5 + 0 - 0 (twice) -> (3 + 1) / 2
    assert float(tri_alignment_loss(zs, swapped, IDS, IDS, margin=0.5)) == pytest.approx(2.0)


def test_cos_and_infonce():
    assert float(cos_alignment_loss(ZS, ZS)) == pytest.approx(0.0, abs=1e-6)
    assert float(cos_alignment_loss(ZS, -ZS)) == pytest.approx(2.0)
    good = infonce_alignment_loss(torch.eye(3), torch.eye(3), torch.arange(3), torch.arange(3), 0.1)
    bad = infonce_alignment_loss(torch.eye(3), torch.eye(3)[[1, 2, 0]], torch.arange(3), torch.arange(3), 0.1)
    assert float(good) < 1e-3 < float(bad)


def test_unknown_loss_name():
    with pytest.raises(ValueError, match="align_loss must be one of"):
        alignment_loss("hinge", ZS, ZT, IDS, IDS)


def test_eq2_normalised_prefers_the_anti_parallel_collapse_and_tri_does_not():
    """Why the fig=T1 panels use align_loss=tri: eq 2's negative sum makes 'all sources on +u, all targets on -u'
    (loss 2 - B) better than a perfect one-to-one alignment (about -1); tri ranks them the right way round."""
    import torch

    from repro.nn.alignment_losses import alignment_loss

    b, d = 8, 8
    ids = torch.arange(b)
    perfect = torch.eye(b, d)                      # each pair on its own axis, pairs orthogonal
    u = torch.zeros(1, d)
    u[0, 0] = 1.0
    collapse_s, collapse_t = u.repeat(b, 1), -u.repeat(b, 1)
    nce_perfect = float(alignment_loss("nce", perfect, perfect, ids, ids))
    nce_collapse = float(alignment_loss("nce", collapse_s, collapse_t, ids, ids))
    assert abs(nce_perfect + 1) < 1e-6 and abs(nce_collapse - (2 - b)) < 1e-6 and nce_collapse < nce_perfect
    assert float(alignment_loss("tri", perfect, perfect, ids, ids, margin=0.1)) < \
        float(alignment_loss("tri", collapse_s, collapse_t, ids, ids, margin=0.1))
