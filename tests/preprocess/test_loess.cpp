#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cellvae/error.hpp"
#include "cellvae/preprocess/loess.hpp"

namespace cellvae {
namespace {

// Direct loess written the slow, obvious way (sort all distances, solve the 3x3 normal
// equations), for comparison with the windowed, orthogonalized implementation.
double brute_force_at(const std::vector<double>& x, const std::vector<double>& y, double span,
                      std::size_t i) {
  const std::size_t n = x.size();
  const std::size_t q = static_cast<std::size_t>(std::floor(span * static_cast<double>(n) + 1e-9));
  std::vector<double> d(n);
  for (std::size_t j = 0; j < n; ++j) d[j] = std::fabs(x[j] - x[i]);
  std::vector<double> sorted = d;
  std::sort(sorted.begin(), sorted.end());
  const double h = sorted[q - 1];
  double m[3][4] = {};
  for (std::size_t j = 0; j < n; ++j) {
    if (d[j] >= h) continue;
    const double r = d[j] / h, w = std::pow(1 - r * r * r, 3), u = x[j] - x[i];
    const double basis[3] = {1, u, u * u};
    for (int a = 0; a < 3; ++a) {
      for (int b = 0; b < 3; ++b) m[a][b] += w * basis[a] * basis[b];
      m[a][3] += w * basis[a] * y[j];
    }
  }
  for (int c = 0; c < 3; ++c)  // Gauss-Jordan elimination
    for (int r = 0; r < 3; ++r) {
      if (r == c) continue;
      const double f = m[r][c] / m[c][c];
      for (int k = 0; k < 4; ++k) m[r][k] -= f * m[c][k];
    }
  return m[0][3] / m[0][0];
}

TEST(Loess, ReproducesAQuadraticExactly) {
  std::vector<double> x, y;
  for (int i = 0; i < 50; ++i) {
    const double xi = -2 + 0.09 * i + 0.01 * std::sin(i);  // uneven spacing
    x.push_back(xi);
    y.push_back(1 + 2 * xi - 3 * xi * xi);
  }
  LoessResult r = loess_fit(x, y);
  EXPECT_EQ(r.neighbours, 15);
  EXPECT_EQ(r.n_reduced_degree, 0);
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(r.fitted[i], y[i], 1e-10);
}

TEST(Loess, DegreeOneReproducesALineAndSmoothsACurve) {
  std::vector<double> x, line, curve;
  for (int i = 0; i < 40; ++i) {
    x.push_back(i * 0.5);
    line.push_back(3 - 0.25 * i * 0.5);
    curve.push_back(std::pow(i * 0.5, 2));
  }
  LoessOptions o;
  o.degree = 1;
  o.span = 0.5;
  LoessResult r = loess_fit(x, line, o);
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(r.fitted[i], line[i], 1e-10);
  // A local line cannot follow a parabola exactly: the fit is off where it bends.
  LoessResult c = loess_fit(x, curve, o);
  EXPECT_GT(std::fabs(c.fitted[20] - curve[20]), 1e-3);
}

TEST(Loess, MatchesBruteForceOnNoisyData) {
  std::vector<double> x, y;
  for (int i = 0; i < 97; ++i) {
    const double xi = std::fmod(i * 0.618034, 1.0) * 4 - 1;  // unsorted input
    x.push_back(xi);
    y.push_back(std::sin(2 * xi) + 0.3 * std::cos(17.0 * i));
  }
  x.push_back(x[5]);  // a repeated x value
  y.push_back(0.7);
  LoessResult r = loess_fit(x, y);
  for (std::size_t i = 0; i < x.size(); ++i)
    EXPECT_NEAR(r.fitted[i], brute_force_at(x, y, 0.3, i), 1e-9) << "point " << i;
  EXPECT_EQ(r.fitted[5], r.fitted[97]);  // same x, same fit
}

TEST(Loess, PermutingInputsPermutesFits) {
  std::vector<double> x = {0.1, 0.5, 0.2, 0.9, 0.4, 0.7, 0.3, 0.8, 0.6, 1.0, 0.05, 0.95};
  std::vector<double> y;
  for (double v : x) y.push_back(std::exp(v) + 0.1 * std::sin(40 * v));
  LoessOptions o;
  o.span = 0.75;
  LoessResult a = loess_fit(x, y, o);
  std::vector<double> xr(x.rbegin(), x.rend()), yr(y.rbegin(), y.rend());
  LoessResult b = loess_fit(xr, yr, o);
  for (std::size_t i = 0; i < x.size(); ++i)
    EXPECT_DOUBLE_EQ(a.fitted[i], b.fitted[x.size() - 1 - i]);
}

TEST(Loess, ManyPointsAtOneXAverageThem) {
  // 8 of 10 points at x = 1: with q = 5 the bandwidth there is 0.
  std::vector<double> x = {1, 1, 1, 1, 1, 1, 1, 1, 5, 6};
  std::vector<double> y = {1, 2, 3, 4, 5, 6, 7, 8, 0, 0};
  LoessOptions o;
  o.span = 0.5;
  LoessResult r = loess_fit(x, y, o);
  for (int i = 0; i < 8; ++i) EXPECT_DOUBLE_EQ(r.fitted[i], 4.5);
  EXPECT_GE(r.n_reduced_degree, 1);
}

TEST(Loess, TwoDistinctXValuesLowerTheDegree) {
  // At x = 0 the points at x = 1 sit exactly at the bandwidth (weight 0): only one x value
  // has weight, so the fit is the mean there.
  std::vector<double> x = {0, 0, 0, 1, 1, 1};
  std::vector<double> y = {1, 2, 3, 10, 20, 30};
  LoessOptions o;
  o.span = 1.0;
  LoessResult r = loess_fit(x, y, o);
  EXPECT_DOUBLE_EQ(r.fitted[0], 2.0);
  EXPECT_DOUBLE_EQ(r.fitted[3], 20.0);
  EXPECT_EQ(r.n_reduced_degree, 2);
  for (double v : r.fitted) EXPECT_TRUE(std::isfinite(v));
}

TEST(Loess, RejectsInvalidInput) {
  std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, y(10, 1.0);
  LoessOptions o;
  o.span = 0;
  EXPECT_THROW(loess_fit(x, y, o), InputError);
  o.span = 1.5;
  EXPECT_THROW(loess_fit(x, y, o), InputError);
  o.span = 0.5;
  o.degree = 3;
  EXPECT_THROW(loess_fit(x, y, o), InputError);
  o.degree = 2;
  EXPECT_THROW(loess_fit(x, std::vector<double>(9, 1.0), o), InputError);
  EXPECT_THROW(loess_fit({}, {}, o), InputError);
  std::vector<double> bad = x;
  bad[3] = std::nan("");
  EXPECT_THROW(loess_fit(bad, y, o), InputError);
  o.span = 0.2;  // q = 2 < degree + 1
  try {
    loess_fit(x, y, o);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("2 neighbours"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cellvae
