// Gaussian mixtures against scikit-learn's GaussianMixture started from the same parameters
// (tests/reference/make_cluster_reference.py), selection by BIC, and sampling.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "cellvae/analysis/cluster_metrics.hpp"
#include "cellvae/analysis/gaussian_mixture.hpp"
#include "cellvae/error.hpp"
#include "cluster_test_util.hpp"

namespace cellvae::analysis {
namespace {

namespace cvt = cellvae::testing;

const std::vector<CovarianceType> kAllTypes = {CovarianceType::full, CovarianceType::diagonal,
                                               CovarianceType::spherical, CovarianceType::tied};

/// Relative agreement of EM with sklearn from identical starts. Both run the same float64
/// arithmetic in a different order; measured worst 3e-14 (223 iterations on the overlapping
/// blobs included), so this leaves room for other BLAS libraries.
constexpr double kParameterTol = 1e-10;

GaussianMixtureOptions reference_options(const nlohmann::json& c) {
  GaussianMixtureOptions o;
  o.covariance = parse_covariance_type(c["covariance_type"].get<std::string>());
  o.components = static_cast<std::int64_t>(c["weights_init"].size());
  o.tolerance = c["tol"].get<double>();
  o.max_iterations = c["max_iter"].get<int>();
  o.reg_covar = c["reg_covar"].get<double>();
  o.initial.weights = cvt::json_tensor(c["weights_init"]);
  o.initial.means = cvt::json_tensor(c["means_init"]);
  o.initial.precisions = cvt::json_tensor(c["precisions_init"]);
  return o;
}

/// The worst relative parameter / lower-bound difference from sklearn seen by a test (reported
/// as the test property "worst_relative_difference" in --gtest_output=xml).
double worst_difference = 0;

std::string scientific(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2e", v);
  return buf;
}

void expect_matches_sklearn(const GaussianMixture& m, const nlohmann::json& c,
                            const torch::Tensor& x) {
  const double lower = c["lower_bound"].get<double>();
  const double diffs[] = {cvt::max_relative_diff(m.weights, cvt::json_tensor(c["weights"])),
                          cvt::max_relative_diff(m.means, cvt::json_tensor(c["means"])),
                          cvt::max_relative_diff(m.covariances, cvt::json_tensor(c["covariances"])),
                          std::abs(m.lower_bound - lower) / std::abs(lower)};
  for (double d : diffs) {
    EXPECT_LE(d, kParameterTol);
    worst_difference = std::max(worst_difference, d);
  }
  EXPECT_EQ(m.iterations, c["n_iter"].get<int>());
  EXPECT_EQ(m.converged, c["converged"].get<bool>());
  EXPECT_EQ(m.n_parameters, c["n_parameters"].get<std::int64_t>());
  EXPECT_NEAR(m.bic, c["bic"].get<double>(), kParameterTol * std::abs(c["bic"].get<double>()));
  EXPECT_NEAR(m.log_likelihood, c["log_likelihood"].get<double>(),
              kParameterTol * std::abs(c["log_likelihood"].get<double>()));
  const auto head = x.slice(0, 0, static_cast<std::int64_t>(c["score_samples"].size()));
  EXPECT_LE(cvt::max_relative_diff(score_samples(m, head), cvt::json_tensor(c["score_samples"])),
            kParameterTol);
  EXPECT_LE(
      (predict_proba(m, head) - cvt::json_tensor(c["predict_proba"])).abs().max().item<double>(),
      kParameterTol);
  EXPECT_EQ(predict(m, x), cvt::json_labels(c["predict"]));
}

TEST(GaussianMixture, MatchesSklearnFromGivenPrecisions) {
  worst_difference = 0;
  for (const auto& c : cvt::cluster_reference()["gmm"]) {
    const auto name = c["data"].get<std::string>();
    SCOPED_TRACE(name + " " + c["covariance_type"].get<std::string>() + " tol " +
                 std::to_string(c["tol"].get<double>()));
    const auto x = cvt::reference_data(name);
    expect_matches_sklearn(fit_gaussian_mixture(x, reference_options(c)), c, x);
  }
  RecordProperty("worst_relative_difference", scientific(worst_difference));
}

TEST(GaussianMixture, MatchesSklearnFromTheEquivalentCovariances) {
  worst_difference = 0;
  for (const auto& c : cvt::cluster_reference()["gmm"]) {
    const auto name = c["data"].get<std::string>();
    SCOPED_TRACE(name + " " + c["covariance_type"].get<std::string>() + " tol " +
                 std::to_string(c["tol"].get<double>()));
    const auto x = cvt::reference_data(name);
    auto o = reference_options(c);
    o.initial.precisions = torch::Tensor();
    o.initial.covariances = cvt::json_tensor(c["covariances_init"]);
    expect_matches_sklearn(fit_gaussian_mixture(x, o), c, x);
  }
  RecordProperty("worst_relative_difference", scientific(worst_difference));
}

TEST(GaussianMixture, LikelihoodsAreConsistent) {
  const auto x = cvt::reference_data("overlap3");
  for (auto type : kAllTypes) {
    SCOPED_TRACE(std::string(to_string(type)));
    GaussianMixtureOptions o;
    o.components = 4;
    o.covariance = type;
    o.seed = 3;
    const auto m = fit_gaussian_mixture(x, o);
    EXPECT_NEAR(score_samples(m, x).sum().item<double>(), m.log_likelihood, 1e-9);
    EXPECT_NEAR(m.bic, -2 * m.log_likelihood + m.n_parameters * std::log(double(x.size(0))), 1e-9);
    // The final parameters score at least the last E-step's bound (EM never decreases it).
    EXPECT_GE(m.log_likelihood / x.size(0), m.lower_bound - 1e-12);
    EXPECT_NEAR(m.weights.sum().item<double>(), 1.0, 1e-12);
    const auto proba = predict_proba(m, x);
    EXPECT_LE((proba.sum(1) - 1).abs().max().item<double>(), 1e-12);
    const auto labels = predict(m, x);
    const auto argmax = proba.argmax(1);
    for (std::int64_t i = 0; i < x.size(0); ++i)
      ASSERT_EQ(labels[static_cast<std::size_t>(i)], argmax[i].item<std::int64_t>());
  }
}

TEST(GaussianMixture, MoreStartsNeverScoreLower) {
  // Start 0 of n_init = 3 is the only start of n_init = 1 (same seed stream).
  const auto x = cvt::reference_data("overlap3");
  GaussianMixtureOptions o;
  o.components = 4;
  o.seed = 8;
  const auto one = fit_gaussian_mixture(x, o);
  o.n_init = 3;
  const auto three = fit_gaussian_mixture(x, o);
  EXPECT_GE(three.lower_bound, one.lower_bound);
  // Fits are deterministic for a seed.
  EXPECT_TRUE(torch::equal(fit_gaussian_mixture(x, o).means, three.means));
}

TEST(GaussianMixture, PartialStartOverridesOnlyWhatIsGiven) {
  const auto& c = cvt::cluster_reference()["gmm"][0];  // blobs2, full
  const auto x = cvt::reference_data("blobs2");
  GaussianMixtureOptions o;
  o.components = 3;
  o.max_iterations = 1;
  o.initial.means = cvt::json_tensor(c["means_init"]);
  const auto m = fit_gaussian_mixture(x, o);
  o.initial.means = torch::Tensor();
  const auto d = fit_gaussian_mixture(x, o);
  EXPECT_FALSE(torch::allclose(m.means, d.means));
  EXPECT_EQ(m.iterations, 1);
  EXPECT_FALSE(m.converged);
}

TEST(GaussianMixtureSelection, BicPicksSklearnsBestOnBlobs) {
  const auto& table = cvt::cluster_reference()["bic_table"];
  GaussianMixtureSelectionOptions o;
  o.max_components = 5;
  o.fit.n_init = 5;
  const auto sel = select_gaussian_mixture(cvt::reference_data("blobs2"), o);
  ASSERT_EQ(sel.candidates.size(), table.size());
  double best = 1e300, worst_bic = 0, worst_bic_beyond = 0;
  std::size_t best_row = 0;
  for (std::size_t i = 0; i < table.size(); ++i) {
    const auto& row = table[i];
    const auto& cand = sel.candidates[i];
    SCOPED_TRACE(std::to_string(cand.components) + " " + std::string(to_string(cand.covariance)));
    EXPECT_EQ(cand.components, row["components"].get<std::int64_t>());
    EXPECT_EQ(std::string(to_string(cand.covariance)), row["covariance_type"].get<std::string>());
    EXPECT_EQ(cand.n_parameters, row["n_parameters"].get<std::int64_t>());
    EXPECT_TRUE(cand.fitted);
    // Up to the true K the likelihood has one clear optimum that both find from their own
    // random starts (measured: equal to 1e-15); beyond it local optima may differ.
    const double bic = row["bic"].get<double>();
    const double diff = std::abs(cand.bic - bic) / bic;
    if (cand.components <= 3) {
      EXPECT_LE(diff, 1e-8);
      worst_bic = std::max(worst_bic, diff);
    } else {
      worst_bic_beyond = std::max(worst_bic_beyond, diff);
    }
    if (bic < best) best = bic, best_row = i;
  }
  EXPECT_EQ(sel.best.components(), 3);
  EXPECT_EQ(sel.best.covariance, CovarianceType::full);
  EXPECT_EQ(sel.best.components(), table[best_row]["components"].get<std::int64_t>());
  EXPECT_NEAR(sel.best.bic, best, 1e-5 * best);
  RecordProperty("worst_relative_bic_difference_k_le_3", scientific(worst_bic));
  RecordProperty("worst_relative_bic_difference_k_gt_3", scientific(worst_bic_beyond));
  EXPECT_GT(adjusted_rand_index(predict(sel.best, cvt::reference_data("blobs2")),
                                cvt::reference_truth("blobs2")),
            0.9);
}

TEST(GaussianMixtureSelection, PicksTheGeneratingComponentCount) {
  // 4 well-separated spherical blobs in 5-D: every covariance type reaches K = 4.
  torch::Generator g = at::detail::createCPUGenerator(17);
  std::vector<torch::Tensor> parts;
  std::vector<std::int32_t> truth;
  for (int c = 0; c < 4; ++c) {
    auto centre = torch::zeros({5}, torch::kFloat64);
    centre[c] = 12.0;
    parts.push_back(torch::randn({50 + 20 * c, 5}, g, torch::kFloat64) + centre);
    truth.insert(truth.end(), static_cast<std::size_t>(50 + 20 * c), c);
  }
  const auto x = torch::cat(parts);
  GaussianMixtureSelectionOptions o;
  o.fit.seed = 4;
  const auto sel = select_gaussian_mixture(x, o);
  EXPECT_EQ(sel.candidates.size(), 36u);
  EXPECT_EQ(sel.best.components(), 4);
  EXPECT_DOUBLE_EQ(adjusted_rand_index(predict(sel.best, x), truth), 1.0);
  for (auto type : kAllTypes) {
    double best_bic = 1e300;
    std::int64_t best_k = 0;
    for (const auto& c : sel.candidates)
      if (c.covariance == type && c.bic < best_bic) best_bic = c.bic, best_k = c.components;
    EXPECT_EQ(best_k, 4) << to_string(type);
  }
  // The 4-D blobs of the reference.
  const auto sel4 = select_gaussian_mixture(cvt::reference_data("blobs4"), o);
  EXPECT_EQ(sel4.best.components(), 3);
}

TEST(GaussianMixtureSelection, SingularFitsAreSkippedWithANote) {
  // Three distinct points, four copies each: with reg_covar = 0 every K >= 2 puts a component
  // on one or two of them (a singular covariance); K = 1 is fine.
  auto base = torch::tensor({0.0, 0.0, 1.0, 0.0, 0.0, 1.0}, torch::kFloat64).view({3, 2});
  const auto x = base.repeat({4, 1});
  GaussianMixtureSelectionOptions o;
  o.max_components = 20;  // above the 12 rows: those counts are not tried
  o.covariance_types = {CovarianceType::full};
  o.fit.reg_covar = 0;
  const auto sel = select_gaussian_mixture(x, o);
  EXPECT_EQ(sel.candidates.size(), 12u);
  EXPECT_EQ(sel.best.components(), 1);
  EXPECT_TRUE(sel.candidates[0].fitted);
  for (std::size_t i = 1; i < sel.candidates.size(); ++i) {
    EXPECT_FALSE(sel.candidates[i].fitted);
    EXPECT_TRUE(std::isnan(sel.candidates[i].bic));
    EXPECT_NE(sel.candidates[i].note.find("singular"), std::string::npos);
  }
  // All rows equal: nothing can be fitted.
  const auto same = torch::ones({6, 2}, torch::kFloat64);
  EXPECT_NE(cvt::error_of([&] { select_gaussian_mixture(same, o); }).find("no candidate"),
            std::string::npos);
}

TEST(GaussianMixtureSelection, ParameterLimitKeepsSmallSamplesFromCollapsing) {
  // 40 points of one Gaussian in 10-D. Without a limit, BIC rewards many full components that
  // each sit on a few points (reg_covar keeps them barely non-singular); with at most one
  // parameter per two rows, only small models are tried and a single component wins.
  torch::Generator g = at::detail::createCPUGenerator(3);
  const auto x = torch::randn({40, 10}, g, torch::kFloat64);
  GaussianMixtureSelectionOptions o;
  o.fit.seed = 1;
  const auto free = select_gaussian_mixture(x, o);
  EXPECT_GT(free.best.components(), 1) << "the collapse this option exists for";
  o.max_parameters_per_row = 0.5;
  const auto limited = select_gaussian_mixture(x, o);
  EXPECT_LE(limited.best.n_parameters, 20);
  EXPECT_EQ(limited.best.components(), 1);
  for (const auto& c : limited.candidates) {
    EXPECT_EQ(c.n_parameters > 20, !c.fitted) << c.components << " " << to_string(c.covariance);
    if (!c.fitted) {
      EXPECT_NE(c.note.find("parameters for 40 rows"), std::string::npos);
    }
  }
}

TEST(GaussianMixtureSampling, ReproducesWeightsMeansAndCovariances) {
  const auto x = cvt::reference_data("blobs2");
  const std::int64_t n = 40000;
  for (auto type : kAllTypes) {
    SCOPED_TRACE(std::string(to_string(type)));
    GaussianMixtureOptions o;
    o.components = 3;
    o.covariance = type;
    const auto m = fit_gaussian_mixture(x, o);
    const auto s = sample(m, n, std::uint64_t{42});
    ASSERT_EQ(s.samples.sizes(), (std::vector<std::int64_t>{n, 2}));
    ASSERT_EQ(s.components.sizes(), (std::vector<std::int64_t>{n}));
    for (std::int64_t k = 0; k < 3; ++k) {
      const double w = m.weights[k].item<double>();
      const auto rows = s.components.eq(k).nonzero().flatten();
      const double nk = static_cast<double>(rows.numel());
      EXPECT_NEAR(nk / n, w, 5 * std::sqrt(w * (1 - w) / n));
      const auto xs = s.samples.index_select(0, rows);
      torch::Tensor cov;
      switch (type) {
        case CovarianceType::full:
          cov = m.covariances[k];
          break;
        case CovarianceType::tied:
          cov = m.covariances;
          break;
        case CovarianceType::diagonal:
          cov = torch::diag(m.covariances[k]);
          break;
        case CovarianceType::spherical:
          cov = torch::eye(2, torch::kFloat64) * m.covariances[k];
          break;
      }
      const auto se = (cov.diagonal() / nk).sqrt();
      EXPECT_LE(((xs.mean(0) - m.means[k]).abs() / se).max().item<double>(), 5.0);
      const auto centred = xs - m.means[k];
      const auto sample_cov = centred.t().matmul(centred) / nk;
      // Entry (i, j) of a sample covariance has standard error about sqrt((s_ii s_jj + s_ij^2)/n).
      const auto sd = cov.diagonal().sqrt();
      const auto cov_se = ((torch::outer(sd, sd).pow(2) + cov.pow(2)) / nk).sqrt();
      EXPECT_LE(((sample_cov - cov).abs() / cov_se).max().item<double>(), 5.0);
    }
  }
}

TEST(GaussianMixtureSampling, SameSeedSameDraws) {
  const auto x = cvt::reference_data("blobs4");
  GaussianMixtureOptions o;
  o.components = 3;
  const auto m = fit_gaussian_mixture(x, o);
  const auto a = sample(m, 500, std::uint64_t{7});
  const auto b = sample(m, 500, std::uint64_t{7});
  EXPECT_TRUE(torch::equal(a.samples, b.samples));
  EXPECT_TRUE(torch::equal(a.components, b.components));
  EXPECT_FALSE(torch::equal(sample(m, 500, std::uint64_t{8}).samples, a.samples));
  torch::Generator g = at::detail::createCPUGenerator(7);
  EXPECT_TRUE(torch::equal(sample(m, 500, g).samples, a.samples));
  const auto none = sample(m, 0, std::uint64_t{7});
  EXPECT_EQ(none.samples.size(0), 0);
  EXPECT_EQ(none.samples.size(1), 4);
}

TEST(GaussianMixture, CovarianceTypeNames) {
  for (auto type : kAllTypes) EXPECT_EQ(parse_covariance_type(to_string(type)), type);
  EXPECT_EQ(to_string(CovarianceType::diagonal), "diag");
  const auto msg = cvt::error_of([] { parse_covariance_type("VVV"); });
  EXPECT_NE(msg.find("unknown covariance type 'VVV'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("full, diag, spherical, tied"), std::string::npos) << msg;
}

TEST(GaussianMixture, InputErrors) {
  const auto x = cvt::reference_data("blobs2");
  GaussianMixtureOptions o;
  o.components = 301;
  EXPECT_NE(cvt::error_of([&] { fit_gaussian_mixture(x, o); }).find("components"),
            std::string::npos);
  o.components = 2;
  o.tolerance = 0;
  EXPECT_NE(cvt::error_of([&] { fit_gaussian_mixture(x, o); }).find("tolerance"),
            std::string::npos);
  o.tolerance = 1e-3;
  o.reg_covar = -1;
  EXPECT_NE(cvt::error_of([&] { fit_gaussian_mixture(x, o); }).find("reg_covar"),
            std::string::npos);
  o.reg_covar = 1e-6;
  o.initial.weights = torch::tensor({0.5, 0.6}, torch::kFloat64);
  EXPECT_NE(cvt::error_of([&] { fit_gaussian_mixture(x, o); }).find("sum to 1"), std::string::npos);
  o.initial.weights = torch::tensor({0.5, 0.3, 0.2}, torch::kFloat64);
  EXPECT_NE(cvt::error_of([&] { fit_gaussian_mixture(x, o); }).find("initial weights must be (2)"),
            std::string::npos);
  o.initial.weights = torch::Tensor();
  o.initial.covariances = torch::eye(2, torch::kFloat64).repeat({2, 1, 1});
  o.initial.precisions = o.initial.covariances;
  EXPECT_NE(cvt::error_of([&] { fit_gaussian_mixture(x, o); }).find("not both"), std::string::npos);
  o.initial.precisions = torch::Tensor();
  o.initial.covariances[1][0][0] = -1.0;
  EXPECT_NE(cvt::error_of([&] { fit_gaussian_mixture(x, o); }).find("not positive definite"),
            std::string::npos);
  o.initial = {};
  const auto m = fit_gaussian_mixture(x, o);
  EXPECT_NE(cvt::error_of([&] {
              score_samples(m, torch::zeros({3, 3}, torch::kFloat64));
            }).find("2 columns"),
            std::string::npos);
  EXPECT_NE(
      cvt::error_of([&] { select_gaussian_mixture(x.slice(0, 0, 1)); }).find("at least 2 rows"),
      std::string::npos);
  GaussianMixtureSelectionOptions so;
  so.covariance_types.clear();
  EXPECT_NE(cvt::error_of([&] { select_gaussian_mixture(x, so); }).find("covariance types"),
            std::string::npos);
  EXPECT_NE(cvt::error_of([&] { sample(m, -1, std::uint64_t{0}); }).find(">= 0"),
            std::string::npos);
}

}  // namespace
}  // namespace cellvae::analysis
