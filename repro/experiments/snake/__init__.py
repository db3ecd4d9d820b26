"""Snake (Ziyin, Hartwig & Ueda, NeurIPS 2020, arXiv 2006.08195): the figures' experiment functions, one module
per kind of figure (spec: catalog snake.md). A registry name snake.<fn> lives in:

    toy.py         toy_regression, toy_truth                                         figs 1, 4, 10, 11, 12
    activation.py  shapes, variance_theory, variance_mc, activation_table, table_reference, reference,
                   forward_variance                                                  figs 2, 20, Table 1
    sequences.py   noisy_sine, update_time, rnn_periodic, signal_truth               figs 9, 13
    series.py      temperature[_data], body_temperature, body_data, market[_data], arima, eurusd[_data]
                                                                                     figs 6-8, 14-16, Table 2
    images.py      image_classification                                              figs 3, 5, 17-20

The activation is repro/nn/snake.py; models repro/nn/snake_mlp.py, snake_resnet.py, elman.py, arima.py; data
repro/data/snake_toy.py, snake_series.py, snake_images.py; statistics repro/analysis/series.py and
extrapolation.py; training repro/train/.
"""
from repro.experiments.snake import activation, images, sequences, series, toy  # noqa: F401  (registration)
