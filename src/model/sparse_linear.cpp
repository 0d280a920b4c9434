#include "cellvae/model/sparse_linear.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "kernel_support.hpp"

namespace cellvae::model {
namespace {

constexpr std::int64_t kTile = 16;

// out = inᵀ for input rows [r0, r1) of a rows x cols `in` (out is cols x rows), in tiles.
template <class T>
CELLVAE_INLINE void transpose_impl(const T* CELLVAE_RESTRICT in, T* CELLVAE_RESTRICT out,
                                   std::int64_t rows, std::int64_t cols, std::int64_t r0,
                                   std::int64_t r1) {
  for (std::int64_t rb = r0; rb < r1; rb += kTile) {
    const std::int64_t re = std::min(r1, rb + kTile);
    for (std::int64_t cb = 0; cb < cols; cb += kTile) {
      const std::int64_t ce = std::min(cols, cb + kTile);
      for (std::int64_t c = cb; c < ce; ++c)
        for (std::int64_t r = rb; r < re; ++r) out[c * rows + r] = in[r * cols + c];
    }
  }
}

// Float: 8 x 8 blocks transposed in registers (three rounds of shuffles, GCC vector extensions;
// vunpck / vshufps / vperm2f128 with AVX), the edges as above. Four times faster than the tiled
// loop, which moves one float per load and store.
CELLVAE_MULTIVERSION
void transpose_rows(const float* in, float* out, std::int64_t rows, std::int64_t cols,
                    std::int64_t r0, std::int64_t r1) {
  typedef float V __attribute__((vector_size(8 * sizeof(float))));
  typedef std::int32_t I __attribute__((vector_size(8 * sizeof(std::int32_t))));
  const I lo_pairs{0, 8, 1, 9, 4, 12, 5, 13}, hi_pairs{2, 10, 3, 11, 6, 14, 7, 15};
  const I lo_quads{0, 1, 8, 9, 4, 5, 12, 13}, hi_quads{2, 3, 10, 11, 6, 7, 14, 15};
  const I lo_halves{0, 1, 2, 3, 8, 9, 10, 11}, hi_halves{4, 5, 6, 7, 12, 13, 14, 15};
  const std::int64_t c8 = cols / 8 * 8;
  std::int64_t r = r0;
  for (; r + 8 <= r1; r += 8) {
    for (std::int64_t c = 0; c < c8; c += 8) {
      V a[8], t[8], u[8];
      for (int i = 0; i < 8; ++i) std::memcpy(&a[i], in + (r + i) * cols + c, sizeof(V));
      for (int i = 0; i < 8; i += 2) {  // a[i][j] = A(r+i, c+j)
        t[i] = __builtin_shuffle(a[i], a[i + 1], lo_pairs);
        t[i + 1] = __builtin_shuffle(a[i], a[i + 1], hi_pairs);
      }
      for (int i = 0; i < 8; i += 4) {
        u[i] = __builtin_shuffle(t[i], t[i + 2], lo_quads);
        u[i + 1] = __builtin_shuffle(t[i], t[i + 2], hi_quads);
        u[i + 2] = __builtin_shuffle(t[i + 1], t[i + 3], lo_quads);
        u[i + 3] = __builtin_shuffle(t[i + 1], t[i + 3], hi_quads);
      }
      for (int j = 0; j < 4; ++j) {  // u[j] holds columns j and j + 4 of rows 0-3; u[j+4] of 4-7
        const V column = __builtin_shuffle(u[j], u[j + 4], lo_halves);
        const V column4 = __builtin_shuffle(u[j], u[j + 4], hi_halves);
        std::memcpy(out + (c + j) * rows + r, &column, sizeof(V));
        std::memcpy(out + (c + j + 4) * rows + r, &column4, sizeof(V));
      }
    }
    for (std::int64_t c = c8; c < cols; ++c)
      for (std::int64_t i = r; i < r + 8; ++i) out[c * rows + i] = in[i * cols + c];
  }
  if (r < r1) transpose_impl(in, out, rows, cols, r, r1);
}
CELLVAE_MULTIVERSION
void transpose_rows(const double* in, double* out, std::int64_t rows, std::int64_t cols,
                    std::int64_t r0, std::int64_t r1) {
  transpose_impl(in, out, rows, cols, r0, r1);
}

// Raw views of a CsrRows and the extra one-hot columns.
template <class T>
struct Rows {
  const std::int64_t* indptr;
  const std::int32_t* indices;
  const T* values;
  const std::int64_t* extra;  // cells x n_extra, or null
  std::int64_t n_extra;
  std::int64_t n_cols;  // of x (extra columns lie beyond)
};

// y rows [begin, end) = b + x_i Wt (Wt is K x h). Returns the first row with an index out of
// range or not ascending, or -1.
template <class T>
CELLVAE_INLINE std::int64_t forward_impl(const Rows<T>& x, const T* CELLVAE_RESTRICT wt,
                                         const T* CELLVAE_RESTRICT bias, T* CELLVAE_RESTRICT y,
                                         std::int64_t h, std::int64_t k_cols, std::int64_t begin,
                                         std::int64_t end) {
  for (std::int64_t i = begin; i < end; ++i) {
    T* CELLVAE_RESTRICT yi = y + i * h;
    if (bias)
      for (std::int64_t j = 0; j < h; ++j) yi[j] = bias[j];
    else
      for (std::int64_t j = 0; j < h; ++j) yi[j] = T(0);
    std::int64_t k = x.indptr[i];
    const std::int64_t e = x.indptr[i + 1];
    std::int32_t previous = -1;
    for (std::int64_t q = k; q < e; ++q) {
      const std::int32_t c = x.indices[q];
      if (c <= previous || c >= x.n_cols) return i;
      previous = c;
    }
    for (; k + 4 <= e; k += 4) {
      const T v0 = x.values[k], v1 = x.values[k + 1], v2 = x.values[k + 2], v3 = x.values[k + 3];
      const T* CELLVAE_RESTRICT w0 = wt + static_cast<std::int64_t>(x.indices[k]) * h;
      const T* CELLVAE_RESTRICT w1 = wt + static_cast<std::int64_t>(x.indices[k + 1]) * h;
      const T* CELLVAE_RESTRICT w2 = wt + static_cast<std::int64_t>(x.indices[k + 2]) * h;
      const T* CELLVAE_RESTRICT w3 = wt + static_cast<std::int64_t>(x.indices[k + 3]) * h;
      for (std::int64_t j = 0; j < h; ++j)
        yi[j] += (v0 * w0[j] + v1 * w1[j]) + (v2 * w2[j] + v3 * w3[j]);
    }
    for (; k < e; ++k) {
      const T v = x.values[k];
      const T* CELLVAE_RESTRICT w = wt + static_cast<std::int64_t>(x.indices[k]) * h;
      for (std::int64_t j = 0; j < h; ++j) yi[j] += v * w[j];
    }
    for (std::int64_t q = 0; q < x.n_extra; ++q) {
      const std::int64_t c = x.extra[i * x.n_extra + q];
      if (c < x.n_cols || c >= k_cols) return i;
      const T* CELLVAE_RESTRICT w = wt + c * h;
      for (std::int64_t j = 0; j < h; ++j) yi[j] += w[j];
    }
  }
  return -1;
}

// dWt rows [c0, c1) (K x h) = sum over cells of x_ic dy_i, for columns c in [c0, c1) only:
// each row's columns in range are found by binary search (indices ascend within a row).
template <class T>
CELLVAE_INLINE void backward_impl(const Rows<T>& x, std::int64_t cells,
                                  const T* CELLVAE_RESTRICT dy, T* CELLVAE_RESTRICT dwt,
                                  std::int64_t h, std::int64_t c0, std::int64_t c1) {
  std::memset(dwt + c0 * h, 0, static_cast<std::size_t>((c1 - c0) * h) * sizeof(T));
  const bool has_genes = c0 < x.n_cols;
  for (std::int64_t i = 0; i < cells; ++i) {
    const T* CELLVAE_RESTRICT d = dy + i * h;
    if (has_genes) {
      const std::int32_t* first = x.indices + x.indptr[i];
      const std::int32_t* last = x.indices + x.indptr[i + 1];
      const std::int32_t* lo =
          c0 == 0 ? first : std::lower_bound(first, last, static_cast<std::int32_t>(c0));
      const std::int32_t* hi =
          c1 >= x.n_cols ? last : std::lower_bound(lo, last, static_cast<std::int32_t>(c1));
      for (const std::int32_t* p = lo; p < hi; ++p) {
        const T v = x.values[p - x.indices];
        T* CELLVAE_RESTRICT w = dwt + static_cast<std::int64_t>(*p) * h;
        for (std::int64_t j = 0; j < h; ++j) w[j] += v * d[j];
      }
    }
    for (std::int64_t q = 0; q < x.n_extra; ++q) {
      const std::int64_t c = x.extra[i * x.n_extra + q];
      if (c < c0 || c >= c1) continue;
      T* CELLVAE_RESTRICT w = dwt + c * h;
      for (std::int64_t j = 0; j < h; ++j) w[j] += d[j];
    }
  }
}

CELLVAE_MULTIVERSION
std::int64_t forward_rows(const Rows<float>& x, const float* wt, const float* bias, float* y,
                          std::int64_t h, std::int64_t k, std::int64_t begin, std::int64_t end) {
  return forward_impl(x, wt, bias, y, h, k, begin, end);
}
CELLVAE_MULTIVERSION
std::int64_t forward_rows(const Rows<double>& x, const double* wt, const double* bias, double* y,
                          std::int64_t h, std::int64_t k, std::int64_t begin, std::int64_t end) {
  return forward_impl(x, wt, bias, y, h, k, begin, end);
}
CELLVAE_MULTIVERSION
void backward_columns(const Rows<float>& x, std::int64_t cells, const float* dy, float* dwt,
                      std::int64_t h, std::int64_t c0, std::int64_t c1) {
  backward_impl(x, cells, dy, dwt, h, c0, c1);
}
CELLVAE_MULTIVERSION
void backward_columns(const Rows<double>& x, std::int64_t cells, const double* dy, double* dwt,
                      std::int64_t h, std::int64_t c0, std::int64_t c1) {
  backward_impl(x, cells, dy, dwt, h, c0, c1);
}

// out = inᵀ (in: rows x cols, contiguous), rows split over threads.
template <class T>
void parallel_transpose(const T* in, T* out, std::int64_t rows, std::int64_t cols) {
  const std::int64_t grain = std::max<std::int64_t>(16, 16384 / std::max<std::int64_t>(cols, 1));
  at::parallel_for(0, rows, grain, [&](std::int64_t begin, std::int64_t end) {
    transpose_rows(in, out, rows, cols, begin, end);
  });
}

template <class T>
Rows<T> rows_of(const torch::Tensor& indptr, const torch::Tensor& indices,
                const torch::Tensor& values, const torch::Tensor& extra, std::int64_t n_cols) {
  return {indptr.data_ptr<std::int64_t>(), indices.data_ptr<std::int32_t>(),
          values.data_ptr<T>(), extra.defined() ? extra.data_ptr<std::int64_t>() : nullptr,
          extra.defined() ? extra.size(1) : 0, n_cols};
}

struct SparseLinearFunction : public torch::autograd::Function<SparseLinearFunction> {
  // `bias` is an empty tensor when there is none (autograd Functions take no undefined ones).
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& weight,
                               const torch::Tensor& bias, const torch::Tensor& indptr,
                               const torch::Tensor& indices, const torch::Tensor& values,
                               const torch::Tensor& extra, std::int64_t n_cols) {
    const std::int64_t cells = indptr.numel() - 1, h = weight.size(0), k = weight.size(1);
    const bool has_bias = bias.numel() > 0;
    torch::Tensor wt = torch::empty({k, h}, weight.options());
    torch::Tensor y = torch::empty({cells, h}, weight.options());
    const torch::Tensor w = weight.contiguous();
    std::atomic<std::int64_t> bad{-1};
    AT_DISPATCH_FLOATING_TYPES(weight.scalar_type(), "sparse_linear_forward", [&] {
      parallel_transpose(w.data_ptr<scalar_t>(), wt.data_ptr<scalar_t>(), h, k);
      const Rows<scalar_t> x = rows_of<scalar_t>(indptr, indices, values, extra, n_cols);
      const scalar_t* b = has_bias ? bias.data_ptr<scalar_t>() : nullptr;
      scalar_t* out = y.data_ptr<scalar_t>();
      const scalar_t* wtp = wt.data_ptr<scalar_t>();
      at::parallel_for(0, cells, 4, [&](std::int64_t begin, std::int64_t end) {
        const std::int64_t r = forward_rows(x, wtp, b, out, h, k, begin, end);
        if (r >= 0) bad.store(r);
      });
    });
    if (bad.load() >= 0)
      throw std::invalid_argument(
          "sparse_linear: row " + std::to_string(bad.load()) +
          " has a column index out of range or not ascending (or a one-hot column outside [" +
          std::to_string(n_cols) + ", " + std::to_string(k) + "))");
    ctx->saved_data["indptr"] = indptr;
    ctx->saved_data["indices"] = indices;
    ctx->saved_data["values"] = values;
    ctx->saved_data["extra"] = extra;
    ctx->saved_data["n_cols"] = n_cols;
    ctx->saved_data["k"] = k;
    ctx->saved_data["has_bias"] = has_bias;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const torch::Tensor dy = grad_outputs[0].contiguous();
    const torch::Tensor indptr = ctx->saved_data["indptr"].toTensor();
    const torch::Tensor indices = ctx->saved_data["indices"].toTensor();
    const torch::Tensor values = ctx->saved_data["values"].toTensor();
    const torch::Tensor extra = ctx->saved_data["extra"].toTensor();
    const std::int64_t n_cols = ctx->saved_data["n_cols"].toInt();
    const std::int64_t k = ctx->saved_data["k"].toInt();
    const std::int64_t cells = dy.size(0), h = dy.size(1);
    torch::Tensor dwt = torch::empty({k, h}, dy.options());
    torch::Tensor dw = torch::empty({h, k}, dy.options());
    AT_DISPATCH_FLOATING_TYPES(dy.scalar_type(), "sparse_linear_backward", [&] {
      const Rows<scalar_t> x = rows_of<scalar_t>(
          indptr, indices, values, extra.numel() > 0 ? extra : torch::Tensor(), n_cols);
      const scalar_t* d = dy.data_ptr<scalar_t>();
      scalar_t* out = dwt.data_ptr<scalar_t>();
      at::parallel_for(0, k, 32, [&](std::int64_t c0, std::int64_t c1) {
        backward_columns(x, cells, d, out, h, c0, c1);
      });
      parallel_transpose(dwt.data_ptr<scalar_t>(), dw.data_ptr<scalar_t>(), k, h);
    });
    torch::Tensor db = ctx->saved_data["has_bias"].toBool() ? dy.sum(0) : torch::Tensor();
    return {dw, db, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor()};
  }
};

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument("sparse_linear: " + message);
}

}  // namespace

