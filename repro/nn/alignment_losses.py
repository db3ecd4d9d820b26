"""Cross-modal alignment losses of CroMA (Liang, Wu, Ziyin, Morency & Salakhutdinov, "Cross-Modal Generalization:
Learning in Low Resource Modalities via Meta-Alignment", arXiv 2012.02813; catalog meta_alignment.md, Method and
Open question 2). Every loss takes source embeddings zs [B, d], target embeddings zt [B', d] and the pairing:

    pair_s [B], pair_t [B']   positive iff pair_s[i] == pair_t[j]. Strong pairs: pair_s = pair_t = arange(B) (one
                              partner each); weak pairs (concept clusters): the cluster id, so every x_t of the same
                              set is a positive of x_s and the items of the other sets in the batch are its negatives.

- `eq2_alignment_loss(..., normalize=False)`: the paper's eq 2 as printed,
      L = sum_i ( -e_s(x_s^i)^T e_t(x_t^i) + sum_{j negative} e_s(x_s^i)^T e_t(x_t^j) ),
  linear in the scores. Unnormalised it is unbounded below (scaling the embeddings by c scales L by c), so the
  runner's `nce` is eq 2 on L2-normalised embeddings (normalize=True), the catalog's well-posed form. With weak
  pairs the positive term is the mean score over the positives of x_s^i. The sum over i is a mean over the batch
  (a constant factor: the learning rate's business).
- `infonce_alignment_loss`: the log-sum-exp contrastive form (NCE with negative sampling written as a softmax over
  the batch, temperature tau, several positives allowed), symmetric over the two directions; offered as the
  standard well-posed reading of "NCE" (align_loss=infonce), not the default.
- `tri_alignment_loss`: the official code's `tri` loss (xmodal models.py): class centroids of the normalised
  embeddings per pair id, M_ab = u_a . v_b, L = (1/B) sum_{a,b} max(0, m + M_ab - M_bb). The a = b terms add the
  constant m each (kept, as in the code: Open question 12).
- `cos_alignment_loss`: the code's `cos`: 1 - mean_i cos(zt_i, zs_i) (strong pairs, same order).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("eq2", "nce", "infonce", "tri", "cos")


def positive_mask(pair_s: torch.Tensor, pair_t: torch.Tensor) -> torch.Tensor:
    """[B, B'] bool: source item i and target item j are a (strong or weak) pair."""
    return pair_s[:, None] == pair_t[None, :]


def eq2_alignment_loss(zs, zt, pair_s, pair_t, normalize: bool = False) -> torch.Tensor:
    """Eq 2 (see module doc): mean over source items of -(mean positive score) + (sum of negative scores)."""
    if normalize:
        zs, zt = F.normalize(zs, dim=-1), F.normalize(zt, dim=-1)
    scores = zs @ zt.T
    pos = positive_mask(pair_s, pair_t).to(scores.dtype)
    n_pos = pos.sum(1)
    if bool((n_pos == 0).any()):
        raise ValueError("eq2_alignment_loss: a source item has no positive in the batch")
    per_item = -(scores * pos).sum(1) / n_pos + (scores * (1 - pos)).sum(1)
    return per_item.mean()


def infonce_alignment_loss(zs, zt, pair_s, pair_t, temperature: float = 0.1) -> torch.Tensor:
    """Symmetric multi-positive InfoNCE on cosine scores / temperature: -log(sum_pos exp / sum_all exp), both ways."""
    scores = F.normalize(zs, dim=-1) @ F.normalize(zt, dim=-1).T / temperature
    pos = positive_mask(pair_s, pair_t)
    neg_inf = torch.finfo(scores.dtype).min
    s2t = torch.logsumexp(scores, 1) - torch.logsumexp(scores.masked_fill(~pos, neg_inf), 1)
    t2s = torch.logsumexp(scores.T, 1) - torch.logsumexp(scores.T.masked_fill(~pos.T, neg_inf), 1)
    return 0.5 * (s2t.mean() + t2s.mean())


def tri_alignment_loss(zs, zt, pair_s, pair_t, margin: float = 0.5) -> torch.Tensor:
    """The code's class-centroid triplet hinge; u from the target side, v from the source side (xmodal's order)."""
    u, v = F.normalize(zt, dim=-1), F.normalize(zs, dim=-1)
    ids = torch.unique(torch.cat([pair_s, pair_t]))
    onehot_t = (pair_t[None, :] == ids[:, None]).to(u.dtype)
    onehot_s = (pair_s[None, :] == ids[:, None]).to(v.dtype)
    if bool((onehot_t.sum(1) == 0).any() or (onehot_s.sum(1) == 0).any()):
        raise ValueError("tri_alignment_loss: every pair id needs items on both sides")
    u_bar = onehot_t @ u / onehot_t.sum(1, keepdim=True)      # class means, not renormalised (as in the code)
    v_bar = onehot_s @ v / onehot_s.sum(1, keepdim=True)
    m = u_bar @ v_bar.T
    hinge = (margin + m - m.diagonal()[None, :]).clamp_min(0)
    return hinge.sum() / zs.shape[0]


def cos_alignment_loss(zs, zt, pair_s=None, pair_t=None) -> torch.Tensor:
    """1 - mean cosine of row-aligned pairs (the code's `cos`; strong pairs given in the same order)."""
    if zs.shape != zt.shape:
        raise ValueError("cos_alignment_loss needs row-aligned strong pairs")
    return 1 - F.cosine_similarity(zt, zs, dim=-1).mean()


def alignment_loss(name: str, zs, zt, pair_s, pair_t, *, margin: float = 0.1, temperature: float = 0.1):
    """Dispatch by the runner's align_loss name (LOSSES)."""
    if name == "eq2":
        return eq2_alignment_loss(zs, zt, pair_s, pair_t, normalize=False)
    if name == "nce":
        return eq2_alignment_loss(zs, zt, pair_s, pair_t, normalize=True)
    if name == "infonce":
        return infonce_alignment_loss(zs, zt, pair_s, pair_t, temperature)
    if name == "tri":
        return tri_alignment_loss(zs, zt, pair_s, pair_t, margin)
    if name == "cos":
        return cos_alignment_loss(zs, zt)
    raise ValueError(f"align_loss must be one of {', '.join(LOSSES)}, not {name!r}")
