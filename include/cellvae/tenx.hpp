// 10x Genomics formats: feature-barcode HDF5 files and matrix folders (genes x cells on disk,
// transposed to cells x genes on reading).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "cellvae/dataset.hpp"

namespace cellvae {

/// Reads a Cell Ranger HDF5 feature-barcode matrix: v3 (`/matrix` with `features/`) or v2 (one
/// group per genome with `genes`, `gene_names`). var gets the gene names as index and columns
/// `gene_ids` and (v3) `feature_types`, `genome`. With several v2 genomes, `genome` picks one
/// (InputError listing them when empty).
Dataset read_10x_h5(const std::filesystem::path& path,
                    const std::optional<std::string>& genome = std::nullopt);

/// Reads a 10x matrix folder: matrix.mtx[.gz] (Matrix Market coordinate, genes x cells),
/// features.tsv[.gz] (id, name, type) or genes.tsv (id, name), barcodes.tsv[.gz].
Dataset read_10x_mtx(const std::filesystem::path& dir);

/// Writes a 10x matrix folder (Cell Ranger v3 layout, gzip-compressed): matrix.mtx.gz
/// (integer when all values are whole, real otherwise), features.tsv.gz (var `gene_ids` or the
/// gene name, gene name, "Gene Expression"), barcodes.tsv.gz. Writes into `dir` directly
/// (write_dataset adds the temporary-folder rename). Always gzip: `compression` 1-9 (0 = 1).
void write_10x_mtx(const Dataset& ds, const std::filesystem::path& dir, int compression = 4);

}  // namespace cellvae
