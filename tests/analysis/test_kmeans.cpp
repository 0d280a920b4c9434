// k-means against scikit-learn started from the same centres
// (tests/reference/make_cluster_reference.py), and the properties of k-means++ with restarts.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "cellvae/analysis/cluster_metrics.hpp"
#include "cellvae/analysis/kmeans.hpp"
#include "cellvae/error.hpp"
#include "cluster_test_util.hpp"

namespace cellvae::analysis {
namespace {

namespace cvt = cellvae::testing;

/// `per` points around each of `centres` (k x d) with unit standard deviation.
torch::Tensor separated_blobs(const torch::Tensor& centres, std::int64_t per,
                              std::vector<std::int32_t>& truth, std::uint64_t seed = 5) {
  torch::Generator g = at::detail::createCPUGenerator(seed);
  std::vector<torch::Tensor> parts;
  truth.clear();
  for (std::int64_t c = 0; c < centres.size(0); ++c) {
    parts.push_back(torch::randn({per, centres.size(1)}, g, torch::kFloat64) + centres[c]);
    truth.insert(truth.end(), static_cast<std::size_t>(per), static_cast<std::int32_t>(c));
  }
  return torch::cat(parts);
}

TEST(KMeans, FromCentersMatchesSklearnLloyd) {
  for (const auto& c : cvt::cluster_reference()["kmeans"]) {
    const auto name = c["data"].get<std::string>();
    SCOPED_TRACE(name + " max_iter " + std::to_string(c["max_iter"].get<int>()));
    KMeansOptions o;
    o.max_iterations = c["max_iter"].get<int>();
    o.tolerance = c["tol"].get<double>();
    const auto r =
        run_kmeans_from_centers(cvt::reference_data(name), cvt::json_tensor(c["init"]), o);
    EXPECT_EQ(r.labels, cvt::json_labels(c["labels"]));
    EXPECT_LE((r.centers - cvt::json_tensor(c["centers"])).abs().max().item<double>(), 1e-10);
    EXPECT_NEAR(r.inertia, c["inertia"].get<double>(), 1e-10 * c["inertia"].get<double>());
    EXPECT_EQ(r.iterations, c["n_iter"].get<int>());
    EXPECT_EQ(r.converged, r.iterations < o.max_iterations);
  }
}

TEST(KMeans, PlusPlusWithRestartsFindsSeparatedClusters) {
  std::vector<std::int32_t> truth;
  const auto centres = torch::tensor({0.0, 0.0, 0.0, 15.0, 0.0, 0.0, 0.0, 15.0, 0.0, 15.0, 15.0,
                                      0.0, 7.0, 7.0, 12.0},
                                     torch::kFloat64)
                           .view({5, 3});
  const auto x = separated_blobs(centres, 60, truth);
  KMeansOptions o;
  o.clusters = 5;
  o.seed = 11;
  const auto r = run_kmeans(x, o);
  EXPECT_DOUBLE_EQ(adjusted_rand_index(r.labels, truth), 1.0);
  EXPECT_TRUE(r.converged);
  // Labels, centres and inertia agree with each other.
  double inertia = 0;
  for (std::int64_t i = 0; i < x.size(0); ++i)
    inertia +=
        (x[i] - r.centers[r.labels[static_cast<std::size_t>(i)]]).pow(2).sum().item<double>();
  EXPECT_NEAR(r.inertia, inertia, 1e-9 * inertia);
  // The same seed gives the same result; k-means++ alone already puts one centre per blob.
  const auto again = run_kmeans(x, o);
  EXPECT_EQ(again.labels, r.labels);
  EXPECT_TRUE(torch::equal(again.centers, r.centers));
  const auto seeds = kmeans_plusplus(x, 5, 3);
  std::set<std::int32_t> blobs;
  for (std::int64_t c = 0; c < 5; ++c) {
    const auto row = (x - seeds[c]).abs().sum(1).argmin().item<std::int64_t>();
    EXPECT_EQ((x[row] - seeds[c]).abs().max().item<double>(), 0.0) << "centres are data rows";
    blobs.insert(truth[static_cast<std::size_t>(row)]);
  }
  EXPECT_EQ(blobs.size(), 5u);
}

TEST(KMeans, RestartsDoNoWorseThanAPoorStart) {
  // sklearn from a poor start on blobs4 stops in a local optimum; ten k-means++ starts find the
  // three generating blobs.
  const auto& ref = cvt::cluster_reference()["kmeans"][1];
  ASSERT_EQ(ref["data"].get<std::string>(), "blobs4");
  const auto x = cvt::reference_data("blobs4");
  KMeansOptions o;
  o.clusters = 3;
  const auto r = run_kmeans(x, o);
  EXPECT_LE(r.inertia, ref["inertia"].get<double>());
  EXPECT_DOUBLE_EQ(adjusted_rand_index(r.labels, cvt::reference_truth("blobs4")), 1.0);
}

TEST(KMeans, OneClusterIsTheMean) {
  const auto x = cvt::reference_data("blobs2");
  KMeansOptions o;
  o.clusters = 1;
  const auto r = run_kmeans(x, o);
  EXPECT_LE((r.centers[0] - x.mean(0)).abs().max().item<double>(), 1e-12);
  EXPECT_NEAR(r.inertia, (x - x.mean(0)).pow(2).sum().item<double>(), 1e-9);
  EXPECT_EQ(r.labels, std::vector<std::int32_t>(static_cast<std::size_t>(x.size(0)), 0));
}

TEST(KMeans, EmptyClusterTakesTheFarthestRow) {
  // Two groups, three centres, one of them far from everything: it loses all rows in the first
  // assignment and is moved onto a data row, so all three clusters end up used.
  auto x = torch::tensor({0.0, 0.1, 0.2, 5.0, 5.1, 5.3, 9.0}, torch::kFloat64).view({7, 1});
  auto start = torch::tensor({0.1, 5.0, 100.0}, torch::kFloat64).view({3, 1});
  const auto r = run_kmeans_from_centers(x, start, {});
  EXPECT_EQ(std::set<std::int32_t>(r.labels.begin(), r.labels.end()).size(), 3u);
  EXPECT_EQ(r.labels.back(), 2);  // the far centre moved onto the row at 9
  EXPECT_LT(r.inertia, 1.0);
}

TEST(KMeans, FewerDistinctRowsThanClusters) {
  auto x = torch::tensor({1.0, 1.0, 1.0, 2.0, 2.0}, torch::kFloat64).view({5, 1});
  KMeansOptions o;
  o.clusters = 3;
  const auto r = run_kmeans(x, o);
  EXPECT_EQ(r.inertia, 0.0);
  EXPECT_EQ(r.labels.size(), 5u);
}

TEST(KMeans, InputErrors) {
  const auto x = cvt::reference_data("blobs2");
  KMeansOptions o;
  o.clusters = 301;
  EXPECT_NE(cvt::error_of([&] { run_kmeans(x, o); }).find("between 1 and the number of rows"),
            std::string::npos);
  o.clusters = 0;
  EXPECT_NE(cvt::error_of([&] { run_kmeans(x, o); }).find("clusters"), std::string::npos);
  o.clusters = 2;
  o.n_init = 0;
  EXPECT_NE(cvt::error_of([&] { run_kmeans(x, o); }).find("n_init"), std::string::npos);
  o.n_init = 1;
  o.max_iterations = 0;
  EXPECT_NE(cvt::error_of([&] { run_kmeans(x, o); }).find("max_iterations"), std::string::npos);
  auto bad = x.clone();
  bad[3][1] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_NE(cvt::error_of([&] { run_kmeans(bad, {}); }).find("NaN"), std::string::npos);
  EXPECT_NE(cvt::error_of([&] { run_kmeans(x.select(1, 0), {}); }).find("matrix"),
            std::string::npos);
  EXPECT_NE(cvt::error_of([&] {
              run_kmeans_from_centers(x, torch::zeros({2, 3}, torch::kFloat64));
            }).find("(k x 2)"),
            std::string::npos);
  EXPECT_NE(cvt::error_of([&] { kmeans_plusplus(x, 0, 1); }).find("number of centres"),
            std::string::npos);
}

}  // namespace
}  // namespace cellvae::analysis
