// Reading and writing data sets in any supported format: the entry points the CLI uses.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "cellvae/dataset.hpp"
#include "cellvae/file_format.hpp"

namespace cellvae {

struct ReadOptions {
  std::optional<FileFormat> format;   ///< detected from the path when empty
  std::optional<std::string> layer;   ///< h5ad: read layers/<layer> instead of X
  bool use_raw = false;               ///< h5ad: read raw/X (and raw/var) instead of X
  bool transpose = false;             ///< csv/tsv: the file has genes as rows (R's orientation)
  std::optional<std::string> genome;  ///< 10x h5 v2: which genome group (the only one if empty)
};

/// Reads a data set; the result is validated, with cell and gene names made unique (a warning
/// is recorded in Dataset::warnings when that changed any). Throws InputError on bad input.
Dataset read_dataset(const std::filesystem::path& path, const ReadOptions& options = {});

struct WriteOptions {
  std::optional<FileFormat> format;  ///< detected from the path when empty
  bool transpose = false;            ///< csv/tsv: write genes as rows
  int compression = 4;               ///< h5ad / 10x: gzip level 0-9 (0 = none)
};

/// Writes a data set, replacing an existing output. The output appears complete or not at all:
/// it is written to a temporary path next to the target and renamed over it at the end. Goes
/// through DatasetWriter (one block of cells), except csv/tsv with `transpose`. Throws
/// InputError on an unwritable path.
void write_dataset(const Dataset& ds, const std::filesystem::path& path,
                   const WriteOptions& options = {});

}  // namespace cellvae
