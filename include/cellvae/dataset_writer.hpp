// Writing a data set cell by cell, in bounded memory: for outputs too large to hold whole, such
// as the cells `cellvae generate` draws (1,000,000 cells x 2,000 genes is ~8 GB as float32).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cellvae/dataset.hpp"
#include "cellvae/file_format.hpp"

namespace cellvae {

struct DatasetWriterOptions {
  /// h5ad, 10x-mtx, csv or tsv; detected from the path when empty (see detect_output_format:
  /// .h5ad, .csv[.gz], .tsv[.gz], a path without extension = 10x matrix folder).
  std::optional<FileFormat> format;
  /// gzip level 0-9: X and obsm of an .h5ad (0 = none), the files of a 10x folder (always
  /// gzip; 0 = 1), a .csv.gz / .tsv.gz (0 = 1). A plain .csv/.tsv ignores it.
  int compression = 4;
  /// Replace an existing file or folder at the path. Without it, the constructor and finish()
  /// throw InputError when the path exists ("use --force", as `cellvae fit` says).
  bool force = false;
  /// .h5ad: threads that compress the chunks of X (0 = all hardware threads, at most 16). The
  /// file reads back identically for any value.
  int threads = 0;
};

/// Writes cells as they come: append() any number of row blocks, then finish() once with the
/// per-cell annotations. Only the cell names (and whatever obs the caller keeps) grow with the
/// number of cells; the matrix goes to disk as it arrives (see buffered_bytes()).
///
/// The output is written to a temporary path next to `path` (as write_dataset does) and renamed
/// into place by finish(): before that nothing exists at `path`, and a writer destroyed without
/// finish() (an exception unwinding) removes the temporary output and leaves an existing file at
/// `path` untouched. After an exception from append() or finish() the writer is spent: further
/// calls throw InputError; destroy it.
///
/// Per format:
///  - .h5ad: X is a csr_matrix (anndata 0.8 encoding) whose data (float32), indices (int32) and
///    indptr (int64) are extendible, chunked (1 MiB), gzip-compressed HDF5 datasets; var is
///    written at construction, obs, obsm and uns by finish(). Reads back like write_dataset's
///    output (with anndata as with read_dataset).
///  - 10x matrix folder: features.tsv.gz (var `gene_ids` or the name, name, `feature_types` or
///    "Gene Expression"), barcodes.tsv.gz, matrix.mtx.gz (genes x cells, field integer when
///    every value is whole, real otherwise). The header's entry count is known only at the
///    end: entries are streamed to a temporary part and finish() appends it, still compressed,
///    after a header gzip member (one valid multi-member gzip file). obs columns, obsm and uns
///    cannot be stored in the folder and are dropped, as write_dataset drops them.
///  - .csv / .tsv (optionally .gz): cells as rows, one line per cell as it arrives, gene names in
///    the header. The table holds X only: obs columns, obsm and uns are dropped, as
///    write_dataset drops them. (Genes as rows needs every cell first: use write_dataset with
///    WriteOptions::transpose.)
class DatasetWriter {
 public:
  /// Starts writing to `path`. `var` is the gene table: its index names the genes (every
  /// appended block must have that many columns), its columns are written as write_dataset
  /// writes var. Throws InputError for an unknown or unwritable format (10x .h5), a missing
  /// parent folder, an existing `path` without `force`, or var columns of the wrong length.
  DatasetWriter(const std::filesystem::path& path, DataFrame var,
                const DatasetWriterOptions& options = {});
  ~DatasetWriter();
  DatasetWriter(DatasetWriter&&) noexcept;
  DatasetWriter& operator=(DatasetWriter&&) noexcept;
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  /// Appends the rows of `counts` (cells x genes, canonical CSR as every reader returns) as
  /// cells named `cell_names`. A block may be empty (0 rows, still n_genes columns). Throws
  /// InputError when the gene count differs from var's ("counts have 150 genes (columns), but
  /// the output's var has 200"), when there is not one name per row, for invalid CSR, and
  /// (10x, CSV) for values or names the format cannot hold (NaN in a Matrix Market file, a tab
  /// in a barcode).
  void append(const CsrMatrix& counts, const std::vector<std::string>& cell_names);

  /// Writes the per-cell annotations and renames the output into place. `obs` holds one entry
  /// per appended cell in each column; its index is either empty (the appended names are used)
  /// or equal to the appended names (with an empty index, add columns with
  /// `obs.columns.push_back`: DataFrame::set checks their length against the index). obsm
  /// arrays have one row per cell. Throws InputError on a
  /// size mismatch, a key an .h5ad cannot hold ('/' in a name), or, without `force`, when
  /// `path` has appeared meanwhile (the old file is left as it was). Call once.
  void finish(const DataFrame& obs = {}, const std::map<std::string, DenseArray>& obsm = {},
              const std::map<std::string, UnsValue>& uns = {});

  /// Cells appended so far.
  std::int64_t n_cells() const;
  /// Genes per cell (the rows of var).
  std::int64_t n_genes() const;
  /// The format being written.
  FileFormat format() const;
  /// Bytes the writer holds for the count matrix between calls: write buffers and the partial
  /// HDF5 chunks, each at most about 1 MiB, so a few MiB whatever the number of cells. Cell
  /// names (kept for obs) are not included. For tests and memory budgets; 0 after finish().
  std::size_t buffered_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cellvae
