#include "cellvae/preprocess/normalize.hpp"

#include <cmath>
#include <sstream>
#include <string>

#include "cellvae/error.hpp"

namespace cellvae {
namespace {

std::string text(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

std::string cell_label(std::int64_t r, const std::vector<std::string>* names) {
  std::string s = "cell " + std::to_string(r);
  if (names && static_cast<std::size_t>(r) < names->size())
    s += " ('" + (*names)[static_cast<std::size_t>(r)] + "')";
  return s;
}

double row_library(const CsrMatrix& m, std::int64_t r, const std::vector<std::string>* names) {
  double total = 0;
  for (std::int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) {
    const double v = m.data[k];
    if (!std::isfinite(v) || v < 0)
      throw InputError("size factors need counts, but the value of " + cell_label(r, names) +
                       ", gene " + std::to_string(m.indices[k]) + " is " + text(v));
    total += v;
  }
  return total;
}

SizeFactorResult size_factors_impl(const CsrMatrix& counts, const SizeFactorOptions& options,
                                   const std::vector<std::string>* names) {
  if (counts.n_rows < 1) throw InputError("size factors: the matrix has no cells");
  if (options.reference_library &&
      !(std::isfinite(*options.reference_library) && *options.reference_library > 0))
    throw InputError("reference_library must be finite and > 0 (got " +
                     text(*options.reference_library) + ")");
  SizeFactorResult result;
  result.library_sizes.resize(static_cast<std::size_t>(counts.n_rows));
  double total = 0;
  for (std::int64_t r = 0; r < counts.n_rows; ++r) {
    const double lib = row_library(counts, r, names);
    if (lib == 0)
      throw InputError(cell_label(r, names) +
                       " has no counts (library size 0), so it has no size factor; remove "
                       "empty cells first (min_counts_per_cell)");
    result.library_sizes[static_cast<std::size_t>(r)] = lib;
    total += lib;
  }
  result.reference_library = options.reference_library ? *options.reference_library
                                                       : total / static_cast<double>(counts.n_rows);
  result.size_factors.resize(result.library_sizes.size());
  for (std::size_t r = 0; r < result.library_sizes.size(); ++r)
    result.size_factors[r] = result.library_sizes[r] / result.reference_library;
  return result;
}

}  // namespace

SizeFactorResult library_size_factors(const CsrMatrix& counts, const SizeFactorOptions& options) {
  return size_factors_impl(counts, options, nullptr);
}

SizeFactorResult library_size_factors(const Dataset& data, const SizeFactorOptions& options) {
  return size_factors_impl(data.X, options, &data.obs.index);
}

double mean_library_size(const CsrMatrix& counts, const std::vector<std::int64_t>& rows) {
  if (rows.empty()) throw InputError("mean library size: no cells given");
  double total = 0;
  for (std::int64_t r : rows) {
    if (r < 0 || r >= counts.n_rows)
      throw InputError("mean library size: cell index " + std::to_string(r) +
                       " out of range (matrix has " + std::to_string(counts.n_rows) + " cells)");
    total += row_library(counts, r, nullptr);
  }
  if (total == 0) throw InputError("mean library size: the cells given have no counts");
  return total / static_cast<double>(rows.size());
}

CsrMatrix log_normalize(const CsrMatrix& counts, const std::vector<double>& size_factors) {
  if (static_cast<std::int64_t>(size_factors.size()) != counts.n_rows)
    throw InputError("log_normalize: " + std::to_string(size_factors.size()) +
                     " size factors for " + std::to_string(counts.n_rows) + " cells");
  CsrMatrix out = counts;
  for (std::int64_t r = 0; r < counts.n_rows; ++r) {
    const double sf = size_factors[static_cast<std::size_t>(r)];
    if (!(std::isfinite(sf) && sf > 0))
      throw InputError("log_normalize: size factor of cell " + std::to_string(r) + " is " +
                       text(sf) + "; it must be finite and > 0");
    for (std::int64_t k = counts.indptr[r]; k < counts.indptr[r + 1]; ++k)
      out.data[k] = static_cast<float>(std::log2(static_cast<double>(counts.data[k]) / sf + 1.0));
  }
  return out;
}

LogNormResult log_norm_counts(const CsrMatrix& counts, const LogNormOptions& options) {
  LogNormResult result;
  result.size_factors = library_size_factors(counts, options.size_factors);
  result.values = log_normalize(counts, result.size_factors.size_factors);
  return result;
}

LogNormResult log_norm_counts(const Dataset& data, const LogNormOptions& options) {
  LogNormResult result;
  result.size_factors = library_size_factors(data, options.size_factors);
  result.values = log_normalize(data.X, result.size_factors.size_factors);
  return result;
}

std::vector<float> inverse_log_normalize(const std::vector<float>& log_values, double size_factor) {
  if (!(std::isfinite(size_factor) && size_factor > 0))
    throw InputError("inverse_log_normalize: size factor must be finite and > 0 (got " +
                     text(size_factor) + ")");
  std::vector<float> out(log_values.size());
  for (std::size_t i = 0; i < log_values.size(); ++i) {
    const double c = (std::exp2(static_cast<double>(log_values[i])) - 1.0) * size_factor;
    out[i] = c > 0 ? static_cast<float>(c) : 0.0f;
  }
  return out;
}

}  // namespace cellvae
