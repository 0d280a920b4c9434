#include "cellvae/preprocess/hvg.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>
#include <string>

#include "cellvae/error.hpp"
#include "cellvae/preprocess/loess.hpp"

namespace cellvae {
namespace {

std::string text(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

HvgResult highly_variable_genes(const CsrMatrix& counts, const HvgOptions& options) {
  if (options.n_top_genes < 1)
    throw InputError("n_top_genes must be >= 1 (got " + std::to_string(options.n_top_genes) + ")");
  if (!(options.span > 0 && options.span <= 1))
    throw InputError("HVG span must be in (0, 1] (got " + text(options.span) + ")");
  const std::int64_t n_cells = counts.n_rows, n_genes = counts.n_cols;
  if (n_cells < 2 || n_genes < 1)
    throw InputError("highly variable genes need at least 2 cells and 1 gene (got " +
                     std::to_string(n_cells) + " x " + std::to_string(n_genes) + ")");
  const auto& codes = options.batch_codes;
  if (!codes.empty() && static_cast<std::int64_t>(codes.size()) != n_cells)
    throw InputError("batch_codes has " + std::to_string(codes.size()) +
                     " entries but the matrix has " + std::to_string(n_cells) + " cells");

  // Map batch codes to slots 0..nb-1 in increasing code order, skipping codes without cells.
  std::vector<std::int32_t> slot_of_cell(static_cast<std::size_t>(n_cells), 0);
  std::vector<std::int32_t> slot_code{0};
  if (!codes.empty()) {
    std::int32_t max_code = 0;
    for (std::size_t r = 0; r < codes.size(); ++r) {
      if (codes[r] < 0)
        throw InputError("batch code of cell " + std::to_string(r) + " is " +
                         std::to_string(codes[r]) + "; codes must be >= 0");
      max_code = std::max(max_code, codes[r]);
    }
    std::vector<std::int64_t> per_code(static_cast<std::size_t>(max_code) + 1, 0);
    for (std::int32_t c : codes) ++per_code[static_cast<std::size_t>(c)];
    std::vector<std::int32_t> slot_of_code(per_code.size(), -1);
    slot_code.clear();
    for (std::size_t c = 0; c < per_code.size(); ++c)
      if (per_code[c] > 0) {
        slot_of_code[c] = static_cast<std::int32_t>(slot_code.size());
        slot_code.push_back(static_cast<std::int32_t>(c));
      }
    for (std::size_t r = 0; r < codes.size(); ++r)
      slot_of_cell[r] = slot_of_code[static_cast<std::size_t>(codes[r])];
  }
  const std::size_t nb = slot_code.size(), G = static_cast<std::size_t>(n_genes);
  auto at = [G](std::size_t b, std::int32_t g) { return b * G + static_cast<std::size_t>(g); };

  // Pass 1: sums, nonzero counts and value ranges per batch and gene.
  std::vector<std::int64_t> n_in(nb, 0);
  std::vector<double> sum(nb * G, 0), vmin(nb * G, std::numeric_limits<double>::infinity()),
      vmax(nb * G, -std::numeric_limits<double>::infinity());
  std::vector<std::int64_t> nnz(nb * G, 0);
  for (std::int64_t r = 0; r < n_cells; ++r) {
    const std::size_t b = static_cast<std::size_t>(slot_of_cell[static_cast<std::size_t>(r)]);
    ++n_in[b];
    for (std::int64_t k = counts.indptr[r]; k < counts.indptr[r + 1]; ++k) {
      const double v = counts.data[k];
      if (!std::isfinite(v) || v < 0)
        throw InputError("highly variable genes need raw counts, but the value at cell " +
                         std::to_string(r) + ", gene " + std::to_string(counts.indices[k]) +
                         " is " + text(v));
      if (v == 0) continue;
      const std::size_t i = at(b, counts.indices[k]);
      sum[i] += v;
      ++nnz[i];
      vmin[i] = std::min(vmin[i], v);
      vmax[i] = std::max(vmax[i], v);
    }
  }
  for (std::size_t b = 0; b < nb; ++b)
    if (n_in[b] < 2)
      throw InputError("highly variable genes: batch code " + std::to_string(slot_code[b]) +
                       " has " + std::to_string(n_in[b]) +
                       " cell; a variance needs at least 2 cells per batch");

  HvgResult result;
  result.n_top_genes = std::min(options.n_top_genes, n_genes);
  result.batches.resize(nb);
  std::vector<double> all_sum(G, 0), all_min(G, std::numeric_limits<double>::infinity()),
      all_max(G, -std::numeric_limits<double>::infinity());
  std::vector<std::int64_t> all_nnz(G, 0);
  for (std::size_t b = 0; b < nb; ++b) {
    HvgBatchDetail& d = result.batches[b];
    d.code = slot_code[b];
    d.n_cells = n_in[b];
    d.means.resize(G);
    for (std::size_t g = 0; g < G; ++g) {
      const std::size_t i = b * G + g;
      d.means[g] = sum[i] / static_cast<double>(n_in[b]);
      all_sum[g] += sum[i];
      all_nnz[g] += nnz[i];
      all_min[g] = std::min(all_min[g], vmin[i]);
      all_max[g] = std::max(all_max[g], vmax[i]);
    }
  }
  result.means.resize(G);
  for (std::size_t g = 0; g < G; ++g) result.means[g] = all_sum[g] / static_cast<double>(n_cells);

  // Pass 2: variances, summing squared deviations (no E[x^2] - E[x]^2 cancellation).
  std::vector<double> dev(nb * G, 0), all_dev(G, 0);
  for (std::int64_t r = 0; r < n_cells; ++r) {
    const std::size_t b = static_cast<std::size_t>(slot_of_cell[static_cast<std::size_t>(r)]);
    const auto& means = result.batches[b].means;
    for (std::int64_t k = counts.indptr[r]; k < counts.indptr[r + 1]; ++k) {
      const double v = counts.data[k];
      if (v == 0) continue;
      const std::size_t g = static_cast<std::size_t>(counts.indices[k]);
      const double e = v - means[g], ea = v - result.means[g];
      dev[b * G + g] += e * e;
      all_dev[g] += ea * ea;
    }
  }
  // Constancy is decided exactly (all values equal), not by a rounded variance being > 0.
  auto variance = [](double dev_sum, double mean, std::int64_t n, std::int64_t nz, double lo,
                     double hi) {
    if (nz == 0 || (nz == n && lo == hi)) return 0.0;
    return (dev_sum + static_cast<double>(n - nz) * mean * mean) / static_cast<double>(n - 1);
  };
  result.variances.resize(G);
  for (std::size_t g = 0; g < G; ++g)
    result.variances[g] =
        variance(all_dev[g], result.means[g], n_cells, all_nnz[g], all_min[g], all_max[g]);

  // Per batch: loess trend of log10 variance on log10 mean over the non-constant genes.
  std::vector<double> sd(nb * G, 0), clip(nb * G, 0);
  for (std::size_t b = 0; b < nb; ++b) {
    HvgBatchDetail& d = result.batches[b];
    d.variances.resize(G);
    d.log10_expected_variance.assign(G, std::numeric_limits<double>::quiet_NaN());
    std::vector<double> lx, ly;
    std::vector<std::size_t> varying;
    for (std::size_t g = 0; g < G; ++g) {
      const std::size_t i = b * G + g;
      d.variances[g] = variance(dev[i], d.means[g], n_in[b], nnz[i], vmin[i], vmax[i]);
      if (d.variances[g] > 0) {
        varying.push_back(g);
        lx.push_back(std::log10(d.means[g]));
        ly.push_back(std::log10(d.variances[g]));
      }
    }
    const std::int64_t q = static_cast<std::int64_t>(
        std::floor(options.span * static_cast<double>(varying.size()) + 1e-9));
    if (q < 3)
      throw InputError(
          "highly variable genes" +
          (codes.empty() ? std::string() : " in batch code " + std::to_string(d.code)) + ": " +
          std::to_string(varying.size()) +
          " genes vary, too few for a loess "
          "trend with span " +
          text(options.span) + " (span * genes must be at least 3)");
    LoessOptions lo;
    lo.span = options.span;
    lo.degree = 2;
    const std::vector<double> fit = loess_fit(lx, ly, lo).fitted;
    const double vmax_z = std::sqrt(static_cast<double>(n_in[b]));
    for (std::size_t j = 0; j < varying.size(); ++j) {
      const std::size_t g = varying[j], i = b * G + g;
      d.log10_expected_variance[g] = fit[j];
      sd[i] = std::sqrt(std::pow(10.0, fit[j]));
      clip[i] = d.means[g] + sd[i] * vmax_z;
    }
  }

  // Pass 3: variance of standardized counts clipped above at sqrt(n): each zero contributes
  // (mean / sd)^2, each nonzero (min(x, clip) - mean)^2 / sd^2.
  std::vector<double> zdev(nb * G, 0);
  for (std::int64_t r = 0; r < n_cells; ++r) {
    const std::size_t b = static_cast<std::size_t>(slot_of_cell[static_cast<std::size_t>(r)]);
    const auto& means = result.batches[b].means;
    for (std::int64_t k = counts.indptr[r]; k < counts.indptr[r + 1]; ++k) {
      const double v = counts.data[k];
      if (v == 0) continue;
      const std::size_t g = static_cast<std::size_t>(counts.indices[k]), i = b * G + g;
      const double e = std::min(v, clip[i]) - means[g];
      zdev[i] += e * e;
    }
  }
  result.variances_norm.assign(G, 0);
  std::vector<double> batch_ranks(nb * G, 0);
  for (std::size_t b = 0; b < nb; ++b) {
    HvgBatchDetail& d = result.batches[b];
    d.variances_norm.assign(G, 0);
    for (std::size_t g = 0; g < G; ++g) {
      const std::size_t i = b * G + g;
      if (sd[i] == 0) continue;  // constant in this batch
      const double m = d.means[g];
      d.variances_norm[g] = (zdev[i] + static_cast<double>(n_in[b] - nnz[i]) * m * m) /
                            (static_cast<double>(n_in[b] - 1) * sd[i] * sd[i]);
    }
    for (std::size_t g = 0; g < G; ++g)
      result.variances_norm[g] += d.variances_norm[g] / static_cast<double>(nb);
    std::vector<std::int64_t> order(G);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t c) {
      return d.variances_norm[static_cast<std::size_t>(a)] >
             d.variances_norm[static_cast<std::size_t>(c)];
    });
    d.rank.resize(G);
    for (std::size_t k = 0; k < G; ++k)
      d.rank[static_cast<std::size_t>(order[k])] = static_cast<std::int64_t>(k);
  }

