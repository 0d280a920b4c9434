// Compressed sparse row matrix: the one in-memory layout for expression data in cellvae.
// Rows are cells, columns are genes. Readers of genes x cells formats transpose explicitly.
#pragma once

#include <cstdint>
#include <vector>

namespace cellvae {

/// A cells x genes matrix in CSR form.
///
/// Invariants (checked by validate()): indptr has n_rows + 1 non-decreasing entries starting at
/// 0 and ending at nnz; indices and data have nnz entries; every index is in [0, n_cols).
/// Column indices inside a row are sorted and unique once the matrix is canonical (every reader
/// returns canonical matrices; validate() checks this too).
/// Values are float32: exact for integer counts up to 2^24, and half the memory of double for
/// the 1M-cell data sets this has to hold.
struct CsrMatrix {
  std::int64_t n_rows = 0;
  std::int64_t n_cols = 0;
  std::vector<std::int64_t> indptr{0};
  std::vector<std::int32_t> indices;
  std::vector<float> data;

  std::int64_t nnz() const { return static_cast<std::int64_t>(data.size()); }

  /// Throws InputError describing the first broken invariant (e.g. "indptr must be
  /// non-decreasing (row 17)"). `what` names the matrix in the message (a file and key).
  void validate(const char* what = "matrix") const;
};

/// Builds a CSR matrix from a dense row-major array, dropping exact zeros.
CsrMatrix csr_from_dense(const float* values, std::int64_t n_rows, std::int64_t n_cols);

/// Builds a CSR matrix from compressed-sparse-column buffers of an n_rows x n_cols matrix
/// (the transpose of the same buffers read as CSR). Used for CSC h5ad X and for genes x cells
/// formats (10x), whose CSR buffers are this matrix's CSC buffers.
CsrMatrix csr_from_csc(std::int64_t n_rows, std::int64_t n_cols,
                       const std::vector<std::int64_t>& col_ptr,
                       const std::vector<std::int32_t>& row_indices,
                       const std::vector<float>& values);

/// The transpose, as CSR (genes x cells for a cells x genes input).
CsrMatrix transpose(const CsrMatrix& m);

/// Sorts column indices within each row and sums duplicate entries, dropping explicit zeros.
void canonicalize(CsrMatrix& m);

/// The submatrix with the given rows and columns, in the order given. Indices must be in range.
CsrMatrix select(const CsrMatrix& m, const std::vector<std::int64_t>& rows,
                 const std::vector<std::int64_t>& cols);

/// The submatrix with the given rows and all columns.
CsrMatrix select_rows(const CsrMatrix& m, const std::vector<std::int64_t>& rows);

/// select() without a second copy: keeps the rows `rows` and columns `cols` of m, both strictly
/// ascending, compacting m's own buffers (their capacity is kept, not returned to the system).
/// Throws InputError for an index out of range or not ascending, before changing m.
void select_in_place(CsrMatrix& m, const std::vector<std::int64_t>& rows,
                     const std::vector<std::int64_t>& cols);

/// The rows of `top` followed by the rows of `bottom` (same number of columns, else
/// InputError).
CsrMatrix stack_rows(const CsrMatrix& top, const CsrMatrix& bottom);

/// Row-major dense copy (n_rows * n_cols floats). For small matrices and tests.
std::vector<float> to_dense(const CsrMatrix& m);

/// Sum of each row (library size for a counts matrix), in double.
std::vector<double> row_sums(const CsrMatrix& m);

/// Number of stored nonzeros per column (cells expressing each gene).
std::vector<std::int64_t> column_nonzeros(const CsrMatrix& m);

/// True when every stored value is a whole number.
bool is_integer_valued(const CsrMatrix& m);

}  // namespace cellvae
