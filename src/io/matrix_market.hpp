// Matrix Market coordinate files (https://math.nist.gov/MatrixMarket/formats.html), the matrix
// part of 10x folders and of R's Matrix::writeMM / scipy.io.mmwrite output. Internal to
// cellvae_io.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "cellvae/csr_matrix.hpp"

namespace cellvae::detail {

/// The value type a Matrix Market header declares.
enum class MtxField {
  integer,  ///< whole numbers (counts)
  real,     ///< decimal numbers
  pattern,  ///< no values: every listed entry is 1
};

struct MtxReadOptions {
  /// The result's rows are the file's columns. 10x folders store genes x cells, so their
  /// reader sets this to get cells x genes without a separate transpose.
  bool transpose = false;
};

struct MtxReadResult {
  /// Canonical CSR (sorted, unique column indices, no stored zeros): file rows x file columns,
  /// or the transpose with MtxReadOptions::transpose.
  CsrMatrix matrix;
  MtxField field = MtxField::integer;
  std::int64_t file_rows = 0;          ///< first number on the size line
  std::int64_t file_cols = 0;          ///< second number on the size line
  std::int64_t entries = 0;            ///< entry lines, equal to the third number on the size line
  std::int64_t explicit_zeros = 0;     ///< entries whose value is 0 (not stored)
  std::int64_t duplicates_summed = 0;  ///< entries added to an earlier one at the same position
  std::int64_t inexact_integers = 0;   ///< integers above 2^24 that float32 rounds
};

/// Reads a `%%MatrixMarket matrix coordinate integer|real|pattern general` file, plain or gzip.
/// Strict: the header must be of that form, indices 1-based and inside the declared size, values
/// finite numbers (whole for "integer"), and the number of entry lines equal to the declared
/// count. Throws InputError "<path> line <n>: <what was expected>, got '<text>'" otherwise.
/// Duplicate positions are summed (as scipy and R do) and counted in duplicates_summed.
MtxReadResult read_matrix_market(const std::filesystem::path& path,
                                 const MtxReadOptions& options = {});

struct MtxWriteOptions {
  /// Write the transpose: entry (i, j) of the matrix becomes file row j + 1, column i + 1.
  /// Entries then come out sorted by file column, the order Cell Ranger writes.
  bool transpose = false;
  /// -1: plain text; 0..9: gzip at that level.
  int gzip_level = -1;
  /// Written after the header as "%"-prefixed comment lines (split at '\n'); may be empty.
  std::string comment;
};

/// Writes a coordinate file: field "integer" when every value is whole, otherwise "real" with
/// the shortest text that reads back as the same float32. Throws InputError for NaN or
/// infinite values (the format has no way to hold them) and for unwritable paths.
void write_matrix_market(const CsrMatrix& m, const std::filesystem::path& path,
                         const MtxWriteOptions& options = {});

/// "integer", "real", "pattern".
const char* to_string(MtxField field);

}  // namespace cellvae::detail
