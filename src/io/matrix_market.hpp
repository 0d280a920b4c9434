// Matrix Market coordinate files (https://math.nist.gov/MatrixMarket/formats.html), the matrix
// part of 10x folders and of R's Matrix::writeMM / scipy.io.mmwrite output. Internal to
// cellvae_io.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "cellvae/csr_matrix.hpp"
#include "text_stream.hpp"

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

/// write_matrix_market for a matrix whose rows arrive in pieces. The header names the field
/// and the entry count, known only at the end, so entries go to "<path>.part" as they come
/// (compressed as the final file) and finish() writes the header to `path` and appends the
/// part's bytes (for gzip: a second gzip member, see append_file). Memory stays at one write
/// buffer whatever the size. Unfinished (an exception), it removes the part and, if finish()
/// had begun it, `path`.
class MtxStreamWriter {
 public:
  /// n_cols: the columns of every piece (file rows with `transpose`).
  MtxStreamWriter(std::filesystem::path path, MtxWriteOptions options, std::int64_t n_cols);
  ~MtxStreamWriter();
  MtxStreamWriter(const MtxStreamWriter&) = delete;
  MtxStreamWriter& operator=(const MtxStreamWriter&) = delete;

  /// Appends the rows of `piece` (n_cols columns, valid CSR). Throws InputError for NaN or
  /// infinite values, naming their row in the whole matrix.
  void append(const CsrMatrix& piece);
  void finish();
  std::size_t buffered_bytes() const { return body_.buffered_bytes(); }

 private:
  std::filesystem::path path_;
  std::filesystem::path part_;
  MtxWriteOptions options_;
  std::int64_t n_cols_;
  std::int64_t n_rows_ = 0;
  std::int64_t nnz_ = 0;
  bool whole_ = true;
  bool started_ = false;  // finish() has begun writing path_
  bool finished_ = false;
  TextWriter body_;
};

/// "integer", "real", "pattern".
const char* to_string(MtxField field);

}  // namespace cellvae::detail
