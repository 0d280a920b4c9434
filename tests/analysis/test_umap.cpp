// UMAP: the curve parameters and the fuzzy graph against umap-learn's, the spectral start, and
// embeddings against umap-learn's by trustworthiness, neighbourhood preservation and cluster
// recovery (tests/reference/make_embedding_reference.py).
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "cellvae/analysis/correlation.hpp"
#include "cellvae/analysis/neighbors.hpp"
#include "cellvae/analysis/trustworthiness.hpp"
#include "cellvae/analysis/umap.hpp"
#include "cellvae/error.hpp"
#include "cluster_test_util.hpp"
#include "embedding_test_util.hpp"
#include "test_support.hpp"

namespace cellvae::analysis {
namespace {

namespace cvt = cellvae::testing;

/// Sum of squared residuals of the fit umap_curve minimises.
double curve_cost(double spread, double min_dist, double a, double b) {
  double cost = 0;
  for (int t = 0; t < 300; ++t) {
    const double x = 3 * spread * t / 299;
    const double target = x < min_dist ? 1.0 : std::exp(-(x - min_dist) / spread);
    const double r = 1 / (1 + a * std::pow(x, 2 * b)) - target;
    cost += r * r;
  }
  return cost;
}

TEST(Umap, CurveMatchesUmapLearn) {
  for (const auto& c : cvt::embedding_reference()["curves"]) {
    const double spread = c["spread"].get<double>(), min_dist = c["min_dist"].get<double>();
    SCOPED_TRACE("spread " + std::to_string(spread) + " min_dist " + std::to_string(min_dist));
    const auto curve = umap_curve(spread, min_dist);
    const double a = c["a"].get<double>(), b = c["b"].get<double>();
    // Both are the least-squares optimum; scipy's curve_fit stops at relative tolerances of
    // 1.5e-8 in the cost and parameters, which leaves the parameters ~1e-6 apart.
    EXPECT_NEAR(curve.a, a, 1e-5 * a);
    EXPECT_NEAR(curve.b, b, 1e-5 * b);
    EXPECT_LE(curve_cost(spread, min_dist, curve.a, curve.b),
              curve_cost(spread, min_dist, a, b) * (1 + 1e-12));
  }
  const auto defaults = umap_curve(1.0, 0.1);
  EXPECT_NEAR(defaults.a, 1.577, 1e-3);
  EXPECT_NEAR(defaults.b, 0.895, 1e-3);
  EXPECT_TRUE(cvt::contains(cvt::error_of([] { umap_curve(1.0, 1.5); }), "min_dist"));
}

TEST(Umap, GraphMatchesUmapLearn) {
  const auto& ref = cvt::embedding_reference()["graph"];
  const auto g = umap_graph(cvt::embedding_data(ref["data"].get<std::string>()),
                            ref["n_neighbors"].get<std::int64_t>());
  EXPECT_EQ(static_cast<std::int64_t>(g.weights.size()), ref["nnz"].get<std::int64_t>());
  double sum = 0;
  for (double w : g.weights) sum += w;
  // umap-learn keeps sigma, rho and the weights in float32, and both bisections stop once the
  // sum is within 1e-5 of log2(k), which leaves sigma determined to ~1e-5 only.
  EXPECT_NEAR(sum, ref["sum"].get<double>(), 1e-6 * sum);
  for (std::size_t i = 0; i < 20; ++i) {
    EXPECT_NEAR(g.sigma[i], ref["sigma"][i].get<double>(), 1e-5 * g.sigma[i]) << i;
    EXPECT_NEAR(g.rho[i], ref["rho"][i].get<double>(), 1e-6 * g.rho[i]) << i;
  }
  for (std::size_t i = 0; i < 5; ++i) {
    const auto cols = ref["rows"][i]["indices"].get<std::vector<std::int64_t>>();
    const auto vals = ref["rows"][i]["values"].get<std::vector<double>>();
    const auto s = static_cast<std::size_t>(g.indptr[i]);
    ASSERT_EQ(g.indptr[i + 1] - g.indptr[i], static_cast<std::int64_t>(cols.size())) << i;
    for (std::size_t t = 0; t < cols.size(); ++t) {
      EXPECT_EQ(g.indices[s + t], cols[t]);
      EXPECT_NEAR(g.weights[s + t], vals[t], 1e-5) << "row " << i;
    }
  }
}

TEST(Umap, EmbeddingsAsGoodAsUmapLearn) {
  for (const char* name : {"blobs", "trajectory", "clusters"}) {
    SCOPED_TRACE(name);
    const auto x = cvt::embedding_data(name);
    const auto& runs = cvt::embedding_reference()["runs"][name]["umap"];
    const auto r = umap(x);
    ASSERT_EQ(r.embedding.sizes(), (std::vector<std::int64_t>{x.size(0), 2}));
    EXPECT_EQ(r.n_epochs, 500);
    EXPECT_EQ(r.epochs_run, 500);
    const double trust = trustworthiness(x, r.embedding);
    const double kept = neighborhood_preservation(x, r.embedding);
    const double accuracy = cvt::knn_accuracy(r.embedding, cvt::embedding_labels(name));
    std::printf(
        "[ UMAP  %-10s] trustworthiness %.4f (umap-learn %.4f), preservation %.4f "
        "(%.4f), 10-NN label accuracy %.4f (%.4f), %lld graph components\n",
        name, trust, cvt::mean_of(runs, "trustworthiness"), kept,
        cvt::mean_of(runs, "preservation"), accuracy, cvt::mean_of(runs, "knn_accuracy"),
        static_cast<long long>(r.graph_components));
    EXPECT_NEAR(trust, cvt::mean_of(runs, "trustworthiness"), 0.02);
    EXPECT_GE(kept, cvt::min_of(runs, "preservation") - 0.03);
    EXPECT_GE(accuracy, cvt::min_of(runs, "knn_accuracy") - 0.02);
    EXPECT_GT(trust, cvt::embedding_reference()["pca"][name]["trustworthiness"].get<double>());
  }
}

TEST(Umap, SameSeedSameEmbedding) {
  const auto x = cvt::embedding_data("trajectory");
  UmapOptions o;
  o.n_epochs = 100;
  o.seed = 3;
  const auto a = umap(x, o);
  const auto b = umap(x, o);
  EXPECT_TRUE(torch::equal(a.embedding, b.embedding));
  o.seed = 4;
  EXPECT_GT((umap(x, o).embedding - a.embedding).abs().max().item<double>(), 0.1);
  // Stepping gives the same run as one call.
  o.seed = 3;
  auto state = umap_initialize(x, o);
  EXPECT_EQ(state.run(37), 37);
  EXPECT_FALSE(state.done());
  EXPECT_EQ(state.run(), 100);
  EXPECT_TRUE(state.done());
  EXPECT_TRUE(torch::equal(state.result().embedding, a.embedding));
}

TEST(Umap, SpectralStartOfALargeConnectedGraphFollowsTheCurve) {
  // 1500 points along a noisy arc in 10-D: one component, too large for the dense solver, so
  // Lanczos runs; the first Laplacian eigenvector orders the points along the arc.
  torch::Generator g = at::detail::createCPUGenerator(8);
  const std::int64_t n = 1500;
  auto t = std::get<0>(torch::rand({n}, g, torch::kFloat64).sort());
  auto x = 0.05 * torch::randn({n, 10}, g, torch::kFloat64);
  x.select(1, 0) += 4 * torch::cos(3 * t);
  x.select(1, 1) += 4 * torch::sin(3 * t);
  x.select(1, 2) += 2 * t;
  UmapOptions o;
  o.n_epochs = 10;
  const auto start = umap_initialize(x, o).result();
  EXPECT_EQ(start.epochs_run, 0);
  EXPECT_EQ(start.graph_components, 1);
  EXPECT_LT(start.spectral_residual, 1e-4);
  EXPECT_GT(start.spectral_residual, 0.0);  // Lanczos, not the dense solver
  const auto first = start.embedding.select(1, 0).contiguous();
  const std::vector<double> coord(first.data_ptr<double>(), first.data_ptr<double>() + n);
  const auto tc = t.contiguous();
  const std::vector<double> along(tc.data_ptr<double>(), tc.data_ptr<double>() + n);
  EXPECT_GT(std::abs(spearman(coord, along)), 0.95);
  // The start is rescaled to [0, 10] in each coordinate.
  EXPECT_NEAR(start.embedding.min().item<double>(), 0.0, 1e-12);
  EXPECT_NEAR(start.embedding.max().item<double>(), 10.0, 1e-12);
}

TEST(Umap, SpectralStartSeparatesComponents) {
  // Four far-apart blobs and one small one: the neighbour graph has one component per blob.
  // Each is laid out in its own ball, apart from the others, so in the start alone nearly every
  // point's nearest neighbour is in its own blob (an overlapping layout would mix them).
  torch::Generator g = at::detail::createCPUGenerator(2);
  const std::vector<std::int64_t> sizes{120, 90, 60, 40, 6};
  std::vector<torch::Tensor> parts;
  std::vector<std::int32_t> truth;
  for (std::size_t c = 0; c < sizes.size(); ++c) {
    parts.push_back(torch::randn({sizes[c], 5}, g, torch::kFloat64) +
                    40.0 * torch::randn({5}, g, torch::kFloat64));
    truth.insert(truth.end(), static_cast<std::size_t>(sizes[c]), static_cast<std::int32_t>(c));
  }
  UmapOptions o;
  o.n_neighbors = 6;
  o.n_epochs = 5;
  const auto start = umap_initialize(torch::cat(parts), o).result();
  EXPECT_EQ(start.graph_components, 5);
  NeighborOptions no;
  no.k = 1;
  no.exclude_self = true;
  const auto nearest = nearest_neighbors(start.embedding, start.embedding, no).indices.contiguous();
  std::int64_t same = 0;
  for (std::size_t i = 0; i < truth.size(); ++i)
    same += truth[nearest.data_ptr<std::int64_t>()[i]] == truth[i];
  EXPECT_GE(static_cast<double>(same) / static_cast<double>(truth.size()), 0.99);
}

TEST(Umap, OtherStartsAndDimensions) {
  const auto x = cvt::embedding_data("clusters");
  UmapOptions o;
  o.n_epochs = 200;
  o.n_components = 3;
  for (auto init : {UmapInit::pca, UmapInit::random}) {
    o.init = init;
    const auto r = umap(x, o);
    ASSERT_EQ(r.embedding.size(1), 3);
    EXPECT_GT(trustworthiness(x, r.embedding), 0.9) << to_string(init);
  }
  EXPECT_EQ(parse_umap_init("spectral"), UmapInit::spectral);
  EXPECT_TRUE(
      cvt::contains(cvt::error_of([] { parse_umap_init("tsne"); }), "spectral, pca, random"));
}

TEST(Umap, OptionErrors) {
  const auto x = cvt::embedding_data("trajectory").slice(0, 0, 40);
  auto message = [&](auto change) {
    UmapOptions o;
    o.n_epochs = 5;
    change(o);
    return cvt::error_of([&] { umap(x, o); });
  };
  EXPECT_TRUE(cvt::contains(message([](UmapOptions& o) { o.n_neighbors = 1; }),
                            "n_neighbors must be >= 2; got 1"));
  EXPECT_TRUE(cvt::contains(message([](UmapOptions& o) { o.n_neighbors = 41; }),
                            "n_neighbors (41) must be at most the number of rows (40)"));
  EXPECT_TRUE(cvt::contains(message([](UmapOptions& o) { o.min_dist = 2; }), "min_dist"));
  EXPECT_TRUE(cvt::contains(message([](UmapOptions& o) { o.spread = 0; }), "spread"));
  EXPECT_TRUE(cvt::contains(message([](UmapOptions& o) { o.n_epochs = 0; }), "n_epochs"));
  EXPECT_TRUE(cvt::contains(message([](UmapOptions& o) { o.learning_rate = 0; }), "learning_rate"));
  EXPECT_TRUE(cvt::contains(message([](UmapOptions& o) { o.n_components = 0; }), "n_components"));
  EXPECT_TRUE(cvt::contains(message([](UmapOptions& o) {
                              o.init = UmapInit::pca;
                              o.n_components = 16;
                            }),
                            "init 'pca'"));
  auto bad = x.clone();
  bad[7][0] = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(cvt::contains(cvt::error_of([&] { umap(bad); }), "infinite"));
}

}  // namespace
}  // namespace cellvae::analysis
