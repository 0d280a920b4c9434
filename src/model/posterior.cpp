#include "cellvae/model/posterior.hpp"

namespace cellvae::model {
namespace {
constexpr double kLogTwoPi = 1.8378770664093454836;  // log(2 pi)
}  // namespace

torch::Tensor reparameterized_sample(const DiagonalGaussian& q, torch::Generator& generator) {
  torch::Tensor sd = torch::exp(0.5 * q.log_variance);
  auto shape = at::infer_size(q.mean.sizes(), sd.sizes());
  return q.mean + sd * torch::randn(shape, generator, q.mean.options());
}

torch::Tensor kl_standard_normal(const DiagonalGaussian& q) {
  const torch::Tensor& m = q.mean;
  const torch::Tensor& lv = q.log_variance;
  return 0.5 * (m * m + torch::exp(lv) - 1.0 - lv).sum(-1);
}

torch::Tensor kl_diagonal_gaussians(const DiagonalGaussian& q, const DiagonalGaussian& p) {
  torch::Tensor diff = q.mean - p.mean;
  torch::Tensor log_ratio = q.log_variance - p.log_variance;
  return 0.5 * (diff * diff * torch::exp(-p.log_variance) + torch::exp(log_ratio) - 1.0 - log_ratio)
                   .sum(-1);
}

torch::Tensor diagonal_gaussian_log_density(const torch::Tensor& z, const DiagonalGaussian& q) {
  torch::Tensor diff = z - q.mean;
  return -0.5 * (kLogTwoPi + q.log_variance + diff * diff * torch::exp(-q.log_variance)).sum(-1);
}

}  // namespace cellvae::model
