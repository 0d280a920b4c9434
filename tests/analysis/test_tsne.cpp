// Barnes–Hut t-SNE: affinities against scikit-learn's, the gradient against autograd of the
// exact KL divergence, and embeddings against scikit-learn's TSNE by trustworthiness,
// neighbourhood preservation and cluster recovery (tests/reference/make_embedding_reference.py).
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "cellvae/analysis/neighbors.hpp"
#include "cellvae/analysis/pca.hpp"
#include "cellvae/analysis/trustworthiness.hpp"
#include "cellvae/analysis/tsne.hpp"
#include "cellvae/error.hpp"
#include "cluster_test_util.hpp"
#include "embedding_test_util.hpp"
#include "test_support.hpp"

namespace cellvae::analysis {
namespace {

namespace cvt = cellvae::testing;

torch::Tensor dense(const TsneAffinities& p) {
  auto m = torch::zeros({p.n, p.n}, torch::kFloat64);
  for (std::int64_t i = 0; i < p.n; ++i)
    for (std::int64_t e = p.indptr[i]; e < p.indptr[i + 1]; ++e) m[i][p.indices[e]] = p.values[e];
  return m;
}

TEST(Tsne, AffinitiesMatchSklearn) {
  const auto& ref = cvt::embedding_reference()["affinities"];
  const auto p = tsne_affinities(cvt::embedding_data(ref["data"].get<std::string>()),
                                 ref["perplexity"].get<double>());
  EXPECT_EQ(p.n_neighbors, ref["n_neighbors"].get<std::int64_t>());
  EXPECT_EQ(p.not_converged, 0);
  EXPECT_EQ(static_cast<std::int64_t>(p.values.size()), ref["nnz"].get<std::int64_t>());
  double sum = 0, plogp = 0, max = 0;
  for (double v : p.values) {
    sum += v;
    plogp += v * std::log(v);
    max = std::max(max, v);
  }
  EXPECT_NEAR(sum, 1.0, 1e-12);
  // scikit-learn searches on float32 distances and stores P in float32: agreement to ~1e-6.
  EXPECT_NEAR(plogp, ref["sum_p_log_p"].get<double>(), 1e-5 * std::abs(plogp));
  EXPECT_NEAR(max, ref["max"].get<double>(), 1e-5 * max);
  for (std::int64_t i = 0; i < 5; ++i) {
    const auto& row = ref["rows"][i];
    const auto cols = row["indices"].get<std::vector<std::int64_t>>();
    const auto vals = row["values"].get<std::vector<double>>();
    const auto s = static_cast<std::size_t>(p.indptr[i]);
    ASSERT_EQ(p.indptr[i + 1] - p.indptr[i], static_cast<std::int64_t>(cols.size())) << "row " << i;
    for (std::size_t t = 0; t < cols.size(); ++t) {
      EXPECT_EQ(p.indices[s + t], cols[t]) << "row " << i;
      EXPECT_NEAR(p.values[s + t], vals[t], 1e-5 * vals[t] + 1e-12) << "row " << i;
    }
  }
}

TEST(Tsne, GradientMatchesAutogradOfTheExactDivergence) {
  torch::Generator g = at::detail::createCPUGenerator(11);
  const auto x = torch::randn({150, 8}, g, torch::kFloat64);
  const auto p = tsne_affinities(x, 12);
  const auto y0 = 3 * torch::randn({150, 2}, g, torch::kFloat64);
  // KL(P || Q) with Q over all ordered pairs i != j, differentiated by autograd.
  auto y = y0.clone().requires_grad_(true);
  const auto pd = dense(p);
  auto d2 = (y.unsqueeze(1) - y.unsqueeze(0)).pow(2).sum(2);
  auto w = 1 / (1 + d2) * (1 - torch::eye(150, torch::kFloat64));
  auto q = w / w.sum();
  auto mask = pd > 0;
  auto kl = (pd.masked_select(mask) * (pd.masked_select(mask) / q.masked_select(mask)).log()).sum();
  kl.backward();
  const auto expected = y.grad();

  const auto exact = tsne_gradient(p, y0, 0.0);
  EXPECT_LE((exact.gradient - expected).abs().max().item<double>(),
            1e-10 * expected.abs().max().item<double>());
  EXPECT_NEAR(exact.kl_divergence, kl.item<double>(), 1e-10);
  EXPECT_NEAR(exact.z, w.sum().item<double>(), 1e-9 * exact.z);

  // Barnes–Hut at theta 0.5: close, not equal; more threads change nothing.
  const auto bh = tsne_gradient(p, y0, 0.5, 1);
  const double err =
      (bh.gradient - expected).norm().item<double>() / expected.norm().item<double>();
  EXPECT_GT(err, 0.0);
  EXPECT_LT(err, 0.02);
  EXPECT_NEAR(bh.z, exact.z, 0.01 * exact.z);
  EXPECT_TRUE(torch::equal(tsne_gradient(p, y0, 0.5, 3).gradient, bh.gradient));
}

TEST(Tsne, EmbeddingsAsGoodAsSklearn) {
  for (const char* name : {"blobs", "trajectory", "clusters"}) {
    SCOPED_TRACE(name);
    const auto x = cvt::embedding_data(name);
    const auto& runs = cvt::embedding_reference()["runs"][name]["tsne"];
    TsneOptions o;
    o.threads = 2;
    const auto r = tsne(x, o);
    ASSERT_EQ(r.embedding.sizes(), (std::vector<std::int64_t>{x.size(0), 2}));
    EXPECT_EQ(r.n_iter, 1000);
    EXPECT_DOUBLE_EQ(r.learning_rate, std::max(static_cast<double>(x.size(0)) / 12 / 4, 50.0));
    const double trust = trustworthiness(x, r.embedding);
    const double kept = neighborhood_preservation(x, r.embedding);
    const double accuracy = cvt::knn_accuracy(r.embedding, cvt::embedding_labels(name));
    std::printf(
        "[ t-SNE %-10s] trustworthiness %.4f (sklearn %.4f), preservation %.4f (%.4f), "
        "10-NN label accuracy %.4f (%.4f), KL %.4f (%.4f)\n",
        name, trust, cvt::mean_of(runs, "trustworthiness"), kept,
        cvt::mean_of(runs, "preservation"), accuracy, cvt::mean_of(runs, "knn_accuracy"),
        r.kl_divergence, cvt::mean_of(runs, "kl_divergence"));
    EXPECT_NEAR(trust, cvt::mean_of(runs, "trustworthiness"), 0.02);
    EXPECT_GE(kept, cvt::min_of(runs, "preservation") - 0.03);
    EXPECT_GE(accuracy, cvt::min_of(runs, "knn_accuracy") - 0.02);
    EXPECT_NEAR(r.kl_divergence, cvt::mean_of(runs, "kl_divergence"),
                0.1 * cvt::mean_of(runs, "kl_divergence"));
    // Better than the best linear view.
    EXPECT_GT(trust, cvt::embedding_reference()["pca"][name]["trustworthiness"].get<double>());
  }
}

TEST(Tsne, SameSeedSameEmbeddingWhateverTheThreads) {
  const auto x = cvt::embedding_data("trajectory").slice(0, 0, 300);
  TsneOptions o;
  o.n_iter = 400;
  o.init = TsneInit::random;
  o.seed = 4;
  o.threads = 1;
  const auto a = tsne(x, o);
  o.threads = 3;
  const auto b = tsne(x, o);
  EXPECT_TRUE(torch::equal(a.embedding, b.embedding));
  EXPECT_EQ(a.kl_divergence, b.kl_divergence);
  o.seed = 5;
  const auto c = tsne(x, o);
  EXPECT_GT((c.embedding - a.embedding).abs().max().item<double>(), 1.0);
  // Stepping gives the same run as one call.
  o.seed = 4;
  auto state = tsne_initialize(x, o);
  EXPECT_EQ(state.run(130), 130);
  EXPECT_FALSE(state.done());
  EXPECT_EQ(state.result().n_iter, 130);
  EXPECT_EQ(state.run(), 400);
  EXPECT_TRUE(state.done());
  EXPECT_TRUE(torch::equal(state.result().embedding, a.embedding));
}

TEST(Tsne, PcaStartIsTheScaledPrincipalComponents) {
  // One iteration with a negligible step leaves the start: the first two principal components,
  // scaled to standard deviation 1e-4 along the first.
  const auto x = cvt::embedding_data("trajectory");
  TsneOptions o;
  o.n_iter = 1;
  o.learning_rate = 1e-12;
  const auto start = tsne(x, o).embedding;
  PcaOptions po;
  po.n_components = 2;
  const auto scores = run_pca(x, po).scores;
  const auto expected = scores * (1e-4 / scores.select(1, 0).std(false).item<double>());
  EXPECT_LE((start - expected).abs().max().item<double>(), 1e-9);
  EXPECT_NEAR(start.select(1, 0).std(false).item<double>(), 1e-4, 1e-9);
}

TEST(Tsne, OptionErrors) {
  const auto x = cvt::embedding_data("trajectory").slice(0, 0, 40);
  auto message = [&](auto change) {
    TsneOptions o;
    o.n_iter = 10;
    change(o);
    return cvt::error_of([&] { tsne(x, o); });
  };
  EXPECT_TRUE(cvt::contains(message([](TsneOptions& o) { o.perplexity = 40; }),
                            "perplexity (40) must be less than the number of rows (40)"));
  EXPECT_TRUE(cvt::contains(message([](TsneOptions& o) { o.perplexity = 0; }), "perplexity"));
  EXPECT_TRUE(cvt::contains(message([](TsneOptions& o) { o.theta = 1.5; }), "theta"));
  EXPECT_TRUE(cvt::contains(message([](TsneOptions& o) { o.n_iter = 0; }), "n_iter"));
  EXPECT_TRUE(cvt::contains(message([](TsneOptions& o) { o.learning_rate = -1; }),
                            "learning_rate must be > 0; got -1"));
  EXPECT_TRUE(cvt::contains(message([](TsneOptions& o) { o.early_exaggeration = 0.5; }),
                            "early_exaggeration"));
  auto bad = x.clone();
  bad[3][2] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(cvt::contains(cvt::error_of([&] { tsne(bad); }), "NaN"));
  EXPECT_EQ(parse_tsne_init("random"), TsneInit::random);
  EXPECT_EQ(to_string(TsneInit::pca), "pca");
  EXPECT_TRUE(cvt::contains(cvt::error_of([] { parse_tsne_init("spectral"); }), "pca, random"));
}

}  // namespace
}  // namespace cellvae::analysis
