"""repro.sim.subset: uniform S-subsets without replacement and their feature sums, the C++ kernel against the
vectorised torch reference (the same subsets from the same key, row by row), and the random words against the
published SplitMix64."""
import math

import pytest
import torch

from repro.sim import subset
from repro.sim.subset import SubsetSums, fields_needed, mix_reference, stream_words

METHODS = ["kernel", "torch"]


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def have_kernel():
    if subset.kernel() is None:
        pytest.skip("the C++ subset kernel could not be built here (see the warning)")


def sampler(method, *args, **kwargs):
    if method == "kernel" and subset.kernel() is None:
        pytest.skip("the C++ subset kernel could not be built here (see the warning)")
    return SubsetSums(*args, method=method, **kwargs)


def test_stream_words_are_splitmix64():
    # The first output of SplitMix64 seeded with 1234567 (the published reference generator's test value).
    assert mix_reference((1234567 + subset.GAMMA) % 2**64) == 6457827717110365317
    key, rows, width = 2**62 + 12345, 3, 7
    words = stream_words(key, rows, width)
    expected = [[mix_reference((key + (r * width + i + 1) * subset.GAMMA) % 2**64) for i in range(width)]
                for r in range(rows)]
    assert words.tolist() == [[w - 2**64 if w >= 2**63 else w for w in row] for row in expected]


