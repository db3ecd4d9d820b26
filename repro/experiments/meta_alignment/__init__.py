"""meta_alignment (Liang, Wu, Ziyin, Morency & Salakhutdinov, "Cross-Modal Generalization: Learning in Low Resource
Modalities via Meta-Alignment", arXiv 2012.02813; spec: catalog meta_alignment.md). Modules:

    method.py     CroMA (Algorithm 1): MetaLearner, Reptile inner/outer loops, meta-test fine-tuning, impl=paper|code
    baselines.py  the baselines' meta-training schedules (pre-training ... shared + target labels, Oracle)
    fewshot.py    experiment functions: meta_alignment.fewshot (fig=T1, T2, T6, T7, 5, 6, 7, 10, 11),
                  meta_alignment.hparams (fig=T3-T5)

Networks repro/nn/croma.py, losses repro/nn/alignment_losses.py, Reptile step repro/optim/reptile.py, episodes
repro/data/episodes.py, stand-ins repro/data/meta_alignment/standins.py.
"""
from repro.experiments.meta_alignment import baselines, fewshot, method  # noqa: F401  (registration)
