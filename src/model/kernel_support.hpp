// Helpers of cellvae's hand-written CPU kernels (internal, not installed).
//
// The project is built for baseline x86-64, so hand-written loops would use SSE2 only while
// LibTorch's own kernels dispatch to AVX2 at run time. CELLVAE_MULTIVERSION compiles a function
// twice, for x86-64-v3 (AVX2 + FMA: every x86 server of the last decade) and for the baseline,
// and picks one when the program loads (GCC function multi-versioning). Put it on small
// non-template functions; CELLVAE_INLINE template bodies are compiled into each version.
//
// CELLVAE_VECTOR_MATH_BEGIN / END bracket code compiled without -ftrapping-math, so that GCC
// turns branch-free selects (a < b ? a : b) followed by arithmetic into vector blends: with
// trapping math it keeps them as branches and vectorizes nothing. Results are unchanged (no
// reassociation, no fast-math); only floating-point exception flags may differ. Functions from
// other headers (std::sqrt, std::exp) are not inlined into such code and stop vectorization:
// use the ones below.
//
// Threads: the kernels split their work with at::parallel_for. LibTorch's OpenMP backend
// implements it inline in its headers (#pragma omp parallel), so it only runs in parallel in
// translation units compiled with OpenMP (-fopenmp; CMake: OpenMP::OpenMP_CXX). Without it every
// kernel here runs on the calling thread (correct, but on one core).
#pragma once

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#if !defined(_OPENMP)
#pragma message( \
    "cellvae: compiled without OpenMP: at::parallel_for in the CPU kernels runs on one thread")
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__APPLE__)
#define CELLVAE_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CELLVAE_MULTIVERSION
#endif

#if defined(__GNUC__) && !defined(__clang__)
#define CELLVAE_VECTOR_MATH_BEGIN \
  _Pragma("GCC push_options") _Pragma("GCC optimize(\"no-trapping-math\")")
#define CELLVAE_VECTOR_MATH_END _Pragma("GCC pop_options")
#else
#define CELLVAE_VECTOR_MATH_BEGIN
#define CELLVAE_VECTOR_MATH_END
#endif

#if defined(__GNUC__)
#define CELLVAE_INLINE inline __attribute__((always_inline))
#define CELLVAE_RESTRICT __restrict__
#else
#define CELLVAE_INLINE inline
#define CELLVAE_RESTRICT
#endif

namespace cellvae::kernels {

// ---- float exp and log that vectorize (Cephes' polynomials; max relative error ~1e-7) -------

/// e^x for finite x; clamped to [e^-87, e^88] (normal floats) outside [-87, 88].
CELLVAE_INLINE float exp_float(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  // n = round(x / ln 2) with the 1.5 * 2^23 trick (exact for |x / ln 2| < 2^22).
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  const float r2 = r * r;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r2 + r + 1.0f;
  const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

/// log(x) for positive normal x.
CELLVAE_INLINE float log_float(float x) {
  std::int32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const std::int32_t e = ((bits >> 23) & 0xff) - 126;  // x = m 2^e, m in [0.5, 1)
  bits = (bits & 0x807fffff) | 0x3f000000;
  float m;
  std::memcpy(&m, &bits, sizeof m);
  const bool small = m < 0.707106781186547524f;
  const float e0 = static_cast<float>(e);
  const float e1 = e0 - 1.0f;
  const float ef = small ? e1 : e0;
  const float m2 = (m + m) - 1.0f;
  const float m1 = m - 1.0f;
  m = small ? m2 : m1;
  const float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  y += -2.12194440e-4f * ef;
  y += -0.5f * z;
  return (m + y) + 0.693359375f * ef;
}

/// sqrt(x) for x >= 0 from Newton's iteration on 1/sqrt (std::sqrt does not vectorize here: the
/// library keeps its errno path); within 1 ulp of std::sqrt for normal x, 0 at 0.
CELLVAE_INLINE float sqrt_newton(float x) {
  std::int32_t i;
  std::memcpy(&i, &x, sizeof i);
  i = 0x5f3759df - (i >> 1);
  float r;
  std::memcpy(&r, &i, sizeof r);
  const float h = 0.5f * x;
  r = r * (1.5f - h * r * r);
  r = r * (1.5f - h * r * r);
  r = r * (1.5f - h * r * r);
  const float s = x * r;
  return s + 0.5f * r * (x - s * s);
}
CELLVAE_INLINE double sqrt_newton(double x) {
  std::int64_t i;
  std::memcpy(&i, &x, sizeof i);
  i = 0x5fe6eb50c7b537a9LL - (i >> 1);
  double r;
  std::memcpy(&r, &i, sizeof r);
  const double h = 0.5 * x;
  r = r * (1.5 - h * r * r);
  r = r * (1.5 - h * r * r);
  r = r * (1.5 - h * r * r);
  r = r * (1.5 - h * r * r);
  const double s = x * r;
  return s + 0.5 * r * (x - s * s);
}

/// log(1 + r) for r >= 0, accurate for tiny r (Goldberg's correction).
CELLVAE_INLINE float log1p_float(float r) {
  const float u = 1.0f + r;
  const float d = u - 1.0f;
  const bool exact = d == 0.0f;
  const float safe = exact ? 1.0f : d;
  const float l = log_float(u) * (r / safe);
  return exact ? r : l;
}

// ---- splitting work into blocks over the intra-op threads -----------------------------------

/// [begin, end) of block `b` of `n` items split into `blocks` near-equal blocks.
inline std::pair<std::int64_t, std::int64_t> block_range(std::int64_t n, std::int64_t blocks,
                                                         std::int64_t b) {
  return {n * b / blocks, n * (b + 1) / blocks};
}

/// Runs fn(block) for blocks 0..blocks-1 on the intra-op threads, without autograd recording
/// (worker threads do not inherit the caller's grad mode).
template <class Fn>
void for_blocks(std::int64_t blocks, const Fn& fn) {
  at::parallel_for(0, blocks, 1, [&](std::int64_t begin, std::int64_t end) {
    torch::NoGradGuard no_grad;
    for (std::int64_t b = begin; b < end; ++b) fn(b);
  });
}

/// Below this many entries a kernel runs on the calling thread: waking the passive OpenMP pool
/// costs more than the work (a 128 x 128 minibatch takes a few microseconds).
inline constexpr std::int64_t kMinParallelEntries = std::int64_t{1} << 16;

/// fn(begin, end) over `n` items: once on the calling thread when the kernel touches fewer than
/// kMinParallelEntries `entries`, else in min(threads, max_blocks) near-equal blocks on the
/// intra-op threads (for_blocks).
template <class Fn>
void for_ranges(std::int64_t n, std::int64_t entries, std::int64_t max_blocks, const Fn& fn) {
  const std::int64_t blocks =
      entries < kMinParallelEntries
          ? 1
          : std::max<std::int64_t>(1, std::min<std::int64_t>(at::get_num_threads(), max_blocks));
  if (blocks == 1) return fn(std::int64_t{0}, n);
  for_blocks(blocks, [&](std::int64_t b) {
    const auto [begin, end] = block_range(n, blocks, b);
    fn(begin, end);
  });
}

}  // namespace cellvae::kernels
