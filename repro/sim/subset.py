"""Sums of per-sample features over independent uniform S-subsets of N samples (minibatches without replacement),
one subset per row and call: the sampler of the minibatch simulations of arXiv 2012.03636 (Figs 2(b), 3(d–f),
4(b), 9(b), `sampling=subset`), which need Σ_{i∈B} f_i for a fresh B per chain and step.

Algorithm. Each row reads its random words as a stream of b-bit fields, b = ⌈log₂ N⌉, ⌊64/b⌋ fields per word,
low bits first. A field ≥ N is skipped, so the remaining fields are i.i.d. exactly uniform on {0..N−1} (no modulo
bias, unlike `randint`'s 2⁻³²-order bias). The row's subset is the first S distinct values of its first F fields.
That set is uniform over the S-subsets: the rule depends only on which fields are equal and on their order, so it
commutes with every relabelling of {0..N−1}. A row with fewer than S distinct values among its F fields ("short")
is redrawn whole with a new key, a rejection whose event is itself relabelling-invariant, so the law stays
uniform. F is the coupon-collector mean of the fields needed plus 4.5 standard deviations, in whole words
(N = 1000, S = 100: 126 fields in 21 words; measured 6e-7 of the rows are short).

Random words: SplitMix64 (Steele, Lea & Flood 2014; the generator of Java's SplittableRandom) of a counter,
word(r, i) = mix(key + (r·W + i + 1)·γ), with one 63-bit key per call drawn from the run's torch generator, so a
run is reproducible from its seed and a row's words do not depend on how rows are split among threads. (torch's
mt19937 `random_()` costs ~2.6 ns a word, 40% of the kernel's time; SplitMix64 in the loop ~0.5 ns.)

Two paths, the same subsets from the same key (tests/sim/test_subset.py checks this row by row):
- ``kernel`` (csrc/subset_sums.cpp): a per-row C++ loop with a stamp table that stays in L1, built once by
  torch.utils.cpp_extension (~20 s with g++ and ninja; cached under ~/.cache/torch_extensions, or
  $TORCH_EXTENSIONS_DIR). On one core at 10⁴ rows, N = 1000, S = 100: ~150 ns per row, words included, against
  ~700 ns for the earlier vectorised sampler (ownership by scatter, then embedding_bag) and ~1.9 µs for the torch
  path below.
- ``torch``: the vectorised reference: first-occurrence ownership through a [rows, 2^b] table (scatter_reduce
  amin of slot numbers), rank by cumsum, a take-and-sum per feature column. Used when the kernel cannot be
  built (no compiler: one warning line), for tensors off the CPU, or on request (``REPRO_SUBSET_KERNEL=0``).
Both sum in float64 (the features are float64), so the paths agree to float64 round-off and the float32 results
the simulator keeps almost always agree bit for bit.
"""
from __future__ import annotations

import functools
import logging
import math
import os
import warnings
from pathlib import Path

import torch

Tensor = torch.Tensor
SOURCE = Path(__file__).with_name("csrc") / "subset_sums.cpp"
KERNEL_FEATURES = (2, 6, 12)     # D² + D for D = 1, 2, 3: the feature counts the kernel is compiled for


@functools.cache
def kernel():
    """The compiled module, or None where it cannot be built (a warning says why) or REPRO_SUBSET_KERNEL=0."""
    if os.environ.get("REPRO_SUBSET_KERNEL", "1") == "0":
        return None
    # cpp_extension logs "No CUDA runtime is found" (on import) on CPU-only machines: irrelevant to a CPU kernel.
    logger = logging.getLogger("torch.utils.cpp_extension")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        from torch.utils import cpp_extension
        return cpp_extension.load(name="repro_subset_sums", sources=[str(SOURCE)], extra_cflags=["-O3"],
                                  verbose=False)
    except Exception as error:  # no compiler, no ninja, read-only cache...: the torch path gives the same subsets
        last_line = (str(error).strip().splitlines() or [""])[-1]
        warnings.warn(f"repro.sim.subset: the C++ subset kernel could not be built ({type(error).__name__}: "
                      f"{last_line}); using the slower torch path (same subsets)", RuntimeWarning, stacklevel=2)
        return None
    finally:
        logger.setLevel(level)


