"""Volumization as a Natural Generalization of Weight Decay (Liu Ziyin, Zihao Wang, Makoto Yamada, Masahito Ueda;
arXiv 2003.11243): the figures' experiment functions, one module per kind (spec ../shared/catalog/volumization.md;
the step repro/optim/volumization.py; the authors' numbers ../shared/reference/volumization/):

    diagrams.py     step_illustration, phase_diagram, reference_heatmap, bias_variance_*    fig 1, 2, 18
    sweeps.py       noise_sweep (one stacked run per sweep), settings_sweep (several data   fig 3-14, T1, T2
                    sets), reference_sweep, reference_grid (the authors' tables)
    analyses.py     weight_histograms, binarization, adversarial, reference_attacks        fig 15, 16, 17
    finetune.py     efficientnet_finetune, reference_efficientnet                          fig T3
"""
from repro.experiments.volumization import analyses, diagrams, finetune, sweeps  # noqa: F401  (registration)
