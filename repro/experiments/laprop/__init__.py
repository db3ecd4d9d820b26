"""LaProp vs Adam (Ziyin, Wang & Ueda, arXiv 2002.04839): the figures' experiment functions, one module per kind
of figure (spec: catalog laprop.md). A registry name laprop.<fn> lives in:

    impulse.py      single_impulse, single_impulse_theory, reference_table          fig 1
    rosenbrock.py   noisy_rosenbrock, rosenbrock                                     figs 1, 2
    networks.py     style_transfer, deep_fc, imdb, cifar10                           figs 3, 4, 8, Table 1
    transformer.py  iwslt, roberta, reference_transformer                            figs 5, 6
    rainbow.py      rainbow, reference_rainbow                                       fig 7
"""
from repro.experiments.laprop import impulse, networks, rainbow, rosenbrock, transformer  # noqa: F401  (registration)
