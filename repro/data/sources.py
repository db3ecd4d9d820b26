"""The data registry: every real data set the figures read, where it goes under data_dir, and where it comes from.

One `DataSet` per data set: its name, which figure configs need it (derived from the configs by `uses`, a test over
the parameters a panel runs with at full scale; `planned` names papers whose figures are not configured yet), the
files a loader reads (`paths`, relative to data_dir), and how to get them: `downloads` (URLs with mirrors, the
checksum, how to unpack), or `how` (one line) when there is no public download.

Checksums are the published ones, never invented:
- MNIST, Fashion-MNIST, CIFAR-10/100: the md5s torchvision records (torchvision.datasets.MNIST.resources,
  FashionMNIST.resources, CIFAR10.tgz_md5, CIFAR100.tgz_md5 in torchvision 0.29.1; copied here, a test compares).
- IMDB (aclImdb_v1.tar.gz) and WikiText-103 (wikitext-103-v1.zip): the md5s torchtext records (torchtext.datasets
  IMDB.MD5, WikiText103.MD5).
- GloVe 6B (glove.6B.zip): the md5 published with public download scripts (PaddleNLP, FedML, ... agree).
- Tiny-ImageNet (tiny-imagenet-200.zip): the md5 of public TinyImageNet loaders (torchvision-style `resources`).
- VGG-19 (vgg19-dcbb9e9d.pth), EfficientNet-B0/B1 (efficientnet_b{0,1}_rwightman-*.pth): torchvision's weights
  files; their names carry the first 8 hex digits of their sha256, which torch.hub checks (check_hash); we check the
  same prefix.
- Snake series (market.txt, day_temp_atmospheric.csv): sha256 of the files at commit 09b87ad of the authors'
  repository AdenosHermes/NeurIPS_2020_Snake (computed from that commit's blobs; sizes 63,977 and 76,402 bytes as the
  catalog says); the URL is pinned to that commit.
- ESC-50: GitHub's archive of the repository; no checksum is published, so it is pinned on first fetch (its
  sha256 written beside the file, `<file>.sha256`, and checked from then on). `repro data list` says so.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Download:
    """One file to download: to `dest` (relative to data_dir), from the first of `urls` that works."""
    dest: str
    urls: tuple[str, ...]
    size: int                      # bytes (approximate where not pinned by a checksum; shown by `repro data list`)
    md5: str | None = None
    sha256: str | None = None
    sha256_prefix: str | None = None   # torch.hub's convention: the file name carries the sha256's first digits
    unpack: str | None = None      # None | "gunzip" (dest minus .gz) | "tar" | "zip" (into `into`)
    into: str = ""                 # where an archive is extracted, relative to data_dir

    @property
    def checksum(self) -> tuple[str, str] | None:
        """(algorithm, expected hex digest or prefix), or None (pinned on first fetch)."""
        if self.sha256:
            return "sha256", self.sha256
        if self.md5:
            return "md5", self.md5
        if self.sha256_prefix:
            return "sha256-prefix", self.sha256_prefix
        return None


@dataclass(frozen=True)
class DataSet:
    name: str
    title: str
    paths: tuple[str, ...]         # what the loaders read, relative to data_dir
    downloads: tuple[Download, ...] = ()
    how: str = ""                  # one line, for data sets without a public download
    uses: Callable[[str, dict], bool] = field(default=lambda experiment, params: False, compare=False)
    planned: tuple[str, ...] = ()  # papers that need it but have no figure config for it yet
    source: str = ""               # where the checksum comes from (for `repro data list`)

    @property
    def public(self) -> bool:
        return bool(self.downloads)

    @property
    def trust_on_first_use(self) -> bool:
        return any(d.checksum is None for d in self.downloads)

    @property
    def size(self) -> int:
        return sum(d.size for d in self.downloads)


def _real(params: dict) -> bool:
    return params.get("data_source", "real") == "real"


def _dataset_is(name: str) -> Callable[[str, dict], bool]:
    """A run reads data set `name`: its params say dataset=name, or one of its `settings` does (a run of several
    sweeps one after the other, volumization fig=T1/T2)."""
    def uses(experiment, params) -> bool:
        settings = params.get("settings") or [{}]
        return _real(params) and any({**params, **s}.get("dataset") == name for s in settings)
    return uses


def _dataset_in(*names: str) -> Callable[[str, dict], bool]:
    """A run reads the data set when its dataset (or a setting's) is any of `names` (a data set several
    configs' dataset names read, e.g. CIFAR-100 for dataset=cifar100 and for meta_alignment's cifar_esc50)."""
    tests = [_dataset_is(n) for n in names]
    return lambda experiment, params: any(t(experiment, params) for t in tests)


def _idx(folder: str, mirrors: tuple[str, ...], resources) -> tuple[Download, ...]:
    return tuple(Download(dest=f"{folder}/raw/{fname}", urls=tuple(m + fname for m in mirrors), size=size, md5=md5,
                          unpack="gunzip") for fname, md5, size in resources)


# torchvision 0.29.1: MNIST.mirrors / MNIST.resources (sizes of the .gz files added).
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
MNIST_RESOURCES = (("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9_912_422),
                   ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", 28_881),
                   ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 1_648_877),
                   ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 4_542))
# torchvision 0.29.1: FashionMNIST.mirrors / FashionMNIST.resources.
FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
FASHION_RESOURCES = (("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26_421_880),
                     ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", 29_515),
                     ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", 4_422_102),
                     ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", 5_148))
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
SNAKE_REPO = ("https://raw.githubusercontent.com/AdenosHermes/NeurIPS_2020_Snake/"
              "09b87ade8290675bca119caf22733ad239bc6597")


def _snake(experiments: tuple[str, ...], variant: str, default: str) -> Callable[[str, dict], bool]:
    return lambda e, p: e in experiments and _real(p) and p.get("variant", default) == variant


REGISTRY: tuple[DataSet, ...] = (
    DataSet("mnist", "MNIST (torchvision's idx files)", paths=tuple(f"MNIST/raw/{f}" for f in IDX_FILES),
            downloads=_idx("MNIST", MNIST_MIRRORS, MNIST_RESOURCES), uses=_dataset_is("mnist"),
            planned=("gambler", "label_smoothing", "volumization"), source="md5 from torchvision"),
    DataSet("fashion_mnist", "Fashion-MNIST (torchvision's idx files)",
            paths=tuple(f"FashionMNIST/raw/{f}" for f in IDX_FILES),
            downloads=_idx("FashionMNIST", FASHION_MIRRORS, FASHION_RESOURCES), uses=_dataset_is("fashion_mnist"),
            source="md5 from torchvision"),
    DataSet("cifar10", "CIFAR-10 (python batches)",
            paths=tuple(f"cifar-10-batches-py/{f}" for f in
                        [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"]),
            downloads=(Download("cifar-10-python.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                                170_498_071, md5="c58f30108f718f92721af3b95e74349a", unpack="tar"),),
            uses=_dataset_in("cifar10", "cifar_esc50"), planned=("gambler", "label_smoothing", "volumization"),
            source="md5 from torchvision"),
    DataSet("cifar100", "CIFAR-100 (python batches)", paths=("cifar-100-python/train", "cifar-100-python/test",
                                                             "cifar-100-python/meta"),
            downloads=(Download("cifar-100-python.tar.gz",
                                ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",), 169_001_437,
                                md5="eb9058c3a382ffc7106e4002c42a8d85", unpack="tar"),),
            uses=_dataset_in("cifar100", "cifar_esc50"), source="md5 from torchvision"),
    DataSet("imdb", "IMDB movie reviews (aclImdb_v1)", paths=tuple(f"aclImdb/{s}/{c}" for s in ("train", "test")
                                                                  for c in ("pos", "neg")),
            downloads=(Download("aclImdb_v1.tar.gz",
                                ("https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",), 84_125_825,
                                md5="7c2ac02c03563afcf9b574c7e56c153a", unpack="tar"),),
            uses=_dataset_is("imdb"), planned=("gambler", "volumization"), source="md5 from torchtext"),
    DataSet("wikitext103", "WikiText-103 (word-level tokens)", paths=("wikitext-103/wiki.train.tokens",),
            downloads=(Download("wikitext-103-v1.zip",
                                ("https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-103-v1.zip",
                                 "https://wikitext.smerity.com/wikitext-103-v1.zip"),
                                190_229_076, md5="9ddaacaf6af0710eda8c456decff7832", unpack="zip"),),
            uses=lambda e, p: p.get("dataset") == "wikitext"
            and p.get("text_file", "wikitext-103/wiki.train.tokens") == "wikitext-103/wiki.train.tokens",
            source="md5 from torchtext"),
    DataSet("glove6b", "GloVe 6B word vectors (glove.6B.{50,100,200,300}d.txt)",
            paths=("glove.6B/glove.6B.300d.txt",),
            downloads=(Download("glove.6B.zip", ("https://nlp.stanford.edu/data/glove.6B.zip",
                                                 "https://downloads.cs.stanford.edu/nlp/data/glove.6B.zip"),
                                862_182_613, md5="056ea991adb4740ac6bf1b6d9b50408b", unpack="zip", into="glove.6B"),),
            uses=lambda e, p: _real(p) and (p.get("dataset") == "glove6b" or p.get("model") == "lstm_glove"),
            planned=("gambler",), source="md5 published with public download scripts"),
    DataSet("tiny_imagenet", "Tiny-ImageNet (200 classes, 64x64)", paths=("tiny-imagenet-200/wnids.txt",),
            downloads=(Download("tiny-imagenet-200.zip", ("http://cs231n.stanford.edu/tiny-imagenet-200.zip",),
                                248_100_043, md5="90528d7ca1a48142e341f4ef8d21d0de", unpack="zip"),),
            uses=_dataset_is("tiny_imagenet"), planned=("volumization",), source="md5 of public TinyImageNet loaders"),
    DataSet("esc50", "ESC-50 environmental sounds (GitHub archive)", paths=("ESC-50-master/meta/esc50.csv",),
            downloads=(Download("ESC-50-master.zip", ("https://github.com/karolpiczak/ESC-50/archive/master.zip",),
                                645_000_000, unpack="zip"),),
            uses=_dataset_in("esc50", "cifar_esc50"),
            source="no published checksum: sha256 pinned on first fetch"),
    DataSet("vgg19", "ImageNet-pretrained VGG-19 weights (torchvision IMAGENET1K_V1)", paths=("vgg19-dcbb9e9d.pth",),
            downloads=(Download("vgg19-dcbb9e9d.pth", ("https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",),
                                574_673_361, sha256_prefix="dcbb9e9d"),),
            uses=lambda e, p: e == "laprop.style_transfer" and p.get("extractor") == "vgg19",
            source="sha256 prefix in torchvision's file name (torch.hub's check)"),
    # sizes: approximate (torch.save of the same state dict); the sha256 prefix pins the files
    *(DataSet(f"efficientnet_{v}", f"ImageNet-pretrained EfficientNet-{v.upper()} weights (torchvision "
                                    f"IMAGENET1K_V1, volumization fig=T3)", paths=(f,),
              downloads=(Download(f, (f"https://download.pytorch.org/models/{f}",), size,
                                  sha256_prefix=f.rsplit("-", 1)[1].removesuffix(".pth")),),
              uses=lambda e, p, v=v: p.get("dataset") == "tiny_imagenet" and p.get("model") == f"efficientnet_{v}"
              and p.get("weights", "imagenet") is not None,
              planned=("volumization",), source="sha256 prefix in torchvision's file name (torch.hub's check)")
      for v, f, size in (("b0", "efficientnet_b0_rwightman-7f5810bc.pth", 21_460_000),
                         ("b1", "efficientnet_b1_rwightman-bac287d4.pth", 31_620_000))),
    DataSet("snake_temperature", "Snake: authors' Minamitorishima temperature (day_temp_atmospheric.csv)",
            paths=("snake/day_temp_atmospheric.csv",),
            downloads=(Download("snake/day_temp_atmospheric.csv", (f"{SNAKE_REPO}/data/day_temp_atmospheric.csv",),
                                76_402, sha256="9dc22a7971708cf98cf578863b4b3ab94d1fdb54e1eeb7377d521a1ff4d8cca6"),),
            uses=_snake(("snake.temperature", "snake.temperature_data"), "authors_csv", "authors_csv"),
            source="sha256 of the authors' repository at commit 09b87ad"),
    DataSet("snake_market", "Snake: authors' Wilshire 5000 series (market.txt)", paths=("snake/market.txt",),
            downloads=(Download("snake/market.txt", (f"{SNAKE_REPO}/data/market.txt",), 63_977,
                                sha256="b290dbd99154196fbdd42cf0ee621463c3fffef422c7857881b7192eb8db3b55"),),
            uses=_snake(("snake.market", "snake.market_data", "snake.arima"), "authors_txt", "authors_txt"),
            source="sha256 of the authors' repository at commit 09b87ad"),
    DataSet("snake_toar", "Snake: TOAR station JSON (10_year_temp_data.json, variant toar_json)",
            paths=("snake/10_year_temp_data.json",),
            how="request TOAR time series 119936 (daily, 2008-01-01..2017-12-31, JSON) from join.fz-juelich.de "
                "(catalog snake.md D2) and save it as snake/10_year_temp_data.json",
            uses=_snake(("snake.temperature", "snake.temperature_data"), "toar_json", "authors_csv")),
    DataSet("snake_market_total_return", "Snake: Wilshire total-return CSV (variant total_return_csv)",
            paths=("snake/IndexHistory_19950101.csv",),
            how="export the Wilshire 5000 index history from wilshire.com (catalog snake.md D4) as "
                "snake/IndexHistory_19950101.csv",
            uses=_snake(("snake.market", "snake.market_data", "snake.arima"), "total_return_csv", "authors_txt")),
    DataSet("snake_eurusd", "Snake: EUR-USD weekly rate (eurusd.csv)", paths=("snake/eurusd.csv",),
            how="the paper names no source: write weekly EUR-USD rates 2010-2017 as snake/eurusd.csv with header "
                "year,rate (catalog snake.md D5)",
            uses=lambda e, p: e in ("snake.eurusd", "snake.eurusd_data") and _real(p)),
    DataSet("iwslt14", "IWSLT14 German-English, tokenized and BPE'd", paths=tuple(
        f"iwslt14.tokenized.de-en/{s}.{l}" for s in ("train", "valid", "test") for l in ("de", "en")),
            how="run fairseq's examples/translation/prepare-iwslt14.sh (it downloads and preprocesses the corpus) "
                "and put its iwslt14.tokenized.de-en/ folder in data_dir",
            uses=_dataset_is("iwslt14")),
    DataSet("yummly28k", "Yummly-28K recipes (metadata JSON, photos, precomputed BERT features)",
            paths=("yummly28k/metadata",),
            how="stage Yummly-28K offline (xmodal's download_recipe.sh fetches a .rar) as yummly28k/metadata/"
                "meta<fid>.json + yummly28k/images/img<fid>.jpg, and precompute bert-base-uncased features into "
                "yummly28k/text_embs/<fid>.npy (catalog meta_alignment.md)",
            uses=_dataset_is("yummly")),
    DataSet("resnet18", "ImageNet-pretrained ResNet-18 weights (torchvision IMAGENET1K_V1)",
            paths=("resnet18-f37072fd.pth",),
            downloads=(Download("resnet18-f37072fd.pth", ("https://download.pytorch.org/models/resnet18-f37072fd.pth",),
                                46_830_571, sha256_prefix="f37072fd"),),
            uses=_dataset_in("yummly", "cifar_esc50"),
            source="sha256 prefix in torchvision's file name (torch.hub's check)"),
    DataSet("wilderness", "CMU Wilderness multilingual speech (99-language subset)", paths=("wilderness",),
            how="re-crawl the audio with the festvox CMU Wilderness scripts "
                "(github.com/festvox/datasets-CMU_Wilderness) and put the aligned text/speech per language under "
                "wilderness/ (catalog meta_alignment.md)",
            uses=_dataset_is("wilderness")),
)

# Real-data panels that read nothing from data_dir (checked by tests/data/test_fetch.py against the configs).
NO_FILES = {"snake.body_temperature": "the 25 points are embedded (data_source=embedded)",
            "snake.body_data": "the 25 points are embedded (data_source=embedded)",
            "laprop.rainbow": "the Atari ROMs ship with ale-py (pip install -e '.[rl]')",
            "label_smoothing.reference_grid": "the authors' logs, read from ../shared/reference/label_smoothing",
            "label_smoothing.relaxation": "the authors' logs, read from ../shared/reference/label_smoothing",
            "label_smoothing.catalog": "the catalog's numbers (no data)",
            "label_smoothing.theory_curves": "closed forms (no data)",
            "label_smoothing.memorizer": "a simulated memorizer (no data)"}


def by_name() -> dict[str, DataSet]:
    return {d.name: d for d in REGISTRY}


def _full_params(panel: dict) -> list[tuple[str, dict]]:
    """(experiment, params) of every series of a panel at full scale (panel params < full profile < series)."""
    full = (panel.get("scales") or {}).get("full") or {}
    base = {**(panel.get("params") or {}), **(full.get("params") or {})}
    experiment = full.get("experiment", panel.get("experiment"))
    series = panel.get("series") or {"": {}}
    full_series = full.get("series") or {}
    out = []
    for name, s in series.items():
        s = s or {}
        fs = full_series.get(name) or {}
        if s.get("kind") == "paper":
            continue
        params = {**base, **(s.get("params") or {}), **(fs.get("params") or {})}
        out.append((s.get("experiment", experiment), params))
    return out


@functools.lru_cache(maxsize=None)
def _needs(root: str) -> dict[str, tuple[tuple[str, str], ...]]:
    from repro.runner.figures import index

    needs: dict[str, list[tuple[str, str]]] = {d.name: [] for d in REGISTRY}
    for paper, figs in index().items():
        for e in figs:
            for panel in (e.meta.get("panels") or {}).values():
                if panel.get("skip") or ((panel.get("scales") or {}).get("full") or {}).get("skip"):
                    continue
                for experiment, params in _full_params(panel):
                    for d in REGISTRY:
                        if experiment and d.uses(experiment, params) and (paper, e.fig) not in needs[d.name]:
                            needs[d.name].append((paper, e.fig))
    return {k: tuple(v) for k, v in needs.items()}


def needed_by() -> dict[str, tuple[tuple[str, str], ...]]:
    """data set name -> ((paper, fig), ...) of the figure configs that read it at full scale."""
    from repro.runner.figures import conf_dir

    return _needs(str(conf_dir()))


def unmatched_real_panels() -> list[tuple[str, str, str]]:
    """(paper, fig, panel) of full-scale panels marked data: real that no registered data set (nor NO_FILES)
    covers: the consistency check between the registry and the configs."""
    from repro.runner.figures import index

    out = []
    for paper, figs in index().items():
        for e in figs:
            for alias, panel in (e.meta.get("panels") or {}).items():
                full = (panel.get("scales") or {}).get("full") or {}
                if full.get("data", panel.get("data")) != "real" or panel.get("skip") or full.get("skip"):
                    continue
                runs = [(x, p) for x, p in _full_params(panel) if x]
                covered = all(x in NO_FILES or any(d.uses(x, p) for d in REGISTRY) for x, p in runs
                              if x != "snake.reference")
                kinds = [(s or {}).get("kind") for s in (panel.get("series") or {}).values()]
                only_paper = not runs and "paper" in kinds
                if not covered or not runs and not only_paper:   # all-paper panels read ../shared/reference only
                    out.append((paper, e.fig, alias))
    return out


def for_path(relpath: str) -> DataSet | None:
    """The data set a loader's relative path belongs to (the path itself or a file under it)."""
    rel = relpath.strip("/")
    for d in REGISTRY:
        if any(rel == p or p.startswith(rel + "/") or rel.startswith(p + "/") for p in d.paths):
            return d
    return None
