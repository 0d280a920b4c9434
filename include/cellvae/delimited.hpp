// Dense delimited text tables (CSV/TSV), optionally gzip-compressed, as spreadsheets and R's
// write.csv produce them.
#pragma once

#include <filesystem>
#include <optional>

#include "cellvae/dataset.hpp"

namespace cellvae {

struct DelimitedOptions {
  char separator = ',';    ///< ',' or '\t'
  bool transpose = false;  ///< the table has genes as rows and cells as columns
  /// Writing: gzip level 1-9, or -1 for plain text. Empty: gzip (level 4) when the path ends in
  /// .gz. write_dataset sets it from the final name, since it writes to a temporary path.
  std::optional<int> gzip_level;
};

/// Reads a dense table whose first row holds the column names (its first cell may be empty or a
/// header such as "gene") and whose first column holds the row names. Values must be numbers;
/// the error names the line and column of the first that is not.
Dataset read_delimited(const std::filesystem::path& path, const DelimitedOptions& options);

/// Writes X as a dense table with cell and gene names (genes as rows with `transpose`).
void write_delimited(const Dataset& ds, const std::filesystem::path& path,
                     const DelimitedOptions& options);

}  // namespace cellvae
