// Sums of per-sample features over one uniform S-subset (a minibatch without replacement) per row: the compiled
// path of repro/sim/subset.py, which documents the algorithm and holds the vectorised torch reference that this
// must agree with (same subsets from the same random words; sums equal to float64 round-off).
//
// Row r's random words are SplitMix64 outputs of a counter, word(r, i) = mix(key + (r·W + i + 1)·γ) (the
// generator of Java's SplittableRandom: Steele, Lea & Flood 2014), so rows are independent of how they are split
// among threads and the torch path reproduces them exactly. Each word is cut into `per_word` = 64 / bits fields,
// low bits first. A field >= n is skipped (rejection); the row's subset is the first `size` distinct valid values
// of its first `fields` fields. A per-thread stamp table (one uint32 per value, stamp = row number within the
// chunk) marks taken values, so nothing is cleared between rows. Rows with fewer than `size` distinct values
// report their count and are redrawn by the caller.
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace {

constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ULL;

inline uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// The rows [begin, end). Field j of a row goes to accumulator j mod 4: a0..a3 rotate after every field, so all
// four stay in registers (and with BITS fixed at compile time the rotation unrolls into register renaming).
// `take` is a 0/1 factor: no data-dependent branches. A word that cannot complete the subset (it ends before
// field `size`) or reach past `fields` skips those two checks.
template <int64_t K, int64_t BITS, bool RECORD>
void rows(uint64_t key, const double* features, int64_t n, int64_t size, int64_t bits_runtime,
          int64_t fields, int64_t words_per_row, double* out, int64_t* counts, int64_t* members, int64_t begin,
          int64_t end) {
  const int64_t bits = BITS > 0 ? BITS : bits_runtime;
  const int64_t per_word = 64 / bits;
  const uint64_t mask = (uint64_t(1) << bits) - 1;  // bits <= 24 (checked by subset_sums)
  const int64_t unchecked = std::min(size, fields);
  std::vector<uint32_t> stamp_table(size_t(1) << bits, 0);
  uint32_t* stamp = stamp_table.data();
  for (int64_t r = begin; r < end; ++r) {
    const uint32_t mark = uint32_t(r - begin + 1);
    const uint64_t counter = key + uint64_t(r * words_per_row + 1) * kGamma;
    int64_t* kept = RECORD ? members + r * size : nullptr;
    double a0[K] = {}, a1[K] = {}, a2[K] = {}, a3[K] = {};
    int64_t taken = 0, slot = 0;
    for (int64_t wi = 0; wi < words_per_row && taken < size && slot < fields; ++wi) {
      uint64_t word = mix(counter + uint64_t(wi) * kGamma);
      const bool check = slot + per_word > unchecked;
      for (int64_t f = 0; f < per_word; ++f, word >>= bits) {
        const uint32_t v = uint32_t(word & mask);
        uint32_t take = uint32_t(v < uint64_t(n)) & uint32_t(stamp[v] != mark);
        if (check) take &= uint32_t(taken < size) & uint32_t(slot + f < fields);
        stamp[v] = take ? mark : stamp[v];
        const double t = double(take);
        const double* x = features + int64_t(v) * K;
        for (int64_t k = 0; k < K; ++k) {
          const double sum = a0[k] + t * x[k];
          a0[k] = a1[k]; a1[k] = a2[k]; a2[k] = a3[k]; a3[k] = sum;
        }
        if (RECORD && take) kept[taken] = int64_t(v);
        taken += take;
      }
      slot += per_word;
    }
    // The last field read went to a3, the one before to a2, ...: field class c (j mod 4 = c) is in
    // ring[(c - slot) mod 4]. Fields read past the end (their take is 0) rotate too, so `slot` counts them.
    const double* ring[4] = {a0, a1, a2, a3};
    const double* by_class[4];
    for (int64_t c = 0; c < 4; ++c) by_class[c] = ring[(c - slot % 4 + 4) % 4];
    for (int64_t k = 0; k < K; ++k)
      out[r * K + k] = (by_class[0][k] + by_class[1][k]) + (by_class[2][k] + by_class[3][k]);
    counts[r] = taken;
  }
}

template <int64_t K, int64_t BITS>
void dispatch_record(bool record, uint64_t w, const double* x, int64_t n, int64_t size, int64_t bits,
                     int64_t fields, int64_t W, double* o, int64_t* c, int64_t* m, int64_t begin, int64_t end) {
  if (record)
    rows<K, BITS, true>(w, x, n, size, bits, fields, W, o, c, m, begin, end);
  else
    rows<K, BITS, false>(w, x, n, size, bits, fields, W, o, c, m, begin, end);
}

// b = 10 (N in 513..1024: the catalog's N = 1000) gets a compile-time field width; other N the runtime one.
template <int64_t K>
void dispatch_bits(bool record, uint64_t w, const double* x, int64_t n, int64_t size, int64_t bits,
                   int64_t fields, int64_t W, double* o, int64_t* c, int64_t* m, int64_t begin, int64_t end) {
  if (bits == 10)
    dispatch_record<K, 10>(record, w, x, n, size, bits, fields, W, o, c, m, begin, end);
  else
    dispatch_record<K, 0>(record, w, x, n, size, bits, fields, W, o, c, m, begin, end);
}

}  // namespace

