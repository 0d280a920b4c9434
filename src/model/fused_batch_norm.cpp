#include "cellvae/model/fused_batch_norm.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>

#include "kernel_support.hpp"

namespace cellvae::model {
namespace {

using kernels::sqrt_newton;

// Columns [c0, c1) of an n x C row-major minibatch. Rows are walked in order and the columns of
// a block vectorise; two passes for the variance (exact enough in float for any minibatch).
CELLVAE_VECTOR_MATH_BEGIN
CELLVAE_MULTIVERSION
void forward_block(const float* CELLVAE_RESTRICT x, const float* CELLVAE_RESTRICT gamma,
                   const float* CELLVAE_RESTRICT beta, float* CELLVAE_RESTRICT y,
                   float* CELLVAE_RESTRICT xhat, float* CELLVAE_RESTRICT mean,
                   float* CELLVAE_RESTRICT var, float* CELLVAE_RESTRICT invstd, std::int64_t n,
                   std::int64_t cols, std::int64_t c0, std::int64_t c1, float eps, bool relu) {
  const std::int64_t w = c1 - c0;
  float* m = mean + c0;
  float* v = var + c0;
  float* is = invstd + c0;
  const float* g = gamma + c0;
  const float* b = beta + c0;
  for (std::int64_t j = 0; j < w; ++j) m[j] = v[j] = 0.0f;
  for (std::int64_t r = 0; r < n; ++r) {
    const float* xr = x + r * cols + c0;
    for (std::int64_t j = 0; j < w; ++j) m[j] += xr[j];
  }
  const float inv_n = 1.0f / static_cast<float>(n);
  for (std::int64_t j = 0; j < w; ++j) m[j] *= inv_n;
  for (std::int64_t r = 0; r < n; ++r) {
    const float* xr = x + r * cols + c0;
    for (std::int64_t j = 0; j < w; ++j) {
      const float d = xr[j] - m[j];
      v[j] += d * d;
    }
  }
  for (std::int64_t j = 0; j < w; ++j) {
    v[j] *= inv_n;
    is[j] = 1.0f / sqrt_newton(v[j] + eps);
  }
  for (std::int64_t r = 0; r < n; ++r) {
    const float* xr = x + r * cols + c0;
    float* hr = xhat + r * cols + c0;
    float* yr = y + r * cols + c0;
    for (std::int64_t j = 0; j < w; ++j) {
      const float h = (xr[j] - m[j]) * is[j];
      hr[j] = h;
      const float o = h * g[j] + b[j];
      const float clipped = o > 0.0f ? o : 0.0f;
      yr[j] = relu ? clipped : o;
    }
  }
}

// dgamma = Σ g x̂, dbeta = Σ g, dx = gamma invstd (g - dbeta / n - x̂ dgamma / n), with
// g = dy masked by y > 0 under ReLU.
CELLVAE_MULTIVERSION
void backward_block(const float* CELLVAE_RESTRICT dy, const float* CELLVAE_RESTRICT y,
                    const float* CELLVAE_RESTRICT xhat, const float* CELLVAE_RESTRICT gamma,
                    const float* CELLVAE_RESTRICT invstd, float* CELLVAE_RESTRICT dx,
                    float* CELLVAE_RESTRICT dgamma, float* CELLVAE_RESTRICT dbeta, std::int64_t n,
                    std::int64_t cols, std::int64_t c0, std::int64_t c1, bool relu) {
  const std::int64_t w = c1 - c0;
  float* dg = dgamma + c0;
  float* db = dbeta + c0;
  for (std::int64_t j = 0; j < w; ++j) dg[j] = db[j] = 0.0f;
  for (std::int64_t r = 0; r < n; ++r) {
    const std::int64_t o = r * cols + c0;
    for (std::int64_t j = 0; j < w; ++j) {
      const float gr = (!relu || y[o + j] > 0.0f) ? dy[o + j] : 0.0f;
      db[j] += gr;
      dg[j] += gr * xhat[o + j];
    }
  }
  const float inv_n = 1.0f / static_cast<float>(n);
  for (std::int64_t r = 0; r < n; ++r) {
    const std::int64_t o = r * cols + c0;
    for (std::int64_t j = 0; j < w; ++j) {
      const float gr = (!relu || y[o + j] > 0.0f) ? dy[o + j] : 0.0f;
      const float k = gamma[c0 + j] * invstd[c0 + j];
      dx[o + j] = k * (gr - db[j] * inv_n - xhat[o + j] * dg[j] * inv_n);
    }
  }
}
CELLVAE_VECTOR_MATH_END

// Column blocks of at least 16 floats, one per intra-op thread (small minibatches on the
// calling thread: kernels::for_ranges).
template <class Fn>
void for_column_blocks(std::int64_t rows, std::int64_t cols, const Fn& fn) {
  constexpr std::int64_t kMinCols = 16;
  kernels::for_ranges(cols, rows * cols, cols / kMinCols, fn);
}

struct BatchNormReluFunction : public torch::autograd::Function<BatchNormReluFunction> {
  // Returns {y, batch mean, batch biased variance}; the statistics are not differentiable.
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const torch::Tensor& x_in,
                                                const torch::Tensor& weight_in,
                                                const torch::Tensor& bias_in, double eps,
                                                bool relu) {
    const torch::Tensor x = x_in.detach().contiguous();
    const torch::Tensor gamma = weight_in.detach().contiguous();
    const torch::Tensor beta = bias_in.detach().contiguous();
    const std::int64_t n = x.size(0), cols = x.size(1);
    torch::Tensor y = torch::empty_like(x), xhat = torch::empty_like(x);
    torch::Tensor mean = torch::empty({cols}, x.options());
    torch::Tensor var = torch::empty({cols}, x.options());
    torch::Tensor invstd = torch::empty({cols}, x.options());
    for_column_blocks(n, cols, [&](std::int64_t c0, std::int64_t c1) {
      forward_block(x.data_ptr<float>(), gamma.data_ptr<float>(), beta.data_ptr<float>(),
                    y.data_ptr<float>(), xhat.data_ptr<float>(), mean.data_ptr<float>(),
                    var.data_ptr<float>(), invstd.data_ptr<float>(), n, cols, c0, c1,
                    static_cast<float>(eps), relu);
    });
    ctx->save_for_backward({y, xhat, gamma, invstd});
    ctx->saved_data["relu"] = relu;
    ctx->mark_non_differentiable({mean, var});
    return {y, mean, var};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &y = saved[0], &xhat = saved[1], &gamma = saved[2], &invstd = saved[3];
    const torch::Tensor dy = grad_outputs[0].contiguous();
    const std::int64_t n = y.size(0), cols = y.size(1);
    torch::Tensor dx = torch::empty_like(y);
    torch::Tensor dgamma = torch::empty({cols}, y.options());
    torch::Tensor dbeta = torch::empty({cols}, y.options());
    const bool relu = ctx->saved_data["relu"].toBool();
    for_column_blocks(n, cols, [&](std::int64_t c0, std::int64_t c1) {
      backward_block(dy.data_ptr<float>(), y.data_ptr<float>(), xhat.data_ptr<float>(),
                     gamma.data_ptr<float>(), invstd.data_ptr<float>(), dx.data_ptr<float>(),
                     dgamma.data_ptr<float>(), dbeta.data_ptr<float>(), n, cols, c0, c1, relu);
    });
    return {dx, dgamma, dbeta, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

bool fused_batch_norm_applies(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias) {
  const auto is_cpu_float = [](const torch::Tensor& t) {
    return t.defined() && t.device().is_cpu() && t.scalar_type() == torch::kFloat;
  };
  return is_cpu_float(x) && is_cpu_float(weight) && is_cpu_float(bias) && x.dim() == 2 &&
         x.size(0) >= 2 && weight.dim() == 1 && bias.dim() == 1 &&
         weight.size(0) == x.size(1) && bias.size(0) == x.size(1);
}

torch::Tensor batch_norm_relu_train(const torch::Tensor& x, const torch::Tensor& weight,
                                    const torch::Tensor& bias, torch::Tensor& running_mean,
                                    torch::Tensor& running_var, double momentum, double eps,
                                    bool relu) {
  if (!fused_batch_norm_applies(x, weight, bias)) {
    torch::Tensor y =
        torch::batch_norm(x, weight, bias, running_mean, running_var, /*training=*/true,
                          momentum, eps, /*cudnn_enabled=*/true);
    return relu ? torch::relu(y) : y;
  }
  auto out = BatchNormReluFunction::apply(x, weight, bias, eps, relu);
  torch::NoGradGuard no_grad;
  const double n = static_cast<double>(x.size(0));
  running_mean.mul_(1.0 - momentum).add_(out[1], momentum);
  running_var.mul_(1.0 - momentum).add_(out[2], momentum * n / (n - 1.0));
  return out[0];
}

}  // namespace cellvae::model
