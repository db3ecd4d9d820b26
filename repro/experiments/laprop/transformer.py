"""LaProp fig=5 (iwslt) and fig=6 (roberta): transformers trained with Adam / LaProp, with and without warmup, in
our own compact transformer (repro/nn/transformer.py, no fairseq), and the authors' released training curves
(catalog laprop.md; reference CSV via repro/data/reference.py).

Shared recipe (the authors' fairseq commands): fairseq's polynomial_decay schedule (linear warmup over
`warmup_updates` when warmup is on, then linear decay from lr to 0 at `total_num_update`), no gradient clipping,
losses per update in bits (base 2), and rows per non-overlapping window of `window` updates, as in the reference
CSV: `train_loss_bits` (mean of the per-update losses in the window) and `grad_norm_max` (largest total gradient
L2 norm in the window), at step = the window's last update. A run stops at the first non-finite loss.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from repro.experiments.registry import experiment
from repro.optim import make_optimizer
from repro.optim.fused import fused_pays_on
from repro.train import endless_batches, fit

LN2 = math.log(2.0)


def poly_lr(update: int, peak: float, warmup_updates: int, total: int, end: float = 0.0, power: float = 1.0) -> float:
    """fairseq's PolynomialDecaySchedule: the lr of update number `update` (1-based). fairseq sets the lr for the
    next update from the count of updates done, so update 1 runs at peak/warmup (warmup) or peak (no warmup)."""
    done = update - 1
    if warmup_updates > 0 and done <= warmup_updates:
        return peak * max(done, 1) / warmup_updates
    if done >= total:
        return end
    frac = 1 - (done - warmup_updates) / (total - warmup_updates)
    return (peak - end) * frac ** power + end


def _cols(p) -> dict:
    warm = bool(p["warmup"])
    run = f"{p['optimizer']} nu={p['beta2']:g}, " + ("warmup" if warm else "no warmup")
    return {"optimizer": p["optimizer"], "beta2": p["beta2"], "warmup": warm, "run": run}


def _optimizer(p, params):
    """The authors' fairseq optimizers: Adam (fairseq's: eps before bias correction, decoupled wd * lr) with its
    eps, or LaProp (the fairseq copy's decoupled wd * lr) with its own eps; betas (0.9, beta2)."""
    name = p["optimizer"]
    kw = dict(lr=p["lr"], betas=(p.get("beta1", 0.9), p["beta2"]), eps=p["eps"][name],
              weight_decay=p.get("weight_decay", 0.0), weight_decay_mode="decoupled_lr")
    if name == "adam":
        kw["eps_placement"] = "before_bias_correction"
    elif name == "laprop":
        params = list(params)
        kw["fused"] = bool(p.get("fused", False)) and fused_pays_on(params)   # eager foreach on CUDA (faster)
    else:
        raise ValueError(f"unknown optimizer {name!r}; choose adam or laprop")
    return make_optimizer(name, params, **kw)


def _train(p, ctx, model, opt, loss_fn):
    """The update loop shared by both figures: loss_fn(update) gives the loss of that update (or yields the losses
    of its micro-batches), normalised; yields the window rows."""
    cols = _cols(p)
    warmup_updates = p["warmup_updates"] if p["warmup"] else 0
    max_update = min(p["max_update"], p.get("max_steps") or p["max_update"])
    window = p["window"]
    first_below = {float(b): math.nan for b in p.get("thresholds", [])}
    loss_sum, grad_max, n = 0.0, 0.0, 0

    def on_step(state, update):
        nonlocal loss_sum, grad_max, n
        loss_sum += state.loss.item()
        grad_max = max(grad_max, state.grad_norm.item())
        n += 1
        if update % window == 0 or update == max_update:
            value = loss_sum / n
            yield {"step": update, "metric": "train_loss_bits", "value": value, **cols}
            yield {"step": update, "metric": "grad_norm_max", "value": grad_max, **cols}
            loss_sum, grad_max, n = 0.0, 0.0, 0
            for b in first_below:
                if math.isnan(first_below[b]) and value < b:
                    first_below[b] = float(update)
            state.stop = not math.isfinite(value)

    yield from fit(opt, loss_fn, lambda epoch: ctx.progress(range(1, max_update + 1), total=max_update, desc="updates"),
                   ctx=ctx, clip_norm=math.inf,   # --clip-norm 0: the norm is measured, never clipped
                   lr_at=lambda update: poly_lr(update, p["lr"], warmup_updates, p["total_num_update"]),
                   on_step=on_step)
    yield from _crossing_rows(first_below, cols)


def _crossing_rows(first_below: dict, cols: dict):
    """Summary rows: the update of the first window whose mean loss is below each threshold (NaN: never)."""
    for b, update in first_below.items():
        yield {"metric": "first_update_below", "value": update, "threshold": b, **cols}


@experiment("laprop.iwslt", device="any")
def iwslt(p, ctx):
    """fig=5: encoder-decoder transformer (fairseq transformer_iwslt_de_en sizes at full scale) on IWSLT14 de-en
    (dataset=iwslt14: the prepare-iwslt14.sh files from data_dir, repro/data/iwslt.py) or on the synthetic reverse
    task (dataset=reverse). Label-smoothed cross-entropy (fairseq's, = torch's label_smoothing) over the target
    tokens, per update in bits; batches of at most max_tokens tokens, reshuffled every epoch."""
    from repro.data.iwslt import PAD, collate, token_batches, translation_task
    from repro.nn.transformer import Seq2Seq, TransformerConfig

    device = ctx.device
    src, tgt, src_vocab, tgt_vocab, data = translation_task(p, ctx.data_dir, ctx.cpu_generator("data_set"))
    cfg = TransformerConfig(layers=p["layers"], d_model=p["d_model"], heads=p["heads"], ffn=p["ffn"],
                            dropout=p["dropout"], activation="relu")
    torch.manual_seed(ctx.seed_for("init"))   # nn.Linear / nn.Embedding init draws from the global generator
    model = Seq2Seq(src_vocab, tgt_vocab, cfg, pad=PAD).to(device)
    model.train()
    opt = _optimizer(p, model.parameters())
    order_gen, drop_seed = ctx.cpu_generator("data"), ctx.seed_for("dropout")
    src_lens = [len(s) for s in src]
    tgt_lens = [len(t) for t in tgt]
    torch.manual_seed(drop_seed)
    batches: list = []

    def loss_fn(update):
        nonlocal batches
        if not batches:
            batches = token_batches(src_lens, tgt_lens, p["max_tokens"], order_gen)
        idx = batches.pop().tolist()
        s, prev, t = (x.to(device) for x in collate([src[i] for i in idx], [tgt[i] for i in idx]))
        logits = model(s, prev)
        return F.cross_entropy(logits.float().flatten(0, 1), t.flatten(), ignore_index=PAD,
                               label_smoothing=p["label_smoothing"]) / LN2

    for row in _train(p, ctx, model, opt, loss_fn):
        yield {**row, "data": data}


@experiment("laprop.roberta", device="any")
def roberta(p, ctx):
    """fig=6: encoder-only masked LM (fairseq roberta_base sizes at full scale) on WikiText-103-format text
    (dataset=wikitext: repro/data/text_lm.py, `text_file` under data_dir) or on synthetic Zipf tokens
    (dataset=zipf). BERT masking (15%; 80/10/10), cross-entropy over the masked positions in bits. An update sums
    `update_freq` micro-batches of `batch_size` blocks and divides by their masked-token count (fairseq's
    gradient accumulation with sample_size = masked tokens)."""
    from repro.data.iwslt import PAD
    from repro.data.text_lm import load_text_blocks, mask_tokens, synthetic_zipf
    from repro.nn.transformer import MaskedLM, TransformerConfig

    device = ctx.device
    if p["dataset"] == "wikitext":
        blocks, vocab = load_text_blocks(ctx.data_dir, p["text_file"], p["vocab_size"], p["tokens_per_sample"],
                                         max_lines=p.get("max_lines"))
        vocab_size, data = len(vocab), "real"
    elif p["dataset"] == "zipf":
        blocks = synthetic_zipf(p["n_train"], p["tokens_per_sample"], p["vocab_size"], ctx.cpu_generator("data_set"))
        vocab_size, data = p["vocab_size"], "synthetic"
    else:
        raise ValueError(f"unknown dataset {p['dataset']!r}; choose wikitext or zipf")
    mask_id = vocab_size - 1
    cfg = TransformerConfig(layers=p["layers"], d_model=p["d_model"], heads=p["heads"], ffn=p["ffn"],
                            dropout=p["dropout"], attention_dropout=p["attention_dropout"],
                            max_positions=p["tokens_per_sample"], activation="gelu")
    torch.manual_seed(ctx.seed_for("init"))
    model = MaskedLM(vocab_size, cfg, pad=PAD).to(device)
    model.train()
    opt = _optimizer(p, model.parameters())
    mask_gen = ctx.cpu_generator("mask")
    # batch_size blocks at a time, a new random order when fewer remain (the rest of an epoch is skipped)
    block_batches = endless_batches(len(blocks), p["batch_size"], ctx.cpu_generator("data"), drop_last=True)
    torch.manual_seed(ctx.seed_for("dropout"))

    def loss_fn(update):
        """The masked-token loss of each of the update's micro-batches (gradient accumulation): the orders and masks
        of all of them are drawn first, to know the update's masked-token count."""
        micro = []
        for _ in range(p["update_freq"]):
            tokens = blocks[next(block_batches)].long()
            micro.append((*mask_tokens(tokens, vocab_size, mask_id, mask_gen), tokens))
        n_masked = sum(int(m.sum()) for _, m, _ in micro)
        for inputs, target, tokens in micro:
            inputs, target, tokens = inputs.to(device), target.to(device), tokens.to(device)
            logits = model(inputs, only=target)
            yield F.cross_entropy(logits.float(), tokens[target], reduction="sum") / (n_masked * LN2)

    for row in _train(p, ctx, model, opt, loss_fn):
        yield {**row, "data": data}


@experiment("laprop.reference_transformer")
def reference_transformer(p, ctx):
    """The authors' training curves of fig=5/6 (transformer_train_loss.csv, task=`task`) as rows: per run and
    window, train_loss_bits (the CSV's train_loss_bits_mean) and grad_norm_max at step = update, with the same
    optimizer / beta2 / warmup / run columns as the experiment rows (so that the curves overlay)."""
    from repro.data.reference import load_laprop_reference

    df = load_laprop_reference("transformer_train_loss")
    df = df[df["task"] == p["task"]]
    if not len(df):
        raise ValueError(f"no reference rows for task {p['task']!r}")
    for (opt, beta2, warmup), run in df.groupby(["optimizer", "beta2", "warmup"], sort=False):
        cols = _cols({"optimizer": opt, "beta2": float(beta2), "warmup": bool(warmup)})
        cols.update(task=p["task"], data="real")
        first_below = {float(b): math.nan for b in p.get("thresholds", [])}
        for r in run.sort_values("update").itertuples(index=False):
            yield {"step": int(r.update), "metric": "train_loss_bits", "value": float(r.train_loss_bits_mean), **cols}
            yield {"step": int(r.update), "metric": "grad_norm_max", "value": float(r.grad_norm_max), **cols}
            for b in first_below:
                if math.isnan(first_below[b]) and r.train_loss_bits_mean < b:
                    first_below[b] = float(r.update)
        yield from _crossing_rows(first_below, cols)
