"""Learning Not to Learn in the Presence of Noisy Labels (Ziyin, Chen, Wang, Liang, Salakhutdinov, Morency & Ueda,
arXiv 2002.06541): the figures' experiment functions, one module per kind of figure (spec: catalog gambler.md).
A registry name gambler.<fn> lives in:

    noisy_training.py  noisy_training                  figs 1-6, 8-10, T1, T3 (one stacked run per panel)
    coteaching.py      coteaching                      T2 (Co-teaching, Co-teaching+, Co-Gambler: pairs of networks)
    theory.py          plateau_theory, catalog         fig 7 (L*, u, the simplex minimisation); the paper's tables
    common.py          (no registry names) data sets, cells, stacks shared by the training modules
"""
from repro.experiments.gambler import coteaching, noisy_training, theory  # noqa: F401  (registration)