double CsrRows::density() const {
  const std::int64_t r = rows();
  if (r <= 0 || n_cols <= 0) return 0.0;
  return static_cast<double>(nnz()) / (static_cast<double>(r) * static_cast<double>(n_cols));
}

void check_csr(const CsrRows& x) {
  auto fail = [](const std::string& m) { throw std::invalid_argument("CSR rows: " + m); };
  if (!x.indptr.defined() || !x.indices.defined() || !x.values.defined())
    fail("indptr, indices and values must be defined");
  if (x.indptr.scalar_type() != torch::kLong || x.indptr.dim() != 1 || x.indptr.numel() < 1)
    fail("indptr must be a non-empty int64 vector");
  if (x.indices.scalar_type() != torch::kInt || x.indices.dim() != 1)
    fail("indices must be an int32 vector");
  if (!x.values.is_floating_point() || x.values.dim() != 1 ||
      x.values.numel() != x.indices.numel())
    fail("values must be a floating vector as long as indices");
  for (const torch::Tensor* t : {&x.indptr, &x.indices, &x.values})
    if (!t->device().is_cpu() || !t->is_contiguous()) fail("tensors must be contiguous, on the CPU");
  if (x.n_cols < 0) fail("n_cols must be >= 0");
  const std::int64_t* p = x.indptr.data_ptr<std::int64_t>();
  const std::int32_t* c = x.indices.data_ptr<std::int32_t>();
  const std::int64_t rows = x.indptr.numel() - 1;
  if (p[0] != 0) fail("indptr must start at 0");
  if (p[rows] != x.indices.numel()) fail("indptr must end at nnz");
  for (std::int64_t i = 0; i < rows; ++i) {
    if (p[i + 1] < p[i]) fail("indptr must be non-decreasing (row " + std::to_string(i) + ")");
    for (std::int64_t k = p[i]; k < p[i + 1]; ++k) {
      if (c[k] < 0 || c[k] >= x.n_cols)
        fail("column index " + std::to_string(c[k]) + " out of range (row " +
             std::to_string(i) + ")");
      if (k > p[i] && c[k] <= c[k - 1])
        fail("indices must be ascending within a row (row " + std::to_string(i) + ")");
    }
  }
}

