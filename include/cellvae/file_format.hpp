// File formats cellvae reads and writes, and the one table between them and their names.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace cellvae {

enum class FileFormat {
  h5ad,      ///< AnnData HDF5 (.h5ad)
  tenx_h5,   ///< 10x Genomics feature-barcode HDF5 (.h5), Cell Ranger v2 or v3
  tenx_mtx,  ///< 10x matrix folder: matrix.mtx[.gz], features.tsv[.gz] / genes.tsv, barcodes.tsv[.gz]
  csv,       ///< comma-separated dense table, cells as rows (or genes as rows with transpose)
  tsv,       ///< tab-separated dense table
};

/// "h5ad", "10x-h5", "10x-mtx", "csv", "tsv".
std::string_view to_string(FileFormat format);
/// Inverse of to_string; throws InputError listing the valid names.
FileFormat parse_file_format(std::string_view name);

/// The format of an existing input path: a directory is a 10x matrix folder; otherwise the
/// extension (.h5ad, .h5, .csv[.gz], .tsv[.gz], .txt[.gz]) decides, and an HDF5 file with a
/// `/matrix` group or without `/X` is a 10x file. Throws InputError when the path is missing or
/// the format cannot be told.
FileFormat detect_input_format(const std::filesystem::path& path);

/// The format to write a path in, from its extension (.h5ad, .csv, .tsv); a path without an
/// extension (or ending in '/') is a 10x matrix folder. Throws InputError otherwise.
FileFormat detect_output_format(const std::filesystem::path& path);

}  // namespace cellvae