// key: the call's stream key; R rows of W = ceil(fields / per_word) words; features [2^bits + 1, K] float64 (rows
// >= n are only ever read with weight 0); out [R, K] float64; members: [R, size] int64 to record the subsets, or an
// empty tensor. Returns counts [R] int64 (== size unless the row is short).
torch::Tensor subset_sums(int64_t key, int64_t rows_count, const torch::Tensor& features, int64_t n, int64_t size,
                          int64_t bits, int64_t fields, torch::Tensor out, torch::Tensor members) {
  TORCH_CHECK(bits >= 1 && bits <= 24 && features.device().is_cpu() &&
              features.scalar_type() == torch::kFloat64 && features.dim() == 2 && features.is_contiguous() &&
              features.size(0) > (int64_t(1) << bits), "features: contiguous float64 [2^bits + 1, K] on the CPU");
  const int64_t R = rows_count, K = features.size(1), per_word = 64 / bits;
  const int64_t W = (fields + per_word - 1) / per_word;
  TORCH_CHECK(1 <= size && size <= n && n <= (int64_t(1) << bits) && size <= fields,
              "need 1 <= size <= n <= 2^bits and size <= fields");
  TORCH_CHECK(out.scalar_type() == torch::kFloat64 && out.is_contiguous() && out.dim() == 2 && out.size(0) == R &&
              out.size(1) == K, "out: contiguous float64 [R, K]");
  TORCH_CHECK(K == 2 || K == 6 || K == 12, "K must be 2, 6 or 12 (D = 1, 2, 3 features D² + D)");
  const bool record = members.numel() > 0;
  TORCH_CHECK(!record || (members.scalar_type() == torch::kInt64 && members.is_contiguous() &&
                          members.size(0) == R && members.size(1) == size),
              "members: contiguous int64 [R, size] or empty");
  auto counts = torch::empty({R}, torch::kInt64);
  const uint64_t k = uint64_t(key);
  const double* x = features.data_ptr<double>();
  double* o = out.data_ptr<double>();
  int64_t* c = counts.data_ptr<int64_t>();
  int64_t* m = record ? members.data_ptr<int64_t>() : nullptr;
  at::parallel_for(0, R, 512, [&](int64_t begin, int64_t end) {
    switch (K) {  // the feature counts of D = 1, 2, 3 (D² + D)
      case 2: dispatch_bits<2>(record, k, x, n, size, bits, fields, W, o, c, m, begin, end); break;
      case 6: dispatch_bits<6>(record, k, x, n, size, bits, fields, W, o, c, m, begin, end); break;
      case 12: dispatch_bits<12>(record, k, x, n, size, bits, fields, W, o, c, m, begin, end); break;
    }
  });
  return counts;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, module) {
  module.def("subset_sums", &subset_sums, "feature sums over the first S distinct valid fields of each row");
}
