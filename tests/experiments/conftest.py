"""Where the experiment tests run, and timing of the full-size smoke tests.

By default everything runs on the CPU in fp32 (CI). On a GPU box the full-size smoke tests (the few full-size steps
of each GPU entry) run on the device and report a steady-state time per step, which is what the cost estimates in
`repro list` are checked against:

    REPRO_TEST_DEVICE=cuda REPRO_TEST_PRECISION=bf16 REPRO_TEST_TIMING_STEPS=20 pytest -s -m slow tests/experiments

REPRO_TEST_TIMING_STEPS=K runs each full-size entry three times: once to warm up, then timed with its test's step
cut and with K more steps, and prints (t_long - t_short) / K: the per-step cost with set-up, compilation and data
loading subtracted. (Where another cut binds first, e.g. an epoch limit on the small generated files, the
difference is ~0: read those lines as "not measured".)
"""
import os
import time

import pytest

from repro.runner.context import RunContext

DEVICE = os.environ.get("REPRO_TEST_DEVICE", "cpu")
PRECISION = os.environ.get("REPRO_TEST_PRECISION", "fp32")
TIMING_STEPS = int(os.environ.get("REPRO_TEST_TIMING_STEPS", "0"))


@pytest.fixture
def full_size_run(capsys):
    """full_size_run(label, fn, params, seed, data_dir) -> rows of fn at full scale on the test device; with
    REPRO_TEST_TIMING_STEPS set, also prints the time per step of that full-size run."""
    def run(label, fn, params, seed, data_dir):
        def once(p):
            if DEVICE == "cuda":
                import torch
                torch.cuda.synchronize()
            t = time.perf_counter()
            ctx = RunContext(seed=seed, scale="full", data_dir=str(data_dir), device=DEVICE, precision=PRECISION)
            rows = list(fn(p, ctx))
            if DEVICE == "cuda":
                import torch
                torch.cuda.synchronize()
            return rows, time.perf_counter() - t

        rows, t_short = once(params)
        if TIMING_STEPS > 0:
            # the first run warmed caches, kernels and compilation: time the short and the long run after it
            steps = params.get("max_steps", 1)
            _, t_short = once(params)
            _, t_long = once({**params, "max_steps": steps + TIMING_STEPS})
            with capsys.disabled():
                print(f"\n  TIMING {label} [{DEVICE} {PRECISION}]: {steps} steps + set-up {t_short:.2f} s; "
                      f"{(t_long - t_short) / TIMING_STEPS * 1e3:.1f} ms per further step")
        return rows
    return run
