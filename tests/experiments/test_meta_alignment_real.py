"""meta_alignment (CroMA, arXiv 2012.02813) on the real data path: fig=T1's three full-scale panels (text->image on
Yummly-28K, image->audio on CIFAR-10/100 + ESC-50, text->speech on CMU Wilderness), as the runner resolves them,
run through meta_alignment.fewshot on small files generated in the real on-disk formats (the generators of
tests/data/test_meta_alignment_data.py and repro/data/fixtures.py) at full model size: the real ResNet-18 extractor
with a generated weights file (torchvision's architecture, random values), the paper's 256-wide encoders, 5-way
tasks, select_on=val. Only the data size, the numbers of meta-iterations, inner / test steps, evaluation tasks and
queries are cut. A missing data set (or weights file) stops each family with one line (DataMissing)."""
import math

import pytest
import torch

from repro.data import fixtures
from repro.data.download import DataMissing
from repro.data.meta_alignment import feature_cache
from repro.data.meta_alignment import tasks as T
from repro.data.meta_alignment.extractors import WEIGHT_FILES
from repro.experiments import registry
from repro.runner.compose import load_spec
from repro.runner.context import RunContext
from repro.runner.figures import index
from tests.data.test_meta_alignment_data import write_cifar100, write_esc50, write_wilderness, write_yummly

PANELS = {"yummly": "text_to_image", "cifar_esc50": "image_to_audio", "wilderness": "text_to_speech"}


def full_run(panel: str, series: str = "croma", k: int = 1):
    """fig=T1's full-scale run of `series` in `panel` at k shots, as the runner expands it."""
    from repro.runner.sweep import expand

    [entry] = [e for e in index()["meta_alignment"] if e.fig == "T1"]
    runs = [r for r in expand(load_spec(entry, ["scale=full"])) if r.kind == "experiment" and r.panel == panel
            and r.series == series and r.params.get("k_shot") == k]
    return runs[0]


def weights(d):
    import torchvision

    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), d / WEIGHT_FILES["resnet18"])


def yummly_files(d):
    # 34 classes: class_split gives 23 / 5 / 5, enough for 5-way meta-val and meta-test tasks
    kinds = [([f"Cuisine{i:02d}"], ["Main Dishes"]) for i in range(34)]
    write_yummly(d, per_class=(3,) * 34, kinds=kinds, image_size=(40, 48))
    weights(d)


def cifar_esc50_files(d):
    fixtures.write_cifar10(d, per_batch=60, n_test=20)
    write_cifar100(d, n=1500)
    write_esc50(d, categories=sorted({c for cl in T.WEAK_CLUSTERS for c in cl.target_classes}), per_class=4)
    weights(d)


def wilderness_files(d):
    # 50 languages: language_split gives 40 / 5 / 5
    write_wilderness(d, langs=[f"lang{i:02d}" for i in range(50)], per_lang=4)


FILES = {"yummly": yummly_files, "cifar_esc50": cifar_esc50_files, "wilderness": wilderness_files}
DATA_KW = {"yummly": {"min_count": 3}, "cifar_esc50": {"per_class": 5}, "wilderness": {}}
CUT = dict(meta_iters=2, validate_every=1, inner_steps=2, test_steps=2, eval_tasks=2, n_query=2)


