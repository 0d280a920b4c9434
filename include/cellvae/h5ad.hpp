// AnnData .h5ad files (the on-disk format of anndata and scanpy).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cellvae/dataset.hpp"

namespace cellvae {

struct H5adReadOptions {
  std::optional<std::string> layer;  ///< read layers/<layer> instead of X
  bool use_raw = false;              ///< read raw/X with raw/var instead of X and var
  /// Threads that inflate the gzip chunks of X in parallel (0 = all hardware threads, at most
  /// 16; 1 = HDF5's own serial reading). Results are identical for any value.
  int threads = 0;
};

/// Reads an .h5ad file written by anndata 0.7 or 0.8+ (and the older compound-record obs/var).
/// X may be dense (2-D dataset), CSR or CSC (group with data/indices/indptr), with float or
/// integer values and int32/int64 indices. obs/var columns: categorical, string, numeric,
/// integer, boolean; obsm: dense 2-D arrays; uns: scalars, strings and 1-D arrays.
/// Elements of other kinds are skipped with a warning naming their HDF5 path (e.g.
/// "skipped /obsm/X_graph: sparse obsm entries are not supported").
/// Throws InputError on a missing or non-HDF5 file, an unknown layer (listing the available
/// ones), or shapes that disagree between X, obs and var.
Dataset read_h5ad(const std::filesystem::path& path, const H5adReadOptions& options = {});

/// Summary of an .h5ad file without reading X (for `cellvae info` on large files).
std::vector<std::string> h5ad_layer_names(const std::filesystem::path& path);

struct H5adWriteOptions {
  int compression = 4;  ///< gzip level for X and obsm, 0 = none
  /// Threads that compress the chunks of X in parallel (0 = all hardware threads, at most 16;
  /// 1 = HDF5's own serial writing). The file reads back identically for any value.
  int threads = 0;
};

/// Writes `ds` following the anndata on-disk specification (0.8 encodings): X as CSR
/// (float32 data, int64 indices and indptr: scipy needs one index type), obs/var dataframes (categorical columns as
/// codes + categories), obsm dense arrays, uns scalars, strings and arrays; empty layers,
/// obsp, varm, varp groups. Writes directly to `path` (write_dataset adds the temporary-file
/// rename).
void write_h5ad(const Dataset& ds, const std::filesystem::path& path,
                const H5adWriteOptions& options = {});

}  // namespace cellvae
