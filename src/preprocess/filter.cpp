#include "cellvae/preprocess/filter.hpp"

#include <cmath>
#include <sstream>
#include <string>

#include "cellvae/error.hpp"

namespace cellvae {
namespace {

void check_options(const FilterOptions& o) {
  if (o.min_cells_per_gene < 0)
    throw InputError("min_cells_per_gene must be >= 0 (got " +
                     std::to_string(o.min_cells_per_gene) + ")");
  if (o.min_genes_per_cell < 0)
    throw InputError("min_genes_per_cell must be >= 0 (got " +
                     std::to_string(o.min_genes_per_cell) + ")");
  if (!std::isfinite(o.min_counts_per_cell) || o.min_counts_per_cell < 0)
    throw InputError("min_counts_per_cell must be finite and >= 0 (got " +
                     format_number(o.min_counts_per_cell) + ")");
  if (o.max_counts_per_cell) {
    double mx = *o.max_counts_per_cell;
    if (std::isnan(mx) || mx < o.min_counts_per_cell)
      throw InputError("max_counts_per_cell (" + format_number(mx) +
                       ") must be >= min_counts_per_cell (" + format_number(o.min_counts_per_cell) +
                       ")");
  }
}

}  // namespace

FilterResult filter_cells_and_genes(const CsrMatrix& counts, const FilterOptions& options) {
  check_options(options);
  FilterResult result;
  const std::int64_t n_cells = counts.n_rows;

  for (std::int64_t r = 0; r < n_cells; ++r) {
    double total = 0;
    std::int64_t detected = 0;
    for (std::int64_t k = counts.indptr[r]; k < counts.indptr[r + 1]; ++k) {
      total += counts.data[k];
      if (counts.data[k] != 0) ++detected;
    }
    bool few_genes = detected < options.min_genes_per_cell;
    bool few_counts = total < options.min_counts_per_cell;
    bool many_counts = options.max_counts_per_cell && total > *options.max_counts_per_cell;
    result.n_cells_below_min_genes += few_genes;
    result.n_cells_below_min_counts += few_counts;
    result.n_cells_above_max_counts += many_counts;
    if (few_genes || few_counts || many_counts)
      ++result.n_cells_removed;
    else
      result.kept_cells.push_back(r);
  }
  if (result.kept_cells.empty()) {
    // Name every criterion that removed cells: the user may have to relax several.
    std::string why;
    auto add = [&](const std::string& option, std::int64_t removed) {
      if (removed == 0) return;
      if (!why.empty()) why += "; ";
      why += option + " removed " + std::to_string(removed) + " of " + std::to_string(n_cells) +
             " cells";
    };
    add("min_genes_per_cell = " + std::to_string(options.min_genes_per_cell),
        result.n_cells_below_min_genes);
    add("min_counts_per_cell = " + format_number(options.min_counts_per_cell),
        result.n_cells_below_min_counts);
    if (options.max_counts_per_cell)
      add("max_counts_per_cell = " + format_number(*options.max_counts_per_cell),
          result.n_cells_above_max_counts);
    if (n_cells == 0) why = "the matrix has no cells";
    throw InputError("no cells left after filtering: " + why);
  }

  std::vector<std::int64_t> expressing(static_cast<std::size_t>(counts.n_cols), 0);
  for (std::int64_t r : result.kept_cells)
    for (std::int64_t k = counts.indptr[r]; k < counts.indptr[r + 1]; ++k)
      if (counts.data[k] != 0) ++expressing[static_cast<std::size_t>(counts.indices[k])];
  for (std::int64_t g = 0; g < counts.n_cols; ++g) {
    if (expressing[static_cast<std::size_t>(g)] >= options.min_cells_per_gene)
      result.kept_genes.push_back(g);
    else
      ++result.n_genes_removed;
  }
  if (result.kept_genes.empty()) {
    if (counts.n_cols == 0)
      throw InputError("no genes left after filtering: the matrix has no genes");
    throw InputError("no genes left after filtering: min_cells_per_gene = " +
                     std::to_string(options.min_cells_per_gene) + " removed " +
                     std::to_string(result.n_genes_removed) + " of " +
                     std::to_string(counts.n_cols) + " genes (counted over the " +
                     std::to_string(result.kept_cells.size()) + " cells kept)");
  }
  return result;
}

}  // namespace cellvae
