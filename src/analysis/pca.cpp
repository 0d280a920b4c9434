#include "cellvae/analysis/pca.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include <torch/torch.h>

#include "cellvae/random.hpp"

namespace cellvae::analysis {

namespace {

torch::Tensor orthonormal_basis(const torch::Tensor& a) {
  return std::get<0>(torch::linalg_qr(a, "reduced"));
}

/// Flips each row of `components` so that its entry of largest absolute value is positive.
void fix_signs(torch::Tensor& components) {
  auto idx = components.abs().argmax(1, true);
  auto signs = components.gather(1, idx).sign();
  signs.masked_fill_(signs == 0, 1);
  components.mul_(signs);
}

}  // namespace

PcaResult run_pca(const torch::Tensor& x, const PcaOptions& options) {
  if (x.dim() != 2) throw std::invalid_argument("run_pca: input must be 2-D");
  if (!x.is_floating_point()) throw std::invalid_argument("run_pca: input must be floating point");
  const std::int64_t n = x.size(0), d = x.size(1);
  if (n < 2 || d < 1) throw std::invalid_argument("run_pca: needs at least 2 rows and 1 column");
  if (options.n_components < 1) throw std::invalid_argument("run_pca: n_components must be >= 1");

  torch::NoGradGuard no_grad;
  PcaResult r;
  const std::int64_t k = std::min({options.n_components, n, d});
  r.n_components = k;
  r.mean = x.mean(0);
  const torch::Tensor xc = x - r.mean;
  const double denom = static_cast<double>(n - 1);

  torch::Tensor singular, vh;
  const std::int64_t l =
      std::min(k + std::max<std::int64_t>(options.oversamples, 0), std::min(n, d));
  if (options.method == PcaMethod::exact || l >= std::min(n, d)) {
    // A projection as wide as the matrix saves nothing: do the exact SVD.
    auto svd = torch::linalg_svd(xc, /*full_matrices=*/false);
    singular = std::get<1>(svd);
    vh = std::get<2>(svd);
  } else {
    Rng rng(options.seed);
    std::vector<double> omega_values(static_cast<std::size_t>(d * l));
    for (auto& v : omega_values) v = rng.normal();
    auto omega = torch::from_blob(omega_values.data(), {d, l}, torch::kFloat64).to(x.dtype());
    auto q = orthonormal_basis(xc.matmul(omega));
    for (int it = 0; it < options.power_iterations; ++it) {
      auto w = orthonormal_basis(xc.t().matmul(q));
      q = orthonormal_basis(xc.matmul(w));
    }
    auto b = q.t().matmul(xc);  // l x d
    auto svd = torch::linalg_svd(b, /*full_matrices=*/false);
    singular = std::get<1>(svd);
    vh = std::get<2>(svd);
  }
  r.components = vh.slice(0, 0, k).contiguous();
  fix_signs(r.components);
  auto s = singular.slice(0, 0, k);
  r.explained_variance = s.pow(2) / denom;
  const auto total = xc.pow(2).sum() / denom;
  r.explained_variance_ratio = total.item<double>() > 0 ? r.explained_variance / total
                                                        : torch::zeros_like(r.explained_variance);
  r.scores = xc.matmul(r.components.t());
  return r;
}

torch::Tensor pca_transform(const PcaResult& pca, const torch::Tensor& x) {
  if (x.dim() != 2 || x.size(1) != pca.components.size(1))
    throw std::invalid_argument("pca_transform: columns differ from the fitted data");
  torch::NoGradGuard no_grad;
  return (x.to(pca.mean.dtype()) - pca.mean).matmul(pca.components.t());
}

}  // namespace cellvae::analysis
