#include "cellvae/analysis/cluster_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>
#include <utility>

#include "cellvae/error.hpp"

namespace cellvae::analysis {

namespace {

/// The contingency table of two labelings: counts per (a, b) pair, and per label of each.
struct Contingency {
  std::unordered_map<std::uint64_t, double> joint;
  std::vector<double> rows;  ///< counts of each distinct label of a
  std::vector<double> cols;  ///< counts of each distinct label of b
  double n = 0;
};

/// Dense codes 0..m-1 of the distinct labels, and the count of each.
std::vector<std::uint32_t> encode(const std::vector<std::int32_t>& labels,
                                  std::vector<double>& counts) {
  std::unordered_map<std::int32_t, std::uint32_t> code;
  std::vector<std::uint32_t> out(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    auto [it, fresh] = code.emplace(labels[i], static_cast<std::uint32_t>(code.size()));
    if (fresh) counts.push_back(0);
    counts[it->second] += 1;
    out[i] = it->second;
  }
  return out;
}

Contingency contingency(const std::vector<std::int32_t>& a, const std::vector<std::int32_t>& b,
                        const char* what) {
  if (a.size() != b.size())
    throw InputError(std::string(what) + ": the two labelings have different lengths (" +
                     std::to_string(a.size()) + " and " + std::to_string(b.size()) + ")");
  if (a.empty()) throw InputError(std::string(what) + ": the labelings are empty");
  Contingency c;
  const auto ca = encode(a, c.rows);
  const auto cb = encode(b, c.cols);
  for (std::size_t i = 0; i < a.size(); ++i)
    c.joint[(static_cast<std::uint64_t>(ca[i]) << 32) | cb[i]] += 1;
  c.n = static_cast<double>(a.size());
  return c;
}

double pairs(double m) { return m * (m - 1) / 2; }

}  // namespace

double adjusted_rand_index(const std::vector<std::int32_t>& a, const std::vector<std::int32_t>& b) {
  const Contingency c = contingency(a, b, "adjusted Rand index");
  double together = 0, rows = 0, cols = 0;
  for (const auto& [key, count] : c.joint) together += pairs(count);
  for (double r : c.rows) rows += pairs(r);
  for (double s : c.cols) cols += pairs(s);
  const double total = pairs(c.n);
  if (total == 0) return 1.0;  // a single cell: nothing to disagree on
  const double expected = rows * cols / total;
  const double maximum = (rows + cols) / 2;
  // A zero denominator means rows == cols == 0 (all singletons) or == total (one cluster):
  // both labelings are then the same partition.
  if (maximum - expected == 0) return 1.0;
  return (together - expected) / (maximum - expected);
}

double normalized_mutual_information(const std::vector<std::int32_t>& a,
                                     const std::vector<std::int32_t>& b) {
  const Contingency c = contingency(a, b, "normalized mutual information");
  if (c.rows.size() == 1 && c.cols.size() == 1) return 1.0;
  auto entropy = [&](const std::vector<double>& counts) {
    double h = 0;
    for (double m : counts) h -= m / c.n * std::log(m / c.n);
    return h;
  };
  const double ha = entropy(c.rows), hb = entropy(c.cols);
  double mi = 0;
  for (const auto& [key, count] : c.joint) {
    const double r = c.rows[key >> 32], s = c.cols[key & 0xffffffffULL];
    mi += count / c.n * std::log(count * c.n / (r * s));
  }
  mi = std::max(mi, 0.0);
  const double mean_entropy = (ha + hb) / 2;
  if (mean_entropy <= 0) return 1.0;  // unreachable: both single-cluster is handled above
  return std::min(mi / mean_entropy, 1.0);
}

}  // namespace cellvae::analysis
