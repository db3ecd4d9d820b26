"""meta_alignment (Liang, Wu, Ziyin, Morency & Salakhutdinov, "Cross-Modal Generalization: Learning in Low Resource
Modalities via Meta-Alignment", arXiv 2012.02813, NeurIPS 2020 Meta-Learning workshop version; spec: catalog
meta_alignment.md): the figures' experiment functions, one module per kind of figure.

    method.py     CroMA (Algorithm 1): MetaLearner, Reptile inner/outer loops, meta-test fine-tuning, impl=paper|code
    baselines.py  the baselines' meta-training schedules (pre-training ... shared + target labels, Oracle)
    fewshot.py    meta_alignment.fewshot (fig=T1, T2, T6, T7, 5, 6, 7, 10, 11), meta_alignment.hparams (fig=T3-T5)
    tradeoff.py   tradeoff, tradeoff_paper                       fig 12 (synthetic supervised vs alignment)
    diagrams.py   paradigm, meta_aligned_space, modality_task_graph, pairs_and_training, weak_clusters
                                                                 figs 1, 2, 3, 4, 8, 9 (drawn from the task objects)

Networks repro/nn/croma.py, losses repro/nn/alignment_losses.py, Reptile step repro/optim/reptile.py, episodes
repro/data/episodes.py; task families and stand-ins repro/data/meta_alignment/ (tasks.py, standins.py).
"""
from repro.experiments.meta_alignment import baselines, diagrams, fewshot, method, tradeoff  # noqa: F401  (registration)
