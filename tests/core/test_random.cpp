// The generator's distributions against CDFs computed by scipy.stats
// (tests/reference/make_core_reference.py).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "cellvae/random.hpp"
#include "test_support.hpp"

using namespace cellvae;
namespace cvt = cellvae::testing;

TEST(Rng, SameSeedSameStreamDifferentSeedDifferent) {
  Rng a(7), b(7), c(8);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const auto x = a.next();
    EXPECT_EQ(x, b.next());
    differs = differs || x != c.next();
  }
  EXPECT_TRUE(differs);
}

TEST(Rng, BelowIsUniformAndInRange) {
  Rng r(1);
  std::vector<int> counts(7, 0);
  const int n = 70000;
  for (int i = 0; i < n; ++i) {
    const auto k = r.below(7);
    ASSERT_LT(k, 7u);
    ++counts[k];
  }
  for (int c : counts) EXPECT_NEAR(c, n / 7.0, 5 * std::sqrt(n / 7.0));
}

TEST(Rng, ShuffleIsAPermutation) {
  Rng r(3);
  std::vector<int> v{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  r.shuffle(v);
  std::vector<int> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(Rng, DistributionsMatchScipyCdfs) {
  std::ifstream in(cvt::fixture("core/distribution_cdfs.txt"));
  ASSERT_TRUE(in) << "missing fixture";
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    std::string name;
    int n_params, n_points;
    ss >> name >> n_params;
    std::vector<double> params(n_params);
    for (auto& p : params) ss >> p;
    ss >> n_points;
    std::vector<std::pair<double, double>> points(n_points);
    for (auto& [x, c] : points) ss >> x >> c;

    Rng rng(12345);
    const int draws = 200000;
    std::vector<double> sample(draws);
    for (auto& s : sample) {
      if (name == "poisson") s = double(rng.poisson(params[0]));
      else if (name == "nbinom") s = double(rng.negative_binomial(params[0], params[1]));
      else if (name == "gamma") s = rng.gamma(params[0]);
      else s = rng.normal();
    }
    // The empirical CDF at each point is within 5 binomial standard errors (plus a hair for
    // float comparisons) of scipy's.
    for (const auto& [x, cdf] : points) {
      double below = 0;
      for (double s : sample) below += s <= x + 1e-12;
      const double ecdf = below / draws;
      const double se = std::sqrt(cdf * (1 - cdf) / draws);
      EXPECT_NEAR(ecdf, cdf, 5 * se + 1e-4) << name << " params " << params[0] << " at " << x;
      ++checked;
    }
  }
  EXPECT_GT(checked, 40);
}
