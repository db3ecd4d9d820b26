"""Label-noise training methods that need no training loop of their own (gambler, label_smoothing, volumization):

    early_stopping.py  stateful stopping rules with one interface, update(epoch, metrics) -> stop?: the gambler's
                       analytical rule (epoch-mean, as coded, and Algorithm 1's per-batch rule), validation early
                       stopping, the baselines' train-accuracy rule, a flag for total abstention; each records
                       its stopping epoch and the one before it
    baselines.py       the defining steps of the T2 baselines as pure functions: F-correction (the forward-corrected
                       loss, the anchor-point estimate of the transition matrix), Co-teaching (forget-rate schedule,
                       small-loss cross selection, the kept rows' label precision), Co-teaching+ (disagreement
                       filter), Co-Gambler
    model_setups.py    each network of repro/nn/noisy_nets.py with its paper's real loader, noise, loss, optimizer and
                       batch (one batch ready to step: the full-size smoke tests and benchmarks/bench_noisy_models.py)

The loss itself is repro/nn/gambler_loss.py, the noise repro/data/noisy_labels.py, the plateau theory
repro/theory/gambler.py; the loop that calls these is the training layer's `fit` (hooks on_step / on_epoch_end).
"""
