// Reading Cell Ranger feature-barcode HDF5 files (filtered/raw_feature_bc_matrix.h5).
//
// Cell Ranger stores a genes x cells matrix in CSC form: indptr runs over barcodes and indices
// are gene rows. Those are exactly the CSR buffers of the cells x genes matrix, so the
// "transpose" to cellvae's orientation is a reinterpretation of the buffers, with no copy.
#include <algorithm>

#include "cellvae/error.hpp"
#include "cellvae/tenx.hpp"
#include "hdf5_handles.hpp"

namespace cellvae {

namespace {

using h5::Failure;
using h5::Id;

std::vector<std::string> strings_at(hid_t group, const char* name) {
  if (!h5::exists(group, name)) throw Failure(h5::name_of(group) + " has no '" + name + "'");
  Id d = h5::open(group, name);
  return h5::read_strings(d);
}

void check_length(hid_t group, const char* name, std::size_t got, std::int64_t expected,
                  const char* what) {
  if (static_cast<std::int64_t>(got) != expected)
    throw Failure(h5::name_of(group) + "/" + name + " has " + std::to_string(got) +
                  " entries but the matrix has " + std::to_string(expected) + " " + what);
}

/// The matrix of a v3 `/matrix` or v2 genome group, as cells x genes, plus obs names.
Dataset read_matrix_group(hid_t group) {
  if (!h5::exists(group, "shape")) throw Failure(h5::name_of(group) + " has no 'shape'");
  Id shape_dset = h5::open(group, "shape");
  const std::vector<std::int64_t> shape = h5::read_numbers<std::int64_t>(shape_dset);
  if (shape.size() != 2) throw Failure(h5::name_of(shape_dset) + " must hold 2 numbers");
  const std::int64_t n_genes = shape[0], n_cells = shape[1];
  Dataset ds;
  bool sorted = true;
  ds.X = h5::read_compressed(group, n_cells, n_genes, "barcode", sorted, /*threads=*/0);
  if (!sorted) {
    canonicalize(ds.X);
    ds.warnings.push_back("sorted and merged repeated gene indices of " + h5::name_of(group) +
                          " (the file's were not sorted within each barcode)");
  }
  ds.obs.index = strings_at(group, "barcodes");
  check_length(group, "barcodes", ds.obs.index.size(), n_cells, "cells");
  return ds;
}

Dataset read_v3(hid_t file, const std::optional<std::string>& genome) {
  Id matrix = h5::open(file, "matrix");
  Dataset ds = read_matrix_group(matrix);
  if (!h5::exists(matrix, "features")) throw Failure("/matrix has no 'features' group");
  Id features = h5::open(matrix, "features");
  ds.var.index = strings_at(features, "name");
  check_length(features, "name", ds.var.index.size(), ds.n_genes(), "genes");
  std::vector<std::string> ids = strings_at(features, "id");
  check_length(features, "id", ids.size(), ds.n_genes(), "genes");
  ds.var.set(Column::make_string("gene_ids", std::move(ids)));
  std::vector<std::string> genomes;
  for (const char* name : {"feature_type", "genome"}) {
    if (!h5::exists(features, name)) continue;
    std::vector<std::string> v = strings_at(features, name);
    check_length(features, name, v.size(), ds.n_genes(), "genes");
    if (std::string(name) == "genome") genomes = v;
    // Few distinct values ("Gene Expression", "GRCh38"): categorical, as anndata would store it.
    ds.var.set(Column::categorical_from_labels(
        std::string(name) == "feature_type" ? "feature_types" : "genome", v));
  }
  if (!genome) return ds;
  // v3 files hold every genome in one matrix: keep the genes of the one asked for.
  if (genomes.empty())
    throw Failure("cannot select genome '" + *genome + "': /matrix/features has no 'genome'");
  std::vector<std::int64_t> cols;
  for (std::size_t j = 0; j < genomes.size(); ++j)
    if (genomes[j] == *genome) cols.push_back(static_cast<std::int64_t>(j));
  if (cols.empty()) {
    const Column* g = ds.var.find("genome");
    throw Failure("genome '" + *genome +
                  "' not in /matrix/features/genome; available: " + join_names(g->categories));
  }
  ds.X = select(ds.X, iota_indices(ds.n_cells()), cols);
  ds.var = ds.var.take(cols);
  return ds;
}

Dataset read_v2(hid_t group) {
  Dataset ds = read_matrix_group(group);
  ds.var.index = strings_at(group, "gene_names");
  check_length(group, "gene_names", ds.var.index.size(), ds.n_genes(), "genes");
  std::vector<std::string> ids = strings_at(group, "genes");
  check_length(group, "genes", ids.size(), ds.n_genes(), "genes");
  ds.var.set(Column::make_string("gene_ids", std::move(ids)));
  return ds;
}

/// Root groups that look like Cell Ranger 2 genome groups.
std::vector<std::string> v2_genomes(hid_t file) {
  std::vector<std::string> out;
  for (const std::string& name : h5::member_names(file)) {
    Id obj = h5::open(file, name);
    if (h5::is_group(obj) && h5::exists(obj, "barcodes") && h5::exists(obj, "indptr"))
      out.push_back(name);
  }
  return out;
}

}  // namespace

Dataset read_10x_h5(const std::filesystem::path& path, const std::optional<std::string>& genome) {
  return h5::guarded(path, [&] {
    Id file = h5::open_file_read(path);
    const std::string p = path.string();
    Dataset ds;
    if (h5::exists(file, "matrix")) {
      ds = read_v3(file, genome);
    } else {
      const std::vector<std::string> genomes = v2_genomes(file);
      if (genomes.empty())
        throw InputError(p +
                         " is not a 10x HDF5 file: no /matrix group (Cell Ranger 3) and no "
                         "genome group with barcodes and indptr (Cell Ranger 2)");
      std::string chosen;
      if (genome) {
        if (std::find(genomes.begin(), genomes.end(), *genome) == genomes.end())
          throw InputError("genome '" + *genome + "' not in " + p +
                           "; available: " + join_names(genomes));
        chosen = *genome;
      } else if (genomes.size() > 1) {
        throw InputError(p + " holds several genomes (" + join_names(genomes) +
                         "); choose one with --genome");
      } else {
        chosen = genomes.front();
      }
      Id group = h5::open(file, chosen);
      ds = read_v2(group);
    }
    ds.source = p;
    return ds;
  });
}

}  // namespace cellvae
