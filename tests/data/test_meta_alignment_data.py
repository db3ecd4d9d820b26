"""meta_alignment real-data loaders on small files generated in the real on-disk formats (Yummly-28K JSON + JPEG +
BERT .npy; CIFAR-100 python pickles; ESC-50 csv + WAV; Wilderness txt + WAV), their failure paths, the task
objects, and (slow) the full-size ResNet-18 encoder taking a step on what the loaders return."""
import hashlib
import json

import numpy as np
import pytest
import torch
from scipy.io import wavfile

from repro.data.download import DataInvalid, DataMissing
from repro.data.fixtures import Py2Str, _py2_pickle, write_cifar10
from repro.data.meta_alignment import tasks as T
from repro.data.meta_alignment.extractors import WEIGHT_FILES, resnet_encoder
from repro.data.meta_alignment.image_audio import clip_spectrogram, cluster_members, load_cifar100, load_esc50
from repro.data.meta_alignment.wilderness import build_vocab, encode_text, language_split, load_wilderness, speech
from repro.data.meta_alignment.yummly import class_split, image_tensor, load_recipes, text_features


# --- generators in the real formats ----------------------------------------------------------------------------

def write_yummly(root, per_class=(5, 4, 2), seed=0, kinds=None, image_size=(300, 400)):
    """Recipes of the classes `kinds` ((cuisines, courses) per class; default three), per_class[i] of class i."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    base = root / "yummly28k"
    for d in ("metadata", "images", "text_embs"):
        (base / d).mkdir(parents=True, exist_ok=True)
    kinds = kinds or [(["Mexican"], ["Soups"]), (["Barbecue", "American"], ["Main Dishes"]),
                      (["Italian"], ["Desserts"])]
    fid = 0
    for (cuisine, course), n in zip(kinds, per_class):
        for _ in range(n):
            fid += 1
            meta = {"id": f"r{fid}", "ingredientLines": ["2 Cups Rice", f"{fid} tbsp Salt"],
                    "attributes": {"cuisine": cuisine, "course": course}}
            (base / "metadata" / f"meta{fid:05d}.json").write_text(json.dumps(meta))
            Image.fromarray(rng.integers(0, 255, (*image_size, 3), dtype=np.uint8)).save(
                base / "images" / f"img{fid:05d}.jpg")
            np.save(base / "text_embs" / f"{fid:05d}.npy", rng.normal(size=(7, 768)).astype(np.float32))
    return base


def write_cifar100(root, n=300, seed=0):
    rng = np.random.default_rng(seed)
    base = root / "cifar-100-python"
    base.mkdir(parents=True, exist_ok=True)
    for name in ("train", "test"):
        labels = rng.integers(0, 100, size=n)
        _py2_pickle({Py2Str("data"): rng.integers(0, 255, (n, 3072), dtype=np.uint8),
                     Py2Str("fine_labels"): labels.tolist(), Py2Str("coarse_labels"): (labels // 5).tolist()},
                    base / name)
    _py2_pickle({Py2Str("fine_label_names"): [Py2Str(c) for c in T.CIFAR100_CLASSES],
                 Py2Str("coarse_label_names"): [Py2Str(f"c{i}") for i in range(20)]}, base / "meta")
    (base / "md5sums.txt").write_text("".join(f"{hashlib.md5((base / f).read_bytes()).hexdigest()}  {f}\n"
                                              for f in ("train", "test", "meta")))


def write_wav(path, seconds=0.5, rate=16000, seed=0):
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * (200 + 50 * seed) * t) + 0.01 * np.random.default_rng(seed).normal(size=t.size)
    wavfile.write(path, rate, (x * 32767).astype(np.int16))


def write_esc50(root, categories=("frog", "dog", "car_horn", "engine", "rain"), per_class=2):
    base = root / "ESC-50-master"
    (base / "meta").mkdir(parents=True, exist_ok=True)
    (base / "audio").mkdir(exist_ok=True)
    lines = ["filename,fold,target,category,esc10,src_file,take"]
    for i, cat in enumerate(categories):
        target = T.ESC50_CLASSES.index(cat)
        for k in range(per_class):
            name = f"1-{1000 + i}-{'ABCDEFGHIJ'[k]}-{target}.wav"
            write_wav(base / "audio" / name, seconds=0.3, rate=44100, seed=i)
            lines.append(f"{name},1,{target},{cat},False,{1000 + i},{'ABCDEFGHIJ'[k]}")
    (base / "meta" / "esc50.csv").write_text("\n".join(lines) + "\n")
    return base


def write_wilderness(root, langs=("avokaya", "meax", "roviana"), per_lang=2):
    for li, lang in enumerate(langs):
        d = root / "wilderness" / lang
        d.mkdir(parents=True, exist_ok=True)
        for k in range(per_lang):
            (d / f"utt{k}.txt").write_text(f"Beda Yesus agot {lang} verse {k}\n", encoding="utf-8")
            write_wav(d / f"utt{k}.wav", seed=li)


# --- task objects ----------------------------------------------------------------------------------------------

def test_task_objects():
    assert tuple(c.name for c in T.IMAGE_TO_AUDIO.clusters) == T.FIG9_CLUSTER_NAMES
    split = T.esc_split()
    assert [len(split[k]) for k in ("train", "val", "test")] == [12, 8, 9]
    assert all(c in T.ESC50_CLASSES for cl in T.WEAK_CLUSTERS for c in cl.target_classes)
    assert [f.name for f in T.families_at("tiny")] == ["synth_strong", "digits_weak", "synth_lang"]
    with pytest.raises(ValueError, match="unknown task family"):
        T.family("text_to_video")
    with pytest.raises(ValueError, match="weak pairs need clusters"):
        T.TaskFamily("x", "x", T.TEXT_TO_IMAGE.source, T.TEXT_TO_IMAGE.target, "t", "weak", 2, (1, 0, 1), 2, (), "tiny")
    g = T.modality_task_graph([T.TEXT_TO_IMAGE])
    assert g.simple_paths("x_t", "y_t") == [["x_t", "x_s", "y_s", "y_t"]]
    # with the generalization edge counted as known, a second (direct) path appears: the search honours kinds
    assert ["x_t", "y_t"] in g.simple_paths("x_t", "y_t", kinds=("observed", "alignment", "task", "generalization"))


# --- Yummly-28K ------------------------------------------------------------------------------------------------

def test_yummly_labels_cap_split_and_features(tmp_path):
    write_yummly(tmp_path)
    r = load_recipes(tmp_path, min_count=3)
    assert r.classes == ["American_Barbecue_Main Dishes", "Mexican_Soups"]     # Italian (2 recipes) dropped
    counts = np.bincount(r.labels)
    assert counts.max() == int(np.mean([5, 4]) + np.std([5, 4]))               # capped at mean + std = 5
    assert r.texts[0].startswith("2 cups rice, ")
    assert image_tensor(r, 0).shape == (3, 224, 224)
    assert text_features(r, 0).shape == (7, 768)
    s = class_split(44)
    assert [len(s[k]) for k in ("train", "val", "test")] == [30, 6, 6]
    assert not set(s["train"]) & set(s["test"])


def test_yummly_failures(tmp_path):
    with pytest.raises(DataMissing, match="missing Yummly-28K"):
        load_recipes(tmp_path)
    base = write_yummly(tmp_path)
    with pytest.raises(DataInvalid, match="no class has >= 100"):
        load_recipes(tmp_path)
    np.save(base / "text_embs" / "00001.npy", np.zeros((3, 10), np.float32))
    r = load_recipes(tmp_path, min_count=1, cap=False)
    with pytest.raises(DataInvalid, match="expected"):
        text_features(r, r.fids.index("00001"))
    (base / "metadata" / "meta99999.json").write_text("{not json")
    with pytest.raises(DataInvalid, match="not a Yummly-28K recipe"):
        load_recipes(tmp_path, min_count=1)


# --- CIFAR-10/100 + ESC-50 -------------------------------------------------------------------------------------

def test_image_audio_clusters(tmp_path):
    write_cifar10(tmp_path, per_batch=60, n_test=20)
    write_cifar100(tmp_path)
    write_esc50(tmp_path)
    x, y, names = load_cifar100(tmp_path)
    assert x.shape == (300, 32, 32, 3) and names == T.CIFAR100_CLASSES
    clips = load_esc50(tmp_path)
    assert len(clips) == 10 and clips[0].category == "frog"
    members = cluster_members(tmp_path)
    assert set(members) == set(T.FIG9_CLUSTER_NAMES)
    assert len(members["Automobile"]["clips"]) == 4            # car_horn + engine
    assert members["Amphibian"]["images"].shape[1:] == (32, 32, 3)
    assert members["Cat"]["clips"] == []                       # no cat clips generated
    spec = clip_spectrogram(clips[0])
    assert spec.shape[:2] == (1, 128) and torch.isfinite(spec).all()


def test_image_audio_failures(tmp_path):
    with pytest.raises(DataMissing, match="esc50.csv"):
        load_esc50(tmp_path)
    base = write_esc50(tmp_path)
    text = (base / "meta" / "esc50.csv").read_text().replace(",frog,", ",toad,", 1)
    (base / "meta" / "esc50.csv").write_text(text)
    with pytest.raises(DataInvalid, match="is not category 'toad'"):
        load_esc50(tmp_path)
    write_cifar100(tmp_path)
    (tmp_path / "cifar-100-python" / "train").write_bytes(b"corrupt")
    with pytest.raises(DataInvalid, match="md5"):
        load_cifar100(tmp_path)


# --- Wilderness ------------------------------------------------------------------------------------------------

def test_wilderness(tmp_path):
    with pytest.raises(DataMissing, match="festvox"):
        load_wilderness(tmp_path)
    write_wilderness(tmp_path)
    data = load_wilderness(tmp_path)
    assert sorted(data) == ["avokaya", "meax", "roviana"] and len(data["meax"]) == 2
    vocab = build_vocab([u for us in data.values() for u in us])
    assert encode_text("beda yesus zzz", vocab).tolist()[-1] == 1        # unknown word
    frames = speech(data["meax"][0])
    assert frames.shape[1] == 40 and 45 <= frames.shape[0] <= 55      # 0.5 s at 10 ms hop
    s = language_split([f"l{i}" for i in range(99)])
    assert [len(s[k]) for k in ("train", "val", "test")] == [79, 9, 11]
    (tmp_path / "wilderness" / "meax" / "utt0.wav").unlink()
    with pytest.raises(DataInvalid, match="no speech file"):
        load_wilderness(tmp_path)


# --- pretrained extractors ---------------------------------------------------------------------------------------

def test_missing_or_bad_weights(tmp_path):
    with pytest.raises(DataMissing, match="resnet18-f37072fd.pth"):
        resnet_encoder(tmp_path)
    torch.save({"not": torch.zeros(1)}, tmp_path / WEIGHT_FILES["resnet18"])
    with pytest.raises(DataInvalid, match="not a resnet18 state dict"):
        resnet_encoder(tmp_path)
    with pytest.raises(ValueError, match="arch must be one of"):
        resnet_encoder(tmp_path, arch="vgg11")


@pytest.mark.slow
def test_full_size_resnet18_step_on_loaded_data(tmp_path):
    """The full-size encoders (ResNet-18 on 224x224 photos, ResNet-18 on 1-channel log-mel spectrograms) built from
    a weights file in data_dir (a stand-in state dict with the real shapes), one SGD step on loader outputs."""
    import torchvision

    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / WEIGHT_FILES["resnet18"])
    write_yummly(tmp_path)
    write_esc50(tmp_path)
    r = load_recipes(tmp_path, min_count=3)
    x = torch.stack([image_tensor(r, i) for i in range(2)])
    spec = torch.stack([clip_spectrogram(c) for c in load_esc50(tmp_path)[:2]])
    for net, inp in ((resnet_encoder(tmp_path, out_dim=128), x), (resnet_encoder(tmp_path, in_channels=1), spec)):
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
        before = net.fc.weight.detach().clone()
        out = net(inp)
        assert out.shape == (2, 128)
        out.pow(2).mean().backward()
        opt.step()
        assert not torch.equal(before, net.fc.weight)