@pytest.mark.slow
@pytest.mark.parametrize("dataset", list(PANELS))
def test_fig_t1_full_scale_panel_runs_on_generated_real_format_files(dataset, tmp_path):
    FILES[dataset](tmp_path)
    run = full_run(PANELS[dataset])
    p = run.params
    assert p["dataset"] == dataset and p["impl"] == "paper" and p.get("data_kw") is None
    p = {**p, **CUT, "data_kw": DATA_KW[dataset]}
    ctx = RunContext(seed=run.seed, scale="full", data_dir=str(tmp_path), cache_dir=str(tmp_path / "_cache"))
    rows = list(registry.get(run.experiment)(p, ctx))
    acc = [r for r in rows if r["metric"] == "test_acc"]
    assert [r["k_shot"] for r in acc] == [1] and all(0 <= r["value"] <= 100 for r in acc)
    assert all(r["data"] == "real" and math.isfinite(r["value"]) for r in rows)
    assert len([r for r in rows if r["metric"] == "val_acc_curve"]) == 2
    # full model size: the paper's widths on the loader's inputs (the ResNet-18's 512-d features for images/audio)
    data = _load(dataset, tmp_path)            # the same arguments: served from the process cache
    assert data.data == "real" and len(data.classes["meta_test"]) >= 5 and len(data.classes["meta_val"]) >= 5
    if dataset in ("yummly", "cifar_esc50"):
        assert data.target_spec == {"kind": "vector", "dim": 512} and torch.isfinite(data.x_t).all()
    if dataset == "cifar_esc50":   # weak pairs: the 17 clusters on both sides, ESC-50 targets split 12 / 8 / 9
        assert data.strength == "weak" and data.source_spec == {"kind": "vector", "dim": 512}
        assert set(data.cluster_t.tolist()) == set(range(17)) and set(data.cluster_s.tolist()) <= set(range(17))
        assert [len(data.classes[k]) for k in ("meta_train", "meta_val", "meta_test")] == [12, 8, 9]
    # the features were written to the run's cache folder once
    assert len(list((tmp_path / "_cache" / "meta_alignment").glob(f"{dataset}-*.pt"))) == 1


def _load(dataset, d, cache_dir=None, **kw):
    import importlib

    return importlib.import_module(f"repro.data.meta_alignment.{dataset}").load(str(d), cache_dir=cache_dir,
                                                                                  **{**DATA_KW[dataset], **kw})


def test_wilderness_load_pairs_splits_and_disk_cache(tmp_path):
    write_wilderness(tmp_path, langs=[f"lang{i:02d}" for i in range(20)], per_lang=2)
    data = _load("wilderness", tmp_path, cache_dir=tmp_path / "c")
    assert data.strength == "strong" and data.dataset == "wilderness" and len(data.y_s) == 40
    assert [len(data.classes[k]) for k in ("meta_train", "meta_val", "meta_test")] == [16, 2, 2]
    assert data.source_spec["kind"] == "tokens" and data.source_spec["embed"] == 256
    assert data.target_spec == {"kind": "sequence", "dim": 40, "layers": 2}
    assert torch.equal(data.y_t[data.pair_t], data.y_s) and data.class_names[0] == "lang00"
    # per-utterance CMVN: every channel of an utterance's frames (all 0.5 s: no padding) has mean 0 and std 1
    assert data.x_t[0].mean(0).abs().max() < 1e-4 and (data.x_t[0].std(0, unbiased=False) - 1).abs().max() < 1e-2
    feature_cache._MEMORY.clear()
    again = _load("wilderness", tmp_path, cache_dir=tmp_path / "c")        # read back from the disk cache
    assert torch.equal(again.x_t, data.x_t) and again.classes == data.classes and again.class_names == data.class_names
    (tmp_path / "wilderness" / "lang00" / "utt1.txt").write_text("new words here\n")   # restaged: not stale
    feature_cache._MEMORY.clear()
    assert not torch.equal(_load("wilderness", tmp_path, cache_dir=tmp_path / "c").x_s, data.x_s)


@pytest.mark.parametrize("dataset", list(PANELS))
def test_fig_t1_full_scale_panel_without_its_data_stops_with_one_line(dataset, tmp_path):
    run = full_run(PANELS[dataset])
    with pytest.raises(DataMissing) as e:
        list(registry.get(run.experiment)(run.params, RunContext(seed=0, scale="full", data_dir=str(tmp_path))))
    assert "\n" not in str(e.value) and str(tmp_path) in str(e.value)


@pytest.mark.parametrize("dataset", ["yummly", "cifar_esc50"])
def test_missing_weights_file_stops_with_one_line(dataset, tmp_path, monkeypatch):
    if dataset == "yummly":
        write_yummly(tmp_path, per_class=(3, 3, 3))
    else:
        fixtures.write_cifar10(tmp_path, per_batch=20, n_test=10)
        write_cifar100(tmp_path, n=100)
        write_esc50(tmp_path)
    with pytest.raises(DataMissing, match=WEIGHT_FILES["resnet18"]) as e:
        _load(dataset, tmp_path)
    assert "\n" not in str(e.value)
