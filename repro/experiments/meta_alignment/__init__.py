"""meta_alignment (Liang, Wu, Ziyin, Morency, Salakhutdinov; arXiv 2012.02813, NeurIPS 2020 Meta-Learning workshop
version): the figures' experiment functions, one module per kind of figure (spec: catalog meta_alignment.md).

    tradeoff.py   tradeoff, tradeoff_paper                       fig 12 (synthetic supervised vs alignment)
    diagrams.py   paradigm, meta_aligned_space, modality_task_graph, pairs_and_training, weak_clusters
                                                                 figs 1, 2, 3, 4, 8, 9 (drawn from the task objects)

Task families (text->image, image->audio, text->speech and the tiny stand-ins): repro/data/meta_alignment/tasks.py.
"""
from repro.experiments.meta_alignment import diagrams, tradeoff  # noqa: F401  (registration)
