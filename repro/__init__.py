"""repro: reproduce every figure of ten papers by Liu Ziyin and coauthors (2020-2022).

Layers (imports go down only):
    repro/cli.py, repro/runner/        compose, sweep, run store, dispatcher, collect, claims, report
    repro/experiments/<paper>.py       the figures' experiment functions (science only)
    repro/optim, nn, data, theory, sim, plotting
"""
__version__ = "0.1.0"