  // Across batches: number of top-n lists a gene is in, then its median rank in those.
  result.n_batches.assign(G, 0);
  result.rank.assign(G, std::numeric_limits<double>::quiet_NaN());
  for (std::size_t g = 0; g < G; ++g) {
    std::vector<double> top_ranks;
    for (const auto& d : result.batches)
      if (d.rank[g] < result.n_top_genes) top_ranks.push_back(static_cast<double>(d.rank[g]));
    result.n_batches[g] = static_cast<std::int32_t>(top_ranks.size());
    if (!top_ranks.empty()) result.rank[g] = median(std::move(top_ranks));
  }
  result.order.resize(G);
  std::iota(result.order.begin(), result.order.end(), 0);
  std::stable_sort(result.order.begin(), result.order.end(), [&](std::int64_t a, std::int64_t c) {
    const std::size_t ia = static_cast<std::size_t>(a), ic = static_cast<std::size_t>(c);
    if (result.n_batches[ia] != result.n_batches[ic])
      return result.n_batches[ia] > result.n_batches[ic];
    const double ra =
        std::isnan(result.rank[ia]) ? std::numeric_limits<double>::infinity() : result.rank[ia];
    const double rc =
        std::isnan(result.rank[ic]) ? std::numeric_limits<double>::infinity() : result.rank[ic];
    return ra < rc;
  });
  result.selected.assign(result.order.begin(), result.order.begin() + result.n_top_genes);
  std::sort(result.selected.begin(), result.selected.end());
  return result;
}

}  // namespace cellvae
