"""LaProp fig=5 (iwslt) / fig=6 (roberta): the schedule, the text data path, the reference rows, and the full-scale
configs run a few updates of the full-size models on small files in the real formats (only steps, batch size and
the compiled LaProp step are cut); a missing data set stops with one line."""
import math

import pytest
import torch

from repro.data import iwslt, text_lm
from repro.data.download import DataMissing
from repro.experiments import registry
from repro.experiments.laprop.transformer import poly_lr
from repro.runner.compose import load_spec
from repro.runner.context import RunContext
from repro.runner.figures import index
from repro.runner.sweep import expand


def test_poly_lr_is_fairseqs_polynomial_decay():
    # no warmup: update 1 at the peak, then linear to 0 at total_num_update
    assert poly_lr(1, 3e-4, 0, 100) == 3e-4
    assert math.isclose(poly_lr(51, 3e-4, 0, 100), 1.5e-4)
    assert poly_lr(101, 3e-4, 0, 100) == 0.0
    # warmup: peak/W for the first two updates, the peak after W updates, then linear decay over (total - W)
    assert math.isclose(poly_lr(1, 1e-4, 10, 110), 1e-5) and math.isclose(poly_lr(2, 1e-4, 10, 110), 1e-5)
    assert math.isclose(poly_lr(11, 1e-4, 10, 110), 1e-4)
    assert math.isclose(poly_lr(61, 1e-4, 10, 110), 5e-5)


def test_text_blocks_keep_lines_whole_and_start_with_bos(tmp_path):
    text_lm.write_fixture(tmp_path, n_lines=60)
    blocks, vocab = text_lm.load_text_blocks(tmp_path, vocab_size=64, tokens_per_sample=128)
    assert blocks.shape[1] == 128 and (blocks[:, 0] == iwslt.BOS).all()
    assert len(vocab) == 64 and vocab.symbols[-1] == text_lm.MASK and len(vocab) % 8 == 0
    n_lines = sum(1 for line in (tmp_path / text_lm.WIKITEXT).read_text().splitlines() if line.split())
    assert int((blocks == iwslt.EOS).sum()) == n_lines    # every non-blank line once, ended by </s>
    for b in blocks:   # complete mode: a block ends at a line end (then padding)
        body = b[b != iwslt.PAD]
        assert body[-1] == iwslt.EOS


def test_bert_masking_rates():
    gen = torch.Generator().manual_seed(0)
    tokens = text_lm.synthetic_zipf(400, 64, 200, gen)
    inputs, target = text_lm.mask_tokens(tokens, 200, 199, gen)
    assert not target[:, 0].any()                         # never <s>
    rate = target.float().mean().item()
    assert 0.13 < rate < 0.17
    masked = (inputs == 199) & target
    kept = (inputs == tokens) & target
    assert 0.77 < masked.sum().item() / target.sum().item() < 0.83
    assert 0.08 < kept.sum().item() / target.sum().item() < 0.13   # 10% kept (+ random draws of the same token)
    assert torch.equal(inputs[~target], tokens[~target])


def test_reference_rows_give_the_catalogs_crossing_updates():
    fn = registry.get("laprop.reference_transformer")
    rows = list(fn({"task": "iwslt14_de_en", "thresholds": [6, 4]}, RunContext(seed=None)))
    cross = {(r["run"], r["threshold"]): r["value"] for r in rows if r["metric"] == "first_update_below"}
    assert cross["laprop nu=0.98, no warmup", 6.0] == 17200 and math.isnan(cross["laprop nu=0.98, no warmup", 4.0])
    assert math.isnan(cross["adam nu=0.98, no warmup", 6.0])
    assert (cross["adam nu=0.98, warmup", 6.0], cross["adam nu=0.98, warmup", 4.0]) == (5600, 18000)
    assert (cross["laprop nu=0.98, warmup", 6.0], cross["laprop nu=0.98, warmup", 4.0]) == (5900, 18000)
    rows = list(fn({"task": "roberta_base_wikipedia", "thresholds": [6]}, RunContext(seed=None)))
    cross = {r["run"]: r["value"] for r in rows if r["metric"] == "first_update_below"}
    assert cross == {"adam nu=0.98, warmup": 10900, "adam nu=0.999, warmup": 10000, "laprop nu=0.9, warmup": 11100,
                     "laprop nu=0.98, warmup": 10700, "laprop nu=0.999, warmup": 9700,
                     "adam nu=0.999, no warmup": 5100, "laprop nu=0.999, no warmup": 4300}
    assert sum(r["metric"] == "train_loss_bits" for r in rows) == 7 * 200


def full_runs(fig: str):
    [entry] = [e for e in index()["laprop"] if e.fig == fig]
    return [r for r in expand(load_spec(entry, ["scale=full"])) if r.kind == "experiment"]


def run_updates(run, data_dir, **cut):
    fn = registry.get(run.experiment)
    return list(fn({**run.params, **cut}, RunContext(seed=run.seed, scale="full", data_dir=data_dir)))