torch::Tensor csr_to_dense(const CsrRows& x, const torch::TensorOptions& options) {
  check_csr(x);
  const std::int64_t rows = x.rows();
  torch::Tensor out = torch::zeros({rows, x.n_cols}, torch::kDouble);
  const std::int64_t* p = x.indptr.data_ptr<std::int64_t>();
  const std::int32_t* c = x.indices.data_ptr<std::int32_t>();
  const torch::Tensor v = x.values.to(torch::kDouble);
  const double* vp = v.data_ptr<double>();
  double* o = out.data_ptr<double>();
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t k = p[i]; k < p[i + 1]; ++k) o[i * x.n_cols + c[k]] += vp[k];
  return out.to(options.has_dtype() ? c10::typeMetaToScalarType(options.dtype())
                                    : x.values.scalar_type());
}

CsrRows map_values(const CsrRows& x, torch::Tensor (*fn)(const torch::Tensor&)) {
  CsrRows out = x;
  out.values = fn(x.values);
  return out;
}

torch::Tensor sparse_linear(const CsrRows& x, const torch::Tensor& weight,
                            const torch::Tensor& bias, const torch::Tensor& one_hot_columns) {
  require(x.defined() && x.indices.defined() && x.values.defined(), "x must be defined");
  require(weight.defined() && weight.dim() == 2, "weight must be H x K");
  require(weight.scalar_type() == torch::kFloat || weight.scalar_type() == torch::kDouble,
          "weight must be float or double");
  require(x.values.scalar_type() == weight.scalar_type(),
          "x values must have the weight's dtype");
  require(x.indptr.scalar_type() == torch::kLong && x.indptr.dim() == 1 &&
              x.indices.scalar_type() == torch::kInt && x.values.dim() == 1 &&
              x.indices.numel() == x.values.numel(),
          "x must be int64 indptr, int32 indices and as many values");
  for (const torch::Tensor* t : {&weight, &bias, &x.indptr, &x.indices, &x.values,
                                 &one_hot_columns})
    require(!t->defined() || t->device().is_cpu(), "tensors must be on the CPU");
  const std::int64_t cells = x.rows();
  const std::int64_t* p = x.indptr.contiguous().data_ptr<std::int64_t>();
  require(p[0] == 0 && p[cells] == x.nnz(), "indptr must run from 0 to nnz");
  for (std::int64_t i = 0; i < cells; ++i)
    require(p[i + 1] >= p[i], "indptr must be non-decreasing (row " + std::to_string(i) + ")");
  const std::int64_t extra_width = one_hot_columns.defined() ? one_hot_columns.size(1) : 0;
  require(x.n_cols + (extra_width > 0 ? 1 : 0) <= weight.size(1),
          "weight has " + std::to_string(weight.size(1)) + " columns for " +
              std::to_string(x.n_cols) + " input columns" +
              (extra_width > 0 ? std::string(" and one-hot columns") : std::string()));
  require(x.n_cols <= std::numeric_limits<std::int32_t>::max(), "too many columns");
  if (one_hot_columns.defined())
    require(one_hot_columns.scalar_type() == torch::kLong && one_hot_columns.dim() == 2 &&
                one_hot_columns.size(0) == cells,
            "one_hot_columns must be int64, cells x E");
  if (bias.defined())
    require(bias.dim() == 1 && bias.size(0) == weight.size(0) &&
                bias.scalar_type() == weight.scalar_type(),
            "bias must have H entries of the weight's dtype");
  const torch::Tensor no_tensor = torch::empty({0}, weight.options());
  return SparseLinearFunction::apply(
      weight, bias.defined() ? bias : no_tensor, x.indptr.contiguous(), x.indices.contiguous(),
      x.values.contiguous(),
      one_hot_columns.defined() ? one_hot_columns.contiguous()
                                : torch::empty({0, 0}, torch::kLong),
      x.n_cols);
}

}  // namespace cellvae::model
