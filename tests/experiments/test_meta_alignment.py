"""meta_alignment method and baselines (repro/experiments/meta_alignment/): the impl / select_on switches, each
method's defining step, and that every method meets the same evaluation tasks."""
import pytest
import torch

from repro.data.meta_alignment.standins import synth_lang, synth_strong
from repro.experiments.meta_alignment.baselines import METHODS, make_method
from repro.experiments.meta_alignment.fewshot import fewshot, hparams
from repro.experiments.meta_alignment.method import CODE, PAPER, MetaLearner, batch_for, resolve
from repro.runner.context import RunContext

SMALL = dict(n_way=3, inner_steps=2, test_steps=2, embed_dim=8, hidden=8, classifier_hidden=8, batch=16,
             n_query=2, eval_tasks=2, lr_clf=0.01, lr_align=0.01, train_shots=2)


@pytest.fixture(scope="module")
def data():
    return synth_strong(per_class=12)


def learner(data, method, **kw):
    hp = resolve({**SMALL, **kw, "method": method})
    m = make_method(method)
    return MetaLearner(data, hp, m, "cpu", torch.Generator().manual_seed(0), 0, n_out=m.n_out)


def snapshot(module):
    return [q.detach().clone() for q in module.parameters()]


def moved(before, module):
    return any(not torch.equal(a, b.detach()) for a, b in zip(before, module.parameters()))


def test_impl_switch_picks_the_catalog_defaults_and_explicit_keys_win():
    assert resolve({})["meta_optimizer"] == "sgd" and resolve({})["meta_lr"] == 0.1
    code = resolve({"impl": "code"})
    assert (code["meta_optimizer"], code["meta_lr"], code["align_loss"], code["margin"], code["n_way"]) == \
        ("adam", 1e-4, "tri", 0.5, 3)
    assert resolve({"impl": "code", "margin": 0.1})["margin"] == 0.1
    assert batch_for(resolve({}), 1) == 4 and batch_for(resolve({}), 10) == 16
    assert set(PAPER) == set(CODE)
    for bad in ({"impl": "mixed"}, {"select_on": "train"}, {"align_loss": "l2"}, {"clf_updates": "g"}):
        with pytest.raises(ValueError):
            resolve(bad)


def test_croma_alignment_moves_encoders_and_classification_only_g(data):
    L = learner(data, "croma", meta_lr=1.0)
    enc, g = snapshot(L.model.f_t), snapshot(L.model.g)
    L.alignment_step()
    assert moved(enc, L.model.f_t) and not moved(g, L.model.g)
    fs, ft = snapshot(L.model.f_s), snapshot(L.model.f_t)
    L.source_classification_step()   # clf_updates=classifier (Algorithm 1): only phi
    assert moved(g, L.model.g) and not moved(fs, L.model.f_s) and not moved(ft, L.model.f_t)


def test_reptile_step_of_a_task_is_eps_times_the_inner_displacement(data):
    full = learner(data, "oracle", meta_lr=1.0)
    half = learner(data, "oracle", meta_lr=0.5)
    theta = snapshot(full.model)
    full.target_classification_step()
    half.target_classification_step()
    for t, f, h in zip(theta, full.model.parameters(), half.model.parameters()):
        assert torch.allclose(h.detach(), t + 0.5 * (f.detach() - t), atol=1e-6)


def test_oracle_sees_target_labels_and_croma_does_not(data):
    assert make_method("oracle").uses_target_labels and not make_method("croma").uses_target_labels
    L = learner(data, "oracle", meta_lr=1.0)
    fs, ft = snapshot(L.model.f_s), snapshot(L.model.f_t)
    L.meta_iteration()
    assert moved(ft, L.model.f_t) and not moved(fs, L.model.f_s)


def test_align_meta_classify_aligns_directly(data):
    L = learner(data, "align_meta_classify", meta_lr=0.0)   # no Reptile movement at all
    ft, g = snapshot(L.model.f_t), snapshot(L.model.g)
    L.meta_iteration()
    assert moved(ft, L.model.f_t) and not moved(g, L.model.g)   # alignment is a direct step, g is meta (eps 0)


def test_align_classify_has_a_source_head_and_resets_it(data):
    L = learner(data, "align_classify")
    assert L.model.g.head.out_features == len(data.classes["meta_train"]) and METHODS["align_classify"].reset_head
    g = snapshot(L.model.g)
    L.meta_iteration()
    assert moved(g, L.model.g)


def test_unsup_recon_and_pretrain(data):
    L = learner(data, "unsup_recon", meta_lr=1.0)
    ft, fs = snapshot(L.model.f_t), snapshot(L.model.f_s)
    L.meta_iteration()
    assert moved(ft, L.model.f_t) and not moved(fs, L.model.f_s)
    assert not make_method("pretrain").meta_trains
    with pytest.raises(ValueError, match="weak concept clusters"):
        learner(data, "unsup_weak")


def test_shared_family():
    d = synth_lang(per_language=4, length=4, vocab=8)
    for name in ("shared", "shared_align", "shared_confusion", "shared_target_labels"):
        L = learner(d, name, meta_lr=1.0, n_query=1, train_shots=1)
        assert L.model.f_t.source is L.model.f_s
        body = snapshot(L.model.f_s.lstm)
        in_map = snapshot(L.model.f_t.in_map)
        L.meta_iteration()
        assert moved(body, L.model.f_s.lstm) == (name != "shared")   # shared: classification moves g only
        assert moved(in_map, L.model.f_t.in_map) == (name != "shared")