FIGS = {
    # full-size models; cut: 3 updates, one-update windows, smaller batches, the eager LaProp step (no compile)
    # (the block length too for fig=6); one series each: LaProp with warmup (fig=5), Adam without (fig=6)
    "5": (lambda d: iwslt.write_fixture(d, n_train=120), dict(max_steps=3, window=1, max_tokens=64, fused=False),
          {"laprop_warmup"}),
    "6": (lambda d: text_lm.write_fixture(d, n_lines=80), dict(max_steps=3, window=1, batch_size=1, update_freq=2,
                                                               tokens_per_sample=64, fused=False),
          {"adam_nowarmup"}),
}


@pytest.mark.slow
@pytest.mark.parametrize("fig", list(FIGS))
def test_full_config_runs_three_updates_of_the_full_size_model(fig, tmp_path, full_size_run):
    write, cut, series = FIGS[fig]
    write(tmp_path)
    runs = {r.series: r for r in full_runs(fig)}
    assert {r.data for r in runs.values()} == {"real"}
    for name in sorted(series):
        run = runs[name]
        assert run.params["d_model"] == {"5": 512, "6": 768}[fig] and run.params["fused"] is True
        rows = full_size_run(f"laprop fig{fig} {name}", registry.get(run.experiment), {**run.params, **cut},
                             run.seed, tmp_path)
        losses = [r["value"] for r in rows if r["metric"] == "train_loss_bits"]
        assert len(losses) == 3 and all(math.isfinite(v) for v in losses), (name, losses)
        assert all(r["data"] == "real" for r in rows)
        assert [r["step"] for r in rows if r["metric"] == "grad_norm_max"] == [1, 2, 3]


@pytest.mark.parametrize("fig", list(FIGS))
def test_full_config_without_its_data_stops_with_one_line(fig, tmp_path):
    run = full_runs(fig)[0]
    with pytest.raises(DataMissing) as e:
        run_updates(run, tmp_path, max_steps=1)
    assert "\n" not in str(e.value) and str(tmp_path) in str(e.value)


def _as_full_csv(task: str, thresholds, swap: bool = False):
    """The authors' curves as a full-scale tidy frame: once as our four series (seed 1), once as series=paper.
    swap=True relabels Adam's runs as LaProp's and vice versa."""
    import pandas as pd

    fn = registry.get("laprop.reference_transformer")
    rows = []
    for r in fn({"task": task, "thresholds": thresholds}, RunContext(seed=None)):
        opt = r["optimizer"]
        if swap:
            opt = {"adam": "laprop", "laprop": "adam"}[opt]
        series = f"{opt}_{'warmup' if r['warmup'] else 'nowarmup'}"
        base = {"paper": "laprop", "panel": None, "scale": "full", "precision": "fp32", "diverged": False,
                "step": r.get("step", math.nan), **{k: v for k, v in r.items() if k != "step"}}
        rows.append({**base, "series": series, "kind": "experiment", "seed": 1,
                     "run": r["run"] if not swap else f"{opt} nu={r['beta2']:g}, "
                     + ("warmup" if r["warmup"] else "no warmup"), "optimizer": opt})
        rows.append({**base, "series": "paper", "kind": "paper", "seed": math.nan})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("fig,task,thresholds", [("5", "iwslt14_de_en", [6, 4]), ("6", "roberta_base_wikipedia", [6])])
def test_full_claims_pass_on_the_authors_curves_and_fail_when_the_optimizers_swap(fig, task, thresholds):
    from repro.runner import claims

    [entry] = [e for e in index()["laprop"] if e.fig == fig]
    panels = load_spec(entry, ["scale=full"]).panels
    [alias] = panels
    for swap in (False, True):
        df = _as_full_csv(task, thresholds, swap)
        df["panel"] = alias
        results = {r.id: r for r in claims.evaluate(df, panels, "full")}
        evaluated = {k: r for k, r in results.items() if r.passed is not None}
        assert not any(k.startswith("tiny_") for k in evaluated)
        full_ids = {k for k, r in evaluated.items() if not k.startswith("reference_")}
        assert full_ids == ({"adam_nowarmup_stuck", "laprop_nowarmup_trains", "laprop_nowarmup_below_adam",
                             "warmup_equal", "warmup_runs_converge", "repro_vs_paper"} if fig == "5" else
                            {"laprop_le_adam_warmup", "laprop_le_adam_nowarmup", "laprop_below6_earlier_nowarmup",
                             "repro_vs_paper"})
        if not swap:
            assert all(r.passed for r in evaluated.values()), claims.table(list(evaluated.values()))
        else:   # LaProp's no-warmup advantage is the claim that must then fail
            key = "laprop_nowarmup_below_adam" if fig == "5" else "laprop_below6_earlier_nowarmup"
            assert evaluated[key].passed is False, claims.table([evaluated[key]])