@pytest.mark.parametrize("n, size, k, fields", [
    (1000, 100, 2, None),     # the catalog's setting: compile-time field width b = 10
    (37, 5, 2, None),         # runtime field width (b = 6), many rejected fields
    (1000, 100, 6, None),     # D = 2 features
    (50, 20, 12, 21),         # D = 3 features, and F = S + 1: most rows are short and redrawn
])
def test_kernel_and_torch_paths_give_the_same_subsets(have_kernel, n, size, k, fields):
    features = torch.randn(n, k, generator=gen(1), dtype=torch.float64)
    rows = 3000
    fast = SubsetSums(rows, features, size, method="kernel", fields=fields, record=True)
    ref = SubsetSums(rows, features, size, method="torch", fields=fields, record=True)
    assert (fast.method, ref.method) == ("kernel", "torch")
    for call in range(2):
        a, b = fast(gen(10 + call)), ref(gen(10 + call))
        assert torch.equal(fast.members, ref.members)
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
        # The sums are the features summed over the recorded subsets.
        torch.testing.assert_close(a, features[fast.members].sum(1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("fields", [None, 3])
def test_subsets_are_without_replacement_and_uniform(method, fields):
    """N = 6 (b = 3: fields 6 and 7 are rejected), S = 3. fields=None: the default width (short rows are rare);
    fields=3: a row succeeds only if its 3 fields are distinct and valid (~0.25), so most rows are redrawn."""
    rows, n, size = 40000, 6, 3
    s = sampler(method, rows, torch.eye(n, dtype=torch.float64)[:, :2], size, fields=fields, record=True)
    s(gen(0))
    m = s.members.sort(1).values
    assert m.shape == (rows, size) and int(m.min()) >= 0 and int(m.max()) < n
    assert torch.all(m[:, 1:] > m[:, :-1])                   # distinct within every row
    # Uniform over the 20 subsets: chi-square with 19 dof (99.99% quantile 52.6).
    code = (1 << m).sum(1)
    counts = torch.bincount(code, minlength=64)[code.unique()].double()
    assert len(counts) == 20
    expected = rows / 20
    assert float(((counts - expected) ** 2 / expected).sum()) < 52.6
    # Independent of the previous call: the same subset again with probability 1/20.
    s(gen(1))
    same = float((s.members.sort(1).values == m).all(1).double().mean())
    assert abs(same - 1 / 20) < 5 * math.sqrt(1 / 20 * 19 / 20 / rows)


@pytest.mark.parametrize("method", METHODS)
def test_uniform_when_most_fields_repeat(method):
    """S = 6 of N = 8 (b = 3, no rejected fields): the default width is ~3x S, most fields repeat an earlier one;
    the subsets stay uniform over the 28 possibilities (chi-square, 27 dof: 99.99% quantile 64.9)."""
    rows = 28_000
    s = sampler(method, rows, torch.zeros(8, 2, dtype=torch.float64), 6, record=True)
    s(gen(4))
    m = s.members.sort(1).values
    assert torch.all(m[:, 1:] > m[:, :-1])
    code = (1 << m).sum(1)
    counts = torch.bincount(code, minlength=256)[code.unique()].double()
    assert len(counts) == 28
    assert float(((counts - rows / 28) ** 2 / (rows / 28)).sum()) < 64.9


@pytest.mark.parametrize("method", METHODS)
def test_each_value_is_included_with_probability_s_over_n(method):
    rows, n, size = 20000, 1000, 100
    s = sampler(method, rows, torch.randn(n, 2, generator=gen(2), dtype=torch.float64), size, record=True)
    s(gen(3))
    inclusion = torch.bincount(s.members.flatten(), minlength=n).double() / rows
    p = size / n
    se = math.sqrt(p * (1 - p) / rows)
    assert float((inclusion - p).abs().max()) < 5 * se          # 1000 values: max |z| < 5
    assert abs(float(inclusion.sum()) - size) < 1e-9


@pytest.mark.parametrize("method", METHODS)
def test_edge_sizes(method):
    x = torch.randn(10, 2, generator=gen(4), dtype=torch.float64)
    whole = sampler(method, 500, x, 10, record=True)                  # S = N: every row is the whole set
    torch.testing.assert_close(whole(gen(5)), x.sum(0).expand(500, 2), rtol=1e-12, atol=1e-12)
    assert torch.equal(whole.members.sort(1).values, torch.arange(10).expand(500, 10))
    one = sampler(method, 200, x[:1], 1)                              # N = 1
    torch.testing.assert_close(one(gen(6)), x[:1].expand(200, 2), rtol=0, atol=0)
    exact = sampler(method, 300, torch.randn(16, 2, dtype=torch.float64), 8, record=True)  # N = 2^b
    exact(gen(7))
    assert torch.all(exact.members.sort(1).values.diff(dim=1) > 0)


def test_invalid_arguments():
    x = torch.zeros(10, 2, dtype=torch.float64)
    with pytest.raises(ValueError):
        SubsetSums(5, x, 11)
    with pytest.raises(ValueError):
        SubsetSums(5, x, 4, fields=3)
    with pytest.raises(ValueError):
        SubsetSums(5, x, 4, method="fast")


def test_default_width_makes_short_rows_rare():
    """fields_needed is the coupon-collector mean + 4.5 s.d.: rows short of S distinct values are rare (the
    Gaussian tail would say ~3e-6; the waits are right-skewed, so allow 1e-3), and a narrower width is not."""
    n, size = 1000, 100
    s = SubsetSums(50000, torch.zeros(n, 2, dtype=torch.float64), size, method="torch")
    _, counts, _ = s._rows(50000, 99)
    assert float((counts < size).double().mean()) < 1e-3
    assert s.fields >= fields_needed(n, size, 10) and s.fields % s.per_word == 0
    narrow = SubsetSums(50000, torch.zeros(n, 2, dtype=torch.float64), size, method="torch", fields=110)
    _, counts, _ = narrow._rows(50000, 99)
    assert float((counts < size).double().mean()) > 0.05


def test_auto_takes_the_torch_path_when_the_kernel_is_off(monkeypatch):
    monkeypatch.setenv("REPRO_SUBSET_KERNEL", "0")
    subset.kernel.cache_clear()
    try:
        s = SubsetSums(10, torch.zeros(20, 2, dtype=torch.float64), 5)
        assert s.method == "torch" and s(gen(8)).shape == (10, 2)
        with pytest.raises(RuntimeError, match="unavailable"):
            SubsetSums(10, torch.zeros(20, 2, dtype=torch.float64), 5, method="kernel")
    finally:
        monkeypatch.delenv("REPRO_SUBSET_KERNEL")
        subset.kernel.cache_clear()


def test_a_failed_build_warns_once_and_falls_back(monkeypatch, tmp_path):
    """A machine without a working compiler: one RuntimeWarning, then the torch path."""
    from torch.utils import cpp_extension

    def broken_load(*args, **kwargs):
        raise RuntimeError("Error building extension 'repro_subset_sums'\nc++: not found")

    monkeypatch.setattr(cpp_extension, "load", broken_load)
    subset.kernel.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="could not be built.*c\\+\\+: not found"):
            s = SubsetSums(10, torch.zeros(20, 2, dtype=torch.float64), 5)
        assert s.method == "torch"
    finally:
        monkeypatch.undo()
        subset.kernel.cache_clear()
