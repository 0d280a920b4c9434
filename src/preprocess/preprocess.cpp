#include "cellvae/preprocess/preprocess.hpp"

#include <string>
#include <utility>

#include "cellvae/error.hpp"

namespace cellvae {
namespace {

EncodedColumn encode_column(const Dataset& data, const std::string& key, const char* role,
                            std::vector<std::int32_t>& codes, std::vector<std::string>& warnings) {
  const Column& col = data.obs.at(key, "obs");
  EncodedColumn e{key, CategoryEncoder::from_column(col)};
  codes = e.encoder.encode(col, data.obs.index);
  std::vector<std::int64_t> per(e.encoder.categories.size(), 0);
  for (std::int32_t c : codes) ++per[static_cast<std::size_t>(c)];
  std::vector<std::string> empty;
  for (std::size_t c = 0; c < per.size(); ++c)
    if (per[c] == 0) empty.push_back(e.encoder.categories[c]);
  if (!empty.empty())
    warnings.push_back(std::string(role) + " column '" + key +
                       "': " + std::to_string(empty.size()) +
                       " categories have no cells after preprocessing (kept so that codes "
                       "match the file): " +
                       join_names(empty, 10));
  return e;
}

}  // namespace

PreprocessResult preprocess(Dataset data, const PreprocessOptions& options) {
  data.validate();
  // Fail on a wrong key before any work.
  if (options.batch_key) data.obs.at(*options.batch_key, "obs");
  if (options.label_key) data.obs.at(*options.label_key, "obs");
  if (options.n_top_genes && *options.n_top_genes < 1)
    throw InputError("n_top_genes must be >= 1 (got " + std::to_string(*options.n_top_genes) + ")");

  PreprocessResult result;
  result.filter = filter_cells_and_genes(data.X, options.filter);
  subset_in_place(data, result.filter.kept_cells, result.filter.kept_genes);
  Dataset& filtered = data;

  std::vector<std::int32_t> batch_codes;
  std::vector<std::string> ignored;
  if (options.batch_key) encode_column(filtered, *options.batch_key, "batch", batch_codes, ignored);

  std::vector<std::int64_t> cells = iota_indices(filtered.n_cells());
  std::vector<std::int64_t> genes = iota_indices(filtered.n_genes());
  if (options.n_top_genes) {
    HvgOptions h;
    h.n_top_genes = *options.n_top_genes;
    h.span = options.hvg_span;
    h.batch_codes = batch_codes;
    result.hvg = highly_variable_genes(filtered.X, h);
    genes = result.hvg->selected;
    if (result.hvg->n_top_genes < *options.n_top_genes)
      result.warnings.push_back("n_top_genes = " + std::to_string(*options.n_top_genes) +
                                " but only " + std::to_string(filtered.n_genes()) +
                                " genes passed the filters; keeping all of them");
    // Cells with no counts in the selected genes would have no size factor.
    std::vector<std::int64_t> nonzero(static_cast<std::size_t>(filtered.n_cells()), 0);
    std::vector<char> selected(static_cast<std::size_t>(filtered.n_genes()), 0);
    for (std::int64_t g : genes) selected[static_cast<std::size_t>(g)] = 1;
    const CsrMatrix& X = filtered.X;
    for (std::int64_t r = 0; r < X.n_rows; ++r)
      for (std::int64_t k = X.indptr[r]; k < X.indptr[r + 1]; ++k)
        if (X.data[k] != 0 && selected[static_cast<std::size_t>(X.indices[k])]) {
          nonzero[static_cast<std::size_t>(r)] = 1;
          break;
        }
    cells.clear();
    for (std::int64_t r = 0; r < X.n_rows; ++r)
      (nonzero[static_cast<std::size_t>(r)] ? cells : result.cells_empty_after_hvg).push_back(r);
    if (cells.empty())
      throw InputError("no cells left: every cell has zero counts in the " +
                       std::to_string(genes.size()) + " highly variable genes");
    if (!result.cells_empty_after_hvg.empty())
      result.warnings.push_back(std::to_string(result.cells_empty_after_hvg.size()) +
                                " cells have no counts in the highly variable genes and were "
                                "removed");
  }

  PreprocessState& state = result.state;
  state.options = options;
  state.genes_after_filter = filtered.var.index;
  subset_in_place(filtered, cells, genes);
  result.data = std::move(filtered);
  state.genes = result.data.var.index;
  if (options.label_key)
    state.labels = encode_column(result.data, *options.label_key, "label", result.label_codes,
                                 result.warnings);
  if (options.batch_key)
    state.batches = encode_column(result.data, *options.batch_key, "batch", result.batch_codes,
                                  result.warnings);
  return result;
}

}  // namespace cellvae
