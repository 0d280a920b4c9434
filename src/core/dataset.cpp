#include "cellvae/dataset.hpp"

#include <algorithm>
#include <numeric>

#include "cellvae/error.hpp"

namespace cellvae {

namespace {
std::string in_source(const Dataset& ds) {
  return ds.source.empty() ? std::string() : " in " + ds.source;
}
}  // namespace

void Dataset::validate() const {
  X.validate(source.empty() ? "X" : (source + ": X").c_str());
  if (static_cast<std::int64_t>(obs.n_rows()) != X.n_rows)
    throw InputError("X has " + std::to_string(X.n_rows) + " rows (cells) but obs has " +
                     std::to_string(obs.n_rows()) + " entries" + in_source(*this));
  if (static_cast<std::int64_t>(var.n_rows()) != X.n_cols)
    throw InputError("X has " + std::to_string(X.n_cols) + " columns (genes) but var has " +
                     std::to_string(var.n_rows()) + " entries" + in_source(*this));
  for (const auto* frame : {&obs, &var}) {
    for (const auto& c : frame->columns)
      if (c.size() != frame->n_rows())
        throw InputError((frame == &obs ? "obs" : "var") + std::string(" column '") + c.name +
                         "' has " + std::to_string(c.size()) + " values for " +
                         std::to_string(frame->n_rows()) + " rows" + in_source(*this));
  }
  for (const auto& [key, a] : obsm) {
    if (a.rows != X.n_rows || static_cast<std::int64_t>(a.values.size()) != a.rows * a.cols)
      throw InputError("obsm['" + key + "'] has " + std::to_string(a.rows) + " rows for " +
                       std::to_string(X.n_rows) + " cells" + in_source(*this));
  }
}

Dataset subset(const Dataset& ds, const std::vector<std::int64_t>& rows,
               const std::vector<std::int64_t>& cols) {
  Dataset out;
  const bool all_cols = static_cast<std::int64_t>(cols.size()) == ds.X.n_cols &&
                        std::is_sorted(cols.begin(), cols.end()) &&
                        (cols.empty() || cols.back() == ds.X.n_cols - 1);
  out.X = all_cols ? select_rows(ds.X, rows) : select(ds.X, rows, cols);
  out.obs = ds.obs.take(rows);
  out.var = all_cols ? ds.var : ds.var.take(cols);
  for (const auto& [key, a] : ds.obsm) {
    DenseArray b;
    b.rows = static_cast<std::int64_t>(rows.size());
    b.cols = a.cols;
    b.values.reserve(static_cast<std::size_t>(b.rows * b.cols));
    for (std::int64_t r : rows)
      b.values.insert(b.values.end(), a.values.begin() + r * a.cols,
                      a.values.begin() + (r + 1) * a.cols);
    out.obsm.emplace(key, std::move(b));
  }
  out.uns = ds.uns;
  out.layers = {};  // layers are not carried: only X was read
  out.source = ds.source;
  return out;
}

void subset_in_place(Dataset& ds, const std::vector<std::int64_t>& rows,
                     const std::vector<std::int64_t>& cols) {
  const bool all_cols = static_cast<std::int64_t>(cols.size()) == ds.X.n_cols;
  select_in_place(ds.X, rows, cols);  // checks both index lists first
  ds.obs = ds.obs.take(rows);
  if (!all_cols) ds.var = ds.var.take(cols);
  for (auto& [key, a] : ds.obsm) {
    // Ascending rows: each kept row moves to the front, never over a row still to be read.
    for (std::size_t i = 0; i < rows.size(); ++i)
      std::copy(a.values.begin() + rows[i] * a.cols, a.values.begin() + (rows[i] + 1) * a.cols,
                a.values.begin() + static_cast<std::int64_t>(i) * a.cols);
    a.rows = static_cast<std::int64_t>(rows.size());
    a.values.resize(static_cast<std::size_t>(a.rows * a.cols));
  }
  ds.layers = {};  // layers are not carried: only X was read
}

std::vector<std::int64_t> iota_indices(std::int64_t n) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), std::int64_t{0});
  return v;
}

void make_dataset_names_unique(Dataset& ds) {
  if (std::size_t n = make_names_unique(ds.obs.index))
    ds.warnings.push_back(std::to_string(n) +
                          " duplicate cell names made unique by appending -1, -2, ...");
  if (std::size_t n = make_names_unique(ds.var.index))
    ds.warnings.push_back(std::to_string(n) +
                          " duplicate gene names made unique by appending -1, -2, ...");
}

}  // namespace cellvae
