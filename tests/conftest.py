"""Under pytest-xdist (`make test` runs one worker per core) each worker keeps to one torch thread, and so do the
`repro` processes the tests start (OMP_NUM_THREADS is inherited): two workers with two threads each on CI's two
cores spend their time waiting for each other."""
import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)

# The ~140 tiny figures of tests/test_figures.py reuse their worker processes (repro/runner/dispatch.py) instead of
# starting two and importing torch again for each figure.
os.environ.setdefault("REPRO_REUSE_WORKERS", "1")
