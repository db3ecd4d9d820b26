"""Analysis of experiment outputs (statistics of predictions and trained networks), below repro/experiments/."""
