// Statistics on vectors and samples: the names of the analysis choices, ranks and correlations,
// ROC AUC, and the two-sample statistics (KS, energy distance, MMD).
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>

#include <torch/torch.h>

#include "cellvae/enum_names.hpp"
#include "cellvae/analysis/correlation.hpp"
#include "cellvae/analysis/methods.hpp"
#include "cellvae/analysis/roc_auc.hpp"
#include "cellvae/analysis/two_sample.hpp"
#include "cellvae/error.hpp"

namespace cellvae::analysis {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

constexpr NameTable<PcaMethod, 2> kPcaMethodNames{{
    {PcaMethod::randomized, "randomized"},
    {PcaMethod::exact, "exact"},
}};

constexpr NameTable<Classifier, 3> kClassifierNames{{
    {Classifier::knn, "knn"},
    {Classifier::random_forest, "random-forest"},
    {Classifier::logistic, "logistic"},
}};

/// Euclidean distances between the rows of a (n x d) and b (m x d), from the coordinate
/// differences (not the |a|^2 + |b|^2 - 2ab expansion), so that equal rows are exactly 0 apart.
torch::Tensor distances(const torch::Tensor& a, const torch::Tensor& b) {
  return torch::cdist(a, b, 2.0, /*compute_mode: donot_use_mm_for_euclid_dist*/ 2);
}

/// Median of a 1-D tensor, averaging the two middle values for an even count (numpy's median).
double median_of(const torch::Tensor& v) {
  const std::int64_t n = v.numel();
  if (n == 0) return kNaN;
  const double hi = std::get<0>(v.kthvalue(n / 2 + 1)).item<double>();
  if (n % 2) return hi;
  return (hi + std::get<0>(v.kthvalue(n / 2)).item<double>()) / 2;
}

void check_samples(const torch::Tensor& x, const torch::Tensor& y, const char* what) {
  if (x.dim() != 2 || y.dim() != 2 || x.size(1) != y.size(1))
    throw std::invalid_argument(std::string(what) + ": samples must be 2-D with equal columns");
  if (x.size(0) == 0 || y.size(0) == 0)
    throw std::invalid_argument(std::string(what) + ": empty sample");
}

}  // namespace

std::string_view to_string(PcaMethod method) { return name_of(kPcaMethodNames, method); }
PcaMethod parse_pca_method(std::string_view name) {
  return parse_name(kPcaMethodNames, name, "PCA method");
}
std::string_view to_string(Classifier classifier) { return name_of(kClassifierNames, classifier); }
Classifier parse_classifier(std::string_view name) {
  return parse_name(kClassifierNames, name, "classifier");
}

// ---- correlation ----------------------------------------------------------------------------

std::vector<double> average_ranks(const std::vector<double>& values) {
  const std::size_t n = values.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(n);
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i + 1;
    while (j < n && values[order[j]] == values[order[i]]) ++j;
    const double rank = (static_cast<double>(i) + static_cast<double>(j) + 1) / 2;  // 1-based
    for (std::size_t t = i; t < j; ++t) ranks[order[t]] = rank;
    i = j;
  }
  return ranks;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) throw std::invalid_argument("pearson: vectors differ in length");
  const std::size_t n = a.size();
  if (n < 2) return kNaN;
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < n; ++i) {
    ma += a[i];
    mb += b[i];
  }
  ma /= static_cast<double>(n);
  mb /= static_cast<double>(n);
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double da = a[i] - ma, db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  if (saa <= 0 || sbb <= 0) return kNaN;
  return std::clamp(sab / std::sqrt(saa * sbb), -1.0, 1.0);
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) throw std::invalid_argument("spearman: vectors differ in length");
  std::vector<double> ka, kb;
  ka.reserve(a.size());
  kb.reserve(b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) continue;
    ka.push_back(a[i]);
    kb.push_back(b[i]);
  }
  return pearson(average_ranks(ka), average_ranks(kb));
}

// ---- ROC AUC --------------------------------------------------------------------------------