def test_every_method_meets_the_same_tasks_and_select_on_switch(data):
    rows = {}
    for method in ("pretrain", "oracle"):
        p = {**SMALL, "dataset": "synth_strong", "data_kw": {"per_class": 12}, "method": method, "k_shot": [1, 2],
             "meta_iters": 2, "validate_every": 1, "outputs": ["accuracy", "predictions"], "select_on": "test"}
        rows[method] = list(fewshot(p, RunContext(seed=0)))
    items = {m: [r["item"] for r in rs if r["metric"] == "correct"] for m, rs in rows.items()}
    assert items["pretrain"] == items["oracle"] and len(items["oracle"]) == 3 * 2
    assert {r["k_shot"] for r in rows["oracle"] if r["metric"] == "test_acc"} == {1, 2}
    assert any(r["metric"] == "test_acc_curve" for r in rows["oracle"])
    with pytest.raises(ValueError, match="meta-val"):
        list(fewshot({**SMALL, "dataset": "digits_weak", "method": "croma", "k_shot": 1, "meta_iters": 1,
                      "select_on": "val", "data_kw": {"signals": 50}}, RunContext(seed=0)))


def test_missing_real_data_is_one_line():
    from repro.data.download import DataMissing
    with pytest.raises(DataMissing):
        list(fewshot({**SMALL, "dataset": "yummly", "method": "croma", "k_shot": 1}, RunContext(seed=0,
                                                                                        data_dir="/nonexistent")))


def test_hparams_rows_match_and_mismatch():
    table = [{"block": "enc", "parameter": "meta lr", "key": "meta_lr", "paper": 0.1},
             {"block": "enc", "parameter": "batch 5-shot", "key": "batch[5]", "paper": 8},
             {"block": "enc", "parameter": "margin", "key": "margin", "paper": 0.2}]
    rows = [r for r in hparams({"table": table}, None) if r["metric"] == "match"]
    assert [r["value"] for r in rows] == [1.0, 1.0, 0.0]


def test_reported_rows_carry_their_columns_and_band():
    from repro.experiments.meta_alignment.fewshot import reported
    rows = list(reported({"min_tol": 3.0, "rows": [{"method": "croma", "k_shot": 5, "mean": 47.1, "std": 3.3},
                                                   {"method": "oracle", "noise_rate": 0.4, "mean": 60.5}]}, None))
    lo = {r["method"]: r for r in rows if r["metric"] == "test_acc_lo"}
    assert lo["croma"]["k_shot"] == 5 and abs(lo["croma"]["value"] - (47.1 - 6.6)) < 1e-9   # 2 std > min_tol
    assert lo["oracle"]["noise_rate"] == 0.4 and abs(lo["oracle"]["value"] - 57.5) < 1e-9 and "k_shot" not in lo["oracle"]


def test_plot_functions_draw_tables():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from repro.plotting.meta_alignment import hparams as hp_plot, predictions, table
    acc = pd.DataFrame([{"series": s, "kind": "experiment", "method": s, "metric": "test_acc", "k_shot": k, "value": v,
                         "seed": sd} for s, v in (("croma", 50.0), ("oracle", 40.0)) for k in (1, 5) for sd in (0, 1)]
                       + [{"series": "paper", "kind": "paper", "method": "croma", "metric": "test_acc", "k_shot": 5,
                           "value": 47.1, "seed": None}])
    pred = pd.DataFrame([{"series": s, "metric": "correct", "query": q, "seed": 0, "value": float(q % 2),
                          "true_name": "a", "pred_name": "b"} for s in ("oracle", "croma") for q in range(4)])
    hp = pd.DataFrame([{"metric": m, "block": "enc", "parameter": "meta lr", "text": t, "value": v}
                       for m, t, v in (("used_paper", "0.1", 0.1), ("used_code", "0.0001", 1e-4), ("match", "0.1 vs 0.1", 1.0))])
    fig, axes = plt.subplots(1, 3)
    table(axes[0], acc, {"metric": "test_acc"})
    predictions(axes[1], pred, {"series": ["oracle", "croma"]})
    hp_plot(axes[2], hp, {})
    cells = [t.get_text() for ax in axes for tab in ax.tables for t in [c.get_text() for c in tab.get_celld().values()]]
    assert "50.0 +- 0.0" in cells and "paper: croma" in cells and "b (ok)" in cells and "yes" in cells
    plt.close(fig)


def test_stacked_meta_test_equals_the_one_by_one_fine_tuning(data):
    from repro.data.episodes import fixed_eval_tasks
    from repro.experiments.meta_alignment.method import (can_stack, finetune_and_predict,
                                                         finetune_and_predict_stacked)
    L = learner(data, "croma", test_steps=4, lr_clf=0.05)
    tasks = fixed_eval_tasks(data.y_t, data.classes["meta_test"], 3, 2, 3, 4, 0)
    labels = [t.with_shots(2).support_y for t in tasks]
    assert can_stack(L, tasks)
    stacked = finetune_and_predict_stacked(L, tasks, 2, labels)
    one_by_one = [finetune_and_predict(L, t, 2, ys) for t, ys in zip(tasks, labels)]
    assert all(torch.equal(a, b) for a, b in zip(stacked, one_by_one))
    lang = learner(synth_lang(per_language=4, length=4, vocab=8), "croma", n_query=1, train_shots=1)
    assert not can_stack(lang, tasks)   # LSTM target encoder: no vmap rule, the loop runs
