// Trustworthiness and neighbourhood preservation against scikit-learn on stored embeddings
// (tests/reference/make_embedding_reference.py) and against a direct transcription of the
// definition.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "cellvae/analysis/trustworthiness.hpp"
#include "cellvae/error.hpp"
#include "cluster_test_util.hpp"
#include "embedding_test_util.hpp"
#include "test_support.hpp"

namespace cellvae::analysis {
namespace {

namespace cvt = cellvae::testing;

/// The definition, written out: for each i, the k nearest in the embedding (by a full sort),
/// their ranks among i's input neighbours (by a full sort), penalties above k.
double trustworthiness_by_definition(const torch::Tensor& x, const torch::Tensor& y,
                                     std::int64_t k) {
  const std::int64_t n = x.size(0);
  auto dx = torch::cdist(x, x, 2.0, 2), dy = torch::cdist(y, y, 2.0, 2);
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<std::int64_t> ox, oy;
    for (std::int64_t j = 0; j < n; ++j)
      if (j != i) {
        ox.push_back(j);
        oy.push_back(j);
      }
    auto rx = dx[i].contiguous(), ry = dy[i].contiguous();
    const double* px = rx.data_ptr<double>();
    const double* py = ry.data_ptr<double>();
    std::stable_sort(ox.begin(), ox.end(), [&](auto a, auto b) { return px[a] < px[b]; });
    std::stable_sort(oy.begin(), oy.end(), [&](auto a, auto b) { return py[a] < py[b]; });
    for (std::int64_t t = 0; t < k; ++t) {
      const auto rank = std::find(ox.begin(), ox.end(), oy[t]) - ox.begin() + 1;
      sum += std::max<std::int64_t>(0, rank - k);
    }
  }
  const double nd = static_cast<double>(n), kd = static_cast<double>(k);
  return 1 - 2 / (nd * kd * (2 * nd - 3 * kd - 1)) * sum;
}

TEST(Trustworthiness, MatchesSklearnOnStoredEmbeddings) {
  const auto x = cvt::embedding_data("trajectory");
  for (const char* method : {"tsne", "umap"}) {
    const auto& ref = cvt::embedding_reference()["embeddings"][method];
    const auto y = cvt::json_tensor(ref["y"]);
    for (std::int64_t k : {5, 10, 25}) {
      SCOPED_TRACE(std::string(method) + " k=" + std::to_string(k));
      EmbeddingQualityOptions o;
      o.k = k;
      o.block_size = 37;  // blocks that do not divide n
      EXPECT_NEAR(trustworthiness(x, y, o), ref["trustworthiness"][std::to_string(k)].get<double>(),
                  1e-9);
      EXPECT_NEAR(neighborhood_preservation(x, y, o),
                  ref["preservation"][std::to_string(k)].get<double>(), 1e-12);
    }
  }
}

TEST(Trustworthiness, AgreesWithTheDefinitionOnRandomData) {
  torch::Generator g = at::detail::createCPUGenerator(3);
  const auto x = torch::randn({80, 6}, g, torch::kFloat64);
  // An embedding that keeps some of the structure: the first two coordinates plus noise.
  const auto y = x.slice(1, 0, 2) + 0.7 * torch::randn({80, 2}, g, torch::kFloat64);
  for (std::int64_t k : {1, 4, 12, 39}) {
    EmbeddingQualityOptions o;
    o.k = k;
    EXPECT_NEAR(trustworthiness(x, y, o), trustworthiness_by_definition(x, y, k), 1e-12) << k;
  }
}

TEST(Trustworthiness, PerfectAndRandomEmbeddings) {
  const auto x = cvt::embedding_data("blobs");
  // The data themselves (and any similarity transform of them) keep every neighbourhood.
  const auto moved = 3.0 * x.flip(1) + 7.0;
  EXPECT_DOUBLE_EQ(trustworthiness(x, moved), 1.0);
  EXPECT_DOUBLE_EQ(neighborhood_preservation(x, moved), 1.0);
  // A random embedding keeps about k / n of the neighbours and scores near 0.5.
  torch::Generator g = at::detail::createCPUGenerator(1);
  const auto noise = torch::randn({x.size(0), 2}, g, torch::kFloat64);
  EXPECT_LT(neighborhood_preservation(x, noise), 0.05);
  EXPECT_NEAR(trustworthiness(x, noise), 0.5, 0.05);
}

TEST(Trustworthiness, InputErrors) {
  const auto x = cvt::embedding_data("trajectory");
  const auto y = x.slice(1, 0, 2);
  EmbeddingQualityOptions o;
  o.k = 200;  // n = 400: k must be < n / 2
  EXPECT_TRUE(cvt::contains(cvt::error_of([&] { trustworthiness(x, y, o); }), "got 200"));
  o.k = 0;
  EXPECT_TRUE(cvt::contains(cvt::error_of([&] { neighborhood_preservation(x, y, o); }), "k must"));
  EXPECT_TRUE(cvt::contains(cvt::error_of([&] { trustworthiness(x, y.slice(0, 0, 399)); }), "399"));
  auto bad = y.clone();
  bad[5][1] = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(cvt::contains(cvt::error_of([&] { trustworthiness(x, bad); }), "infinite"));
}

}  // namespace
}  // namespace cellvae::analysis