def field_bits(n: int) -> int:
    return max(1, math.ceil(math.log2(n)))


def fields_needed(n: int, size: int, bits: int, sds: float = 4.5) -> int:
    """Fields per row: mean + `sds` s.d. of the number of b-bit fields it takes to see `size` distinct values
    of {0..n−1} (a sum of geometric waits with success probabilities (n − i)/2^b, i < size)."""
    p = [(n - i) / 2**bits for i in range(size)]
    mean = sum(1 / q for q in p)
    sd = math.sqrt(sum((1 - q) / q**2 for q in p))
    return math.ceil(mean + sds * sd)


class SubsetSums:
    """Callable: `sums = SubsetSums(rows, features, size)(generator)` gives [rows, K] float64 sums of the [N, K]
    features over an independent uniform `size`-subset per row (and per call).

    ``method``: "auto" (the kernel when the features are on the CPU and it builds, else torch), "kernel" or
    "torch". ``fields`` overrides F (tests use a small F to force many short rows). ``record=True`` keeps the
    last call's subsets in ``members`` ([rows, size], in draw order) for tests and inspection."""

    def __init__(self, rows: int, features: Tensor, size: int, method: str = "auto", fields: int | None = None,
                 record: bool = False):
        n, k = features.shape
        if not 1 <= size <= n:
            raise ValueError(f"subset size {size} must lie in [1, N={n}]")
        if method not in ("auto", "kernel", "torch"):
            raise ValueError(f"unknown method {method!r}")
        self.rows, self.n, self.size, self.k = rows, n, size, k
        self.bits = field_bits(n)
        if self.bits > 24:
            raise ValueError(f"N = {n} > 2^24: the value table would not fit in cache")
        self.per_word = 64 // self.bits
        self.fields = fields_needed(n, size, self.bits) if fields is None else int(fields)
        if self.fields < size:
            raise ValueError(f"fields={self.fields} < size={size}: every row would be short")
        self.words = -(-self.fields // self.per_word)
        if fields is None:
            self.fields = self.words * self.per_word                 # whole words: use every field drawn
        device = features.device
        # Padded to 2^b rows so that any field indexes a row; padding rows are only ever read with weight 0. The
        # torch path also sends the fields it does not keep to row 2^b (zero).
        self.features = torch.zeros(2**self.bits + 1, k, dtype=torch.float64, device=device)
        self.features[:n] = features.to(torch.float64)
        self.module = None
        if method != "torch" and device.type == "cpu" and k in KERNEL_FEATURES:
            self.module = kernel()
        if method == "kernel" and self.module is None:
            raise RuntimeError("method='kernel' but the C++ subset kernel is unavailable")
        self.record = record
        self.members: Tensor | None = None
        self._first: Tensor | None = None            # the torch path's first-occurrence table and feature columns,
        self._columns: Tensor | None = None          # made on its first call

    @property
    def method(self) -> str:
        return "kernel" if self.module is not None else "torch"

    def __call__(self, generator: torch.Generator) -> Tensor:
        out, counts, members = self._rows(self.rows, _key(generator))
        short = (counts != self.size).nonzero().squeeze(1)
        while short.numel():                                         # short rows: redrawn whole, with a new key
            sums, counts, kept = self._rows(short.numel(), _key(generator))
            ok = counts == self.size
            out[short[ok]] = sums[ok]
            if self.record:
                members[short[ok]] = kept[ok]
            short = short[~ok]
        if self.record:
            self.members = members
        return out

    def _rows(self, r: int, key: int) -> tuple[Tensor, Tensor, Tensor]:
        """(sums [r, K], counts [r], members [r, size] or empty) of r rows of the stream `key`."""
        if self.module is not None:
            sums = torch.empty(r, self.k, dtype=torch.float64)
            kept = torch.empty(r if self.record else 0, self.size, dtype=torch.int64)
            counts = self.module.subset_sums(key, r, self.features, self.n, self.size, self.bits, self.fields,
                                             sums, kept)
            return sums, counts, kept
        return self._rows_torch(r, key)

    def _rows_torch(self, r: int, key: int) -> tuple[Tensor, Tensor, Tensor]:
        device, F, S = self.features.device, self.fields, self.size
        words = stream_words(key, r, self.words, device)
        shifts = torch.arange(self.per_word, device=device) * self.bits
        # `>>` is arithmetic on int64, but the mask keeps exactly bits [shift, shift + b) (shift + b <= 64).
        values = ((words.unsqueeze(-1) >> shifts) & (2**self.bits - 1)).view(r, -1)[:, :F].contiguous()
        # First occurrence of each value: scatter_reduce("amin") of slot numbers into a [rows, 2^b] table kept
        # between calls (int16 where the slots fit) and reset afterwards at the touched cells only.
        if self._first is None:
            dtype = torch.int16 if F < 2**15 else torch.int32
            self._first = torch.full((self.rows, 2**self.bits), F, dtype=dtype, device=device)
            self._columns = self.features.T.contiguous()
        first = self._first[:r]
        slot = torch.arange(F, dtype=first.dtype, device=device).expand(r, F)
        first.scatter_reduce_(1, values, slot, reduce="amin")
        owner = (first.gather(1, values) == slot) & (values < self.n)
        first.scatter_(1, values, F)
        keep = owner & (owner.cumsum(1, dtype=torch.int32) <= S)
        counts = keep.sum(1)
        # One take-and-sum per feature column: 5x faster than embedding_bag, whose float64 path is not vectorised.
        kept_values = torch.where(keep, values, 2**self.bits)
        sums = torch.stack([column.take(kept_values).sum(1) for column in self._columns], 1)
        kept = torch.empty(0, S, dtype=torch.int64, device=device)
        if self.record:
            full = counts == S
            kept = torch.zeros(r, S, dtype=torch.int64, device=device)
            kept[full] = values[full][keep[full]].view(-1, S)
        return sums, counts, kept


# ----------------------------------------------------------------------------------------------------------
# The random words: SplitMix64 of a counter (Steele, Lea & Flood 2014; Java's SplittableRandom), keyed per call.

GAMMA, MIX1, MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def _int64(c: int) -> int:
    """The int64 with the bits of the uint64 constant c (torch has no general uint64 arithmetic)."""
    return c - (1 << 64) if c >= 1 << 63 else c


def _key(generator: torch.Generator) -> int:
    """63 uniform bits from the torch generator: the key of one call's stream."""
    return int(torch.empty((), dtype=torch.int64, device=generator.device).random_(generator=generator))


def _shift_right(z: Tensor, k: int) -> Tensor:
    """Logical right shift of int64 bit patterns (torch's >> is arithmetic)."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def stream_words(key: int, rows: int, width: int, device="cpu") -> Tensor:
    """[rows, width] int64 words word(r, i) = mix(key + (r·width + i + 1)·γ), bit for bit the kernel's (int64
    multiplication wraps modulo 2⁶⁴ like uint64)."""
    counter = torch.arange(1, rows * width + 1, dtype=torch.int64, device=device).view(rows, width)
    z = counter * _int64(GAMMA) + _int64(key % (1 << 64))
    z = (z ^ _shift_right(z, 30)) * _int64(MIX1)
    z = (z ^ _shift_right(z, 27)) * _int64(MIX2)
    return z ^ _shift_right(z, 31)


def mix_reference(z: int) -> int:
    """SplitMix64's output function on python ints (the published algorithm), for tests."""
    m = (1 << 64) - 1
    z = ((z ^ (z >> 30)) * MIX1) & m
    z = ((z ^ (z >> 27)) * MIX2) & m
    return z ^ (z >> 31)
