#include "cellvae/analysis/trustworthiness.hpp"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "cellvae/analysis/neighbors.hpp"
#include "cellvae/error.hpp"
#include "checked_matrix.hpp"

namespace cellvae::analysis {

namespace {

struct Pair {
  torch::Tensor x, embedding;  // float64, centred
};

Pair checked_pair(const torch::Tensor& x, const torch::Tensor& embedding, const char* what,
                  const EmbeddingQualityOptions& o) {
  auto xd = detail::checked_matrix(x, what, 2);
  auto ed = detail::checked_matrix(embedding, what, 2);
  if (xd.size(0) != ed.size(0))
    throw InputError(std::string(what) + ": the data have " + std::to_string(xd.size(0)) +
                     " rows but the embedding " + std::to_string(ed.size(0)));
  if (o.block_size < 1)
    throw InputError(std::string(what) + ": block_size must be >= 1; got " +
                     std::to_string(o.block_size));
  // Centred, so that |a|^2 - 2 a.b + |b|^2 is accurate to the spread of the data.
  return {xd - xd.mean(0), ed - ed.mean(0)};
}

torch::Tensor neighbors_of(const torch::Tensor& x, std::int64_t k) {
  NeighborOptions no;
  no.k = k;
  no.exclude_self = true;
  return nearest_neighbors(x, x, no).indices;
}

}  // namespace

double trustworthiness(const torch::Tensor& x, const torch::Tensor& embedding,
                       const EmbeddingQualityOptions& options) {
  torch::NoGradGuard no_grad;
  const auto [xd, ed] = checked_pair(x, embedding, "trustworthiness", options);
  const std::int64_t n = xd.size(0), k = options.k;
  if (k < 1 || 2 * k >= n)
    throw InputError("trustworthiness: k must be >= 1 and less than half the number of rows (" +
                     std::to_string(n) + "); got " + std::to_string(k));
  const auto embedded = neighbors_of(ed, k);
  const auto sq = xd.pow(2).sum(1);
  double penalty = 0;
  for (std::int64_t s = 0; s < n; s += options.block_size) {
    const std::int64_t e = std::min(n, s + options.block_size);
    auto d2 =
        (sq.slice(0, s, e).unsqueeze(1) + sq.unsqueeze(0) - 2 * xd.slice(0, s, e).matmul(xd.t()))
            .clamp_min_(0);
    auto rows = torch::arange(e - s, torch::kLong);
    d2.index_put_({rows, rows + s}, std::numeric_limits<double>::infinity());  // self ranks last
    auto sorted = std::get<0>(d2.sort(1));
    auto wanted = d2.gather(1, embedded.slice(0, s, e));
    // Rank (1-based) = 1 + the number of input distances strictly smaller.
    auto ranks = torch::searchsorted(sorted, wanted.contiguous()) + 1;
    penalty += (ranks - k).clamp_min_(0).sum().item<double>();
  }
  const double nd = static_cast<double>(n), kd = static_cast<double>(k);
  return 1.0 - penalty * 2.0 / (nd * kd * (2.0 * nd - 3.0 * kd - 1.0));
}

double neighborhood_preservation(const torch::Tensor& x, const torch::Tensor& embedding,
                                 const EmbeddingQualityOptions& options) {
  torch::NoGradGuard no_grad;
  const auto [xd, ed] = checked_pair(x, embedding, "neighborhood preservation", options);
  const std::int64_t n = xd.size(0), k = options.k;
  if (k < 1 || k > n - 1)
    throw InputError("neighborhood preservation: k must be between 1 and the number of rows - 1 (" +
                     std::to_string(n - 1) + "); got " + std::to_string(k));
  auto a = std::get<0>(neighbors_of(xd, k).sort(1)).contiguous();
  auto b = std::get<0>(neighbors_of(ed, k).sort(1)).contiguous();
  const auto* pa = a.data_ptr<std::int64_t>();
  const auto* pb = b.data_ptr<std::int64_t>();
  std::int64_t shared = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto* ra = pa + i * k;
    const auto* rb = pb + i * k;
    std::int64_t u = 0, v = 0;
    while (u < k && v < k) {  // intersection of two sorted lists
      if (ra[u] == rb[v]) {
        ++shared;
        ++u;
        ++v;
      } else if (ra[u] < rb[v]) {
        ++u;
      } else {
        ++v;
      }
    }
  }
  return static_cast<double>(shared) / (static_cast<double>(n) * static_cast<double>(k));
}

}  // namespace cellvae::analysis
