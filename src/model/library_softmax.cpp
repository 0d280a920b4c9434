#include "cellvae/model/library_softmax.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "kernel_support.hpp"

namespace cellvae::model {
namespace {

// Reductions over a row run in kLanes partial results (GCC vector extensions: the compiler does
// not vectorise a float reduction by itself, as that would reassociate the sum). The order is
// fixed, so the results do not depend on the instruction set the function was compiled for.
constexpr std::int64_t kLanes = 8;
typedef float Lanes __attribute__((vector_size(kLanes * sizeof(float))));

// (Macros rather than functions: a function returning a 32-byte vector draws GCC's ABI warning
// in the baseline build.)
#define CELLVAE_LOAD_LANES(var, ptr) \
  Lanes var;                         \
  std::memcpy(&var, (ptr), sizeof var)

CELLVAE_VECTOR_MATH_BEGIN

// Rows [r0, r1) of out = exp(log_library) softmax(logits).
CELLVAE_MULTIVERSION
void forward_rows(const float* CELLVAE_RESTRICT logits, const float* CELLVAE_RESTRICT log_library,
                  float* CELLVAE_RESTRICT out, std::int64_t cols, std::int64_t r0,
                  std::int64_t r1) {
  const std::int64_t vec_cols = cols / kLanes * kLanes;
  for (std::int64_t r = r0; r < r1; ++r) {
    const float* h = logits + r * cols;
    float* o = out + r * cols;
    Lanes lane = Lanes{} - std::numeric_limits<float>::infinity();
    for (std::int64_t j = 0; j < vec_cols; j += kLanes) {
      CELLVAE_LOAD_LANES(v, h + j);
      lane = v > lane ? v : lane;
    }
    float m = lane[0];
    for (std::int64_t k = 1; k < kLanes; ++k) m = lane[k] > m ? lane[k] : m;
    for (std::int64_t j = vec_cols; j < cols; ++j) m = h[j] > m ? h[j] : m;

    for (std::int64_t j = 0; j < cols; ++j) o[j] = kernels::exp_float(h[j] - m);
    Lanes sum_lane = {};
    for (std::int64_t j = 0; j < vec_cols; j += kLanes) {
      CELLVAE_LOAD_LANES(v, o + j);
      sum_lane += v;
    }
    double sum = 0.0;
    for (std::int64_t k = 0; k < kLanes; ++k) sum += static_cast<double>(sum_lane[k]);
    for (std::int64_t j = vec_cols; j < cols; ++j) sum += static_cast<double>(o[j]);
    const auto scale = static_cast<float>(std::exp(static_cast<double>(log_library[r])) / sum);
    for (std::int64_t j = 0; j < cols; ++j) o[j] *= scale;
  }
}

// Rows [r0, r1) of d logits = mu (g - Σ g mu / Σ mu) and d log_library = Σ g mu.
CELLVAE_MULTIVERSION
void backward_rows(const float* CELLVAE_RESTRICT mu, const float* CELLVAE_RESTRICT grad,
                   float* CELLVAE_RESTRICT d_logits, float* CELLVAE_RESTRICT d_log_library,
                   std::int64_t cols, std::int64_t r0, std::int64_t r1) {
  const std::int64_t vec_cols = cols / kLanes * kLanes;
  for (std::int64_t r = r0; r < r1; ++r) {
    const float* m = mu + r * cols;
    const float* g = grad + r * cols;
    float* d = d_logits + r * cols;
    Lanes dot_lane = {}, total_lane = {};
    for (std::int64_t j = 0; j < vec_cols; j += kLanes) {
      CELLVAE_LOAD_LANES(mv, m + j);
      CELLVAE_LOAD_LANES(gv, g + j);
      dot_lane += gv * mv;
      total_lane += mv;
    }
    double dot = 0.0, total = 0.0;
    for (std::int64_t k = 0; k < kLanes; ++k) {
      dot += static_cast<double>(dot_lane[k]);
      total += static_cast<double>(total_lane[k]);
    }
    for (std::int64_t j = vec_cols; j < cols; ++j) {
      dot += static_cast<double>(g[j]) * static_cast<double>(m[j]);
      total += static_cast<double>(m[j]);
    }
    const auto c = static_cast<float>(total > 0.0 ? dot / total : 0.0);
    for (std::int64_t j = 0; j < cols; ++j) d[j] = m[j] * (g[j] - c);
    d_log_library[r] = static_cast<float>(dot);
  }
}

CELLVAE_VECTOR_MATH_END
#undef CELLVAE_LOAD_LANES

struct LibrarySoftmaxFunction : public torch::autograd::Function<LibrarySoftmaxFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx,
                               const torch::Tensor& logits_in,
                               const torch::Tensor& log_library_in) {
    const torch::Tensor logits = logits_in.detach().contiguous();
    const torch::Tensor log_library = log_library_in.detach().contiguous();
    const std::int64_t rows = logits.size(0), cols = logits.size(1);
    torch::Tensor mu = torch::empty_like(logits);
    kernels::for_ranges(rows, rows * cols, rows, [&](std::int64_t r0, std::int64_t r1) {
      forward_rows(logits.data_ptr<float>(), log_library.data_ptr<float>(), mu.data_ptr<float>(),
                   cols, r0, r1);
    });
    ctx->save_for_backward({mu});
    ctx->saved_data["library_sizes"] = log_library_in.sizes().vec();
    return mu;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const torch::Tensor mu = ctx->get_saved_variables()[0];
    const torch::Tensor grad = grad_outputs[0].contiguous();
    const std::int64_t rows = mu.size(0), cols = mu.size(1);
    torch::Tensor d_logits = torch::empty_like(mu);
    torch::Tensor d_log_library = torch::empty({rows}, mu.options());
    kernels::for_ranges(rows, rows * cols, rows, [&](std::int64_t r0, std::int64_t r1) {
      backward_rows(mu.data_ptr<float>(), grad.data_ptr<float>(), d_logits.data_ptr<float>(),
                    d_log_library.data_ptr<float>(), cols, r0, r1);
    });
    return {d_logits, d_log_library.reshape(ctx->saved_data["library_sizes"].toIntVector())};
  }
};

bool one_per_row(const torch::Tensor& logits, const torch::Tensor& log_library) {
  return log_library.defined() && logits.defined() && logits.dim() == 2 &&
         log_library.numel() == logits.size(0) &&
         (log_library.dim() == 1 || (log_library.dim() == 2 && log_library.size(1) == 1));
}

}  // namespace

bool library_softmax_applies(const torch::Tensor& logits, const torch::Tensor& log_library) {
  return one_per_row(logits, log_library) && logits.size(1) >= 1 && logits.device().is_cpu() &&
         log_library.device().is_cpu() && logits.scalar_type() == torch::kFloat &&
         log_library.scalar_type() == torch::kFloat;
}

torch::Tensor library_softmax(const torch::Tensor& logits, const torch::Tensor& log_library) {
  if (!one_per_row(logits, log_library))
    throw std::invalid_argument(
        "library_softmax: logits must be cells x genes and log_library one value per cell (cells "
        "or cells x 1)");
  if (!library_softmax_applies(logits, log_library))
    return torch::exp(log_library.reshape({-1, 1})) * torch::softmax(logits, 1);
  return LibrarySoftmaxFunction::apply(logits, log_library);
}

}  // namespace cellvae::model
