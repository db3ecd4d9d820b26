"""Fused optimizer steps: a whole multi-tensor update as one `torch.compile`d graph.

An element-wise optimizer step is bound by memory traffic, not arithmetic: the eager multi-tensor path reads and
writes every state tensor once per `torch._foreach_*` operation (8 passes over p, g, m, n for LaProp), while
inductor fuses the whole per-tensor chain into one loop that reads p, g, m, n once and writes p, m, n once.
`benchmarks/optimizer_step.py` measures the gain (about 3x against torch.optim.Adam(foreach=True) on ResNet-18's
parameters on a 2-core CPU), and the compile time it costs (seconds, once per process and parameter layout).

Values that change during training (the learning rate, bias corrections, step sizes) go into the graph as 0-d
tensors, so that an lr schedule does not recompile; hyperparameters that stay fixed (betas, eps, weight decay,
flags) are Python constants baked into the graph (a change recompiles once). The eager foreach path of each
optimizer stays the reference (tests assert_close the two) and the fallback: if compilation fails (no C++
compiler, an unsupported platform) the optimizer warns once and steps eagerly from then on.
"""
from __future__ import annotations

import functools
import warnings

import torch


def scalar_dtype(dtype: torch.dtype) -> torch.dtype:
    """Compute type of the step's scalars: float64 for float64 parameters, else float32 (also for fp16/bf16)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


class ScalarSlots:
    """Persistent 0-d tensors, one set per (device, dtype), refilled in place every step (`fill_` enqueues on the
    current stream, so on CUDA no host-device synchronisation happens and a step stays asynchronous)."""

    def __init__(self, n: int):
        self.n = n
        self.slots: dict = {}

    def __call__(self, device, dtype, *values: float) -> tuple[torch.Tensor, ...]:
        key = (device, scalar_dtype(dtype))
        if key not in self.slots:
            self.slots[key] = tuple(torch.zeros((), dtype=key[1], device=device) for _ in range(self.n))
        out = self.slots[key]
        for t, v in zip(out, values):
            t.fill_(v)
        return out


def _compile_errors() -> tuple[type, ...]:
    """Exceptions that mean "this could not be compiled" (raised before the compiled code ran)."""
    errors = [torch._dynamo.exc.TorchDynamoException, torch._dynamo.exc.TritonUnavailableError]
    try:
        from torch._inductor import exc as inductor_exc
        errors += [getattr(inductor_exc, n) for n in ("InductorError", "CppCompileError", "CUDACompileError")
                   if hasattr(inductor_exc, n)]
    except ImportError:   # pragma: no cover
        pass
    return tuple(errors)


def fused_pays_on(params) -> bool:
    """Whether the compiled step beats the eager foreach step where `params` live: on the CPU it does (about 0.36x
    torch.optim.Adam's time on ResNet-18's parameters, 2 cores); on CUDA it does not: on an H200 (torch 2.11,
    scripts/gpu_check.sh, 2026-11-28) ResNet-18's 62 tensors took 2.23 ms per compiled step against 0.83 ms for
    the eager foreach step and 1.34 ms for torch.optim.Adam(foreach). Experiments ask for fused=True at full scale
    and get it where it pays; the two paths compute the same update (tests/optim/test_fused.py)."""
    first = params[0]
    tensor = first["params"][0] if isinstance(first, dict) else first
    return tensor.device.type == "cpu"


@functools.lru_cache(maxsize=None)
def compiled(kernel):
    """The compiled version of `kernel` (one per kernel function, shared by every optimizer instance)."""
    return torch.compile(kernel, fullgraph=True, dynamic=False)


class FusedKernel:
    """Call `kernel` compiled; on a compilation failure warn once, then call the eager `fallback` from then on.
    `failed` says whether this instance fell back."""

    def __init__(self, kernel, name: str):
        self.kernel, self.name, self.failed = kernel, name, False

    def __call__(self, *args, **kwargs) -> bool:
        """Run the fused step; False if it could not be compiled (nothing was modified: the caller steps eagerly)."""
        if self.failed:
            return False
        try:
            compiled(self.kernel)(*args, **kwargs)
            return True
        except _compile_errors() as e:   # compilation failed before anything ran
            self.failed = True
            warnings.warn(f"{self.name}: fused (torch.compile) step unavailable, using the eager foreach path: "
                          f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", stacklevel=3)
            return False
