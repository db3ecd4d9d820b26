"""meta_alignment (Liang et al., arXiv 2012.02813; catalog meta_alignment.md, "Data", image->audio): the image->audio
family as repro.data.episodes.CrossModalData, what meta_alignment.fewshot reads for dataset=cifar_esc50. The files
are read by image_audio.py (CIFAR-10 / CIFAR-100 python batches, ESC-50 csv + WAV; its doc gives the layout) and
the pretrained networks come from weights files in data_dir (extractors.py).

`load(data_dir, cache_dir=None, **kw)`:
- source x_s: the CIFAR training images of the 31 source classes of the 17 weak clusters (tasks.WEAK_CLUSTERS,
  [reconstructed] members), at most `per_class` (default 500 = CIFAR-100's training images per class; the CIFAR-10
  classes, 5000 each, are cut to a seeded subset so no cluster is dominated by one CIFAR-10 class) per class,
  through the ImageNet ResNet-18 (image_transform: resize 256, centre crop 224, ImageNet normalisation), frozen, fc
  removed: 512-d features [N_s, 512]. y_s: the source class (index into `SOURCE_CLASSES`, "c10:frog", ...), its
  own label space: source tasks are N-way over CIFAR classes (the paper's source tasks "frog, automobile, dog").
  Every source class is a meta-training source class (source_classes): the source is the high-resource, fully
  labelled modality and its labels are never target labels; alignment still pairs only meta-train target clips
  (episodes.make_pools), so no meta-val / meta-test clip is seen in meta-training.
- target x_t: the ESC-50 clips of the 29 cluster classes as 128-mel log spectrograms (image_audio.clip_spectrogram;
  every clip cut / zero-padded to the longest, 5 s clips: 432 frames), through a frozen ResNet-18 on 1-channel
  spectrograms with weights from `audio_weights_file` (the paper's "CNN pretrained on AudioSet" has no public
  torchvision definition: stage AudioSet-trained ResNet-18 weights under that name) or, by default, the ImageNet
  file with conv1 summed over RGB [reconstructed; catalog open questions]: 512-d features [N_t, 512].
  y_t: the ESC-50 target id (0..49); classes: tasks.esc_split (`split_seed`), 12 / 8 / 9 classes [paper counts,
  reconstructed assignment]. The catalog's samples 920 / 580 / 580 do not follow from 40 clips per class
  (12 / 8 / 9 classes x 40 = 480 / 320 / 360); we keep every clip of each class.
- weak pairs: cluster_s / cluster_t = the cluster index (order of WEAK_CLUSTERS) of each image and clip.
- both encoders of CroMA get `vector` specs (an MLP on the 512-d features). Deviation: the paper fine-tunes the
  ResNet and the audio CNN; we train on frozen features (precomputed once, on `device`, default cuda when present)
  so that a full run takes hours.
- cached per process and, with cache_dir (ctx.cache_dir), on disk (feature_cache.py). Rows: data=real,
  dataset=cifar+esc50. A missing file or folder raises DataMissing (one line).
"""
from __future__ import annotations

import numpy as np
import torch

from repro.data.download import resolve_data_dir
from repro.data.episodes import CrossModalData
from repro.data.meta_alignment import tasks as T
from repro.data.meta_alignment.image_audio import CIFAR100, ESC50, clip_spectrogram, cluster_members

SOURCE_CLASSES = tuple(sorted({m for cl in T.WEAK_CLUSTERS for m in cl.source_classes}))


def _spectrograms(clips) -> torch.Tensor:
    specs = [clip_spectrogram(c) for c in clips]
    frames = max(s.shape[-1] for s in specs)
    out = torch.zeros(len(specs), *specs[0].shape[:-1], frames)
    for i, s in enumerate(specs):
        out[i, ..., :s.shape[-1]] = s
    return out


def load(data_dir, cache_dir=None, per_class: int = 500, sample_seed: int = 0, split_seed: int = 0,
         arch: str = "resnet18", weights_file: str | None = None,
         audio_weights_file: str | None = None, batch_size: int = 64, device: str = "auto") -> CrossModalData:
    from PIL import Image

    from repro.data.meta_alignment.extractors import WEIGHT_FILES, extract_features, frozen_backbone, image_transform
    from repro.data.meta_alignment.feature_cache import cached

    kw = dict(per_class=per_class, sample_seed=sample_seed, split_seed=split_seed,
              arch=arch, weights_file=weights_file, audio_weights_file=audio_weights_file)
    root = resolve_data_dir(data_dir)
    weights = [root / (weights_file or WEIGHT_FILES.get(arch, arch)), root / (audio_weights_file or
                                                                              WEIGHT_FILES.get(arch, arch))]

    def build() -> CrossModalData:
        members = cluster_members(data_dir)                 # DataMissing for CIFAR-10 / CIFAR-100 / ESC-50 first
        image_net = frozen_backbone(data_dir, arch, weights_file)
        audio_net = frozen_backbone(data_dir, arch, audio_weights_file, in_channels=1)
        rng = np.random.default_rng(sample_seed)
        images, y_s, c_s, clips, c_t = [], [], [], [], []
        for ci, cl in enumerate(T.WEAK_CLUSTERS):
            m = members[cl.name]
            labels = np.asarray(m["labels"])
            for name in cl.source_classes:
                idx = np.flatnonzero(labels == name)
                idx = np.sort(rng.permutation(idx)[:int(per_class)])
                images.append(m["images"][idx])
                y_s += [SOURCE_CLASSES.index(name)] * len(idx)
                c_s += [ci] * len(idx)
            clips += m["clips"]
            c_t += [ci] * len(m["clips"])
        images = np.concatenate(images)
        transform = image_transform()
        x_s = extract_features(image_net, len(images), lambda i: transform(Image.fromarray(images[i])), batch_size,
                               device)
        specs = _spectrograms(clips)
        x_t = extract_features(audio_net, len(specs), lambda i: specs[i], batch_size, device)
        split = T.esc_split(seed=split_seed)
        ids = {k: sorted(T.ESC50_CLASSES.index(c) for c in split[k]) for k in ("train", "val", "test")}
        y_s_t = torch.as_tensor(y_s, dtype=torch.int64)
        cluster_s = torch.as_tensor(c_s, dtype=torch.int64)
        src = sorted(set(y_s))
        return CrossModalData(
            name="cifar_esc50", data="real", strength="weak", x_s=x_s, y_s=y_s_t, x_t=x_t,
            y_t=torch.as_tensor([c.target for c in clips], dtype=torch.int64),
            classes={"meta_train": ids["train"], "meta_val": ids["val"], "meta_test": ids["test"]},
            source_spec={"kind": "vector", "dim": x_s.shape[1]}, target_spec={"kind": "vector", "dim": x_t.shape[1]},
            cluster_s=cluster_s, cluster_t=torch.as_tensor(c_t, dtype=torch.int64), source_classes=src,
            class_names={i: T.ESC50_CLASSES[i] for ids_ in ids.values() for i in ids_}, dataset="cifar+esc50")

    return cached("cifar_esc50", data_dir, cache_dir, kw,
                  [root / "cifar-10-batches-py", root / CIFAR100, root / ESC50, *weights], build)