double roc_auc(const std::vector<double>& scores, const std::vector<std::int32_t>& labels) {
  if (scores.size() != labels.size())
    throw std::invalid_argument("roc_auc: one label per score needed");
  double n_pos = 0, rank_sum = 0;
  for (auto l : labels)
    if (l != 0 && l != 1) throw std::invalid_argument("roc_auc: labels must be 0 or 1");
  for (double s : scores)
    if (std::isnan(s)) throw std::invalid_argument("roc_auc: NaN score");
  const std::vector<double> ranks = average_ranks(scores);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] == 1) {
      n_pos += 1;
      rank_sum += ranks[i];
    }
  }
  const double n_neg = static_cast<double>(labels.size()) - n_pos;
  if (n_pos == 0 || n_neg == 0) throw std::invalid_argument("roc_auc: both classes needed");
  // Mann-Whitney: U = R_pos - n_pos (n_pos + 1) / 2 counts (pos, neg) pairs ordered correctly,
  // ties one half.
  return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg);
}

// ---- two-sample statistics ------------------------------------------------------------------

double ks_statistic(std::vector<double> a, std::vector<double> b) {
  auto drop_nan = [](std::vector<double>& v) {
    v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  };
  drop_nan(a);
  drop_nan(b);
  if (a.empty() || b.empty()) return kNaN;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  const double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  std::size_t i = 0, j = 0;
  double d = 0;
  // Walk the distinct values of the pooled sample in order; after passing every copy of a
  // value, both empirical CDFs are evaluated at it.
  while (i < a.size() && j < b.size()) {
    const double x = std::min(a[i], b[j]);
    while (i < a.size() && a[i] == x) ++i;
    while (j < b.size() && b[j] == x) ++j;
    d = std::max(d, std::abs(static_cast<double>(i) / na - static_cast<double>(j) / nb));
  }
  // Once one sample is exhausted its CDF is 1 and the other's only rises towards 1.
  return d;
}

EnergyResult energy_distance(const torch::Tensor& x, const torch::Tensor& y) {
  check_samples(x, y, "energy_distance");
  auto xd = x.to(torch::kFloat64), yd = y.to(torch::kFloat64);
  // Mean pairwise distance, a block of rows at a time: memory stays O(block x m) for the
  // many-thousand-point samples (genes) this is used on.
  auto mean_distance = [](const torch::Tensor& a, const torch::Tensor& b) {
    constexpr std::int64_t kBlock = 1024;
    double sum = 0;
    for (std::int64_t s = 0; s < a.size(0); s += kBlock)
      sum += distances(a.slice(0, s, std::min(a.size(0), s + kBlock)), b).sum().item<double>();
    return sum / (static_cast<double>(a.size(0)) * static_cast<double>(b.size(0)));
  };
  const double exy = mean_distance(xd, yd);
  const double exx = mean_distance(xd, xd);
  const double eyy = mean_distance(yd, yd);
  EnergyResult r;
  r.distance = std::max(0.0, 2 * exy - exx - eyy);
  r.coefficient = exy > 0 ? r.distance / (2 * exy) : 0.0;
  return r;
}

MmdResult mmd_rbf(const torch::Tensor& x, const torch::Tensor& y, const MmdOptions& options) {
  check_samples(x, y, "mmd_rbf");
  auto z = torch::cat({x, y}).to(torch::kFloat64);
  const std::int64_t n = x.size(0);
  auto d2 = distances(z, z).pow_(2);
  MmdResult r;
  if (options.bandwidth) {
    if (!(*options.bandwidth > 0)) throw std::invalid_argument("mmd_rbf: bandwidth must be > 0");
    r.bandwidth = *options.bandwidth;
  } else {
    // Each distinct pair appears twice in d2; the median of the doubled list is the median
    // of the pairs.
    auto positive = d2.masked_select(d2 > 0);
    r.bandwidth = positive.numel() ? median_of(positive) : 1.0;
  }
  auto k = (-d2 / r.bandwidth).exp_();
  auto kxx = k.slice(0, 0, n).slice(1, 0, n).mean().item<double>();
  auto kyy = k.slice(0, n).slice(1, n).mean().item<double>();
  auto kxy = k.slice(0, 0, n).slice(1, n).mean().item<double>();
  r.mmd2 = kxx + kyy - 2 * kxy;
  return r;
}

}  // namespace cellvae::analysis
