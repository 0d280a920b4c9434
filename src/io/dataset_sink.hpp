// The per-format halves of writing a data set cell by cell: DatasetWriter (temporary output,
// checks, names) drives one of these, and write_h5ad / write_10x_mtx drive them with the whole
// matrix, so each element of each format has one implementation. Internal to cellvae_io.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cellvae/dataset.hpp"
#include "cellvae/h5ad.hpp"

namespace cellvae::detail {

/// Writes one data set into a path (no temporary, no rename). The caller has checked what it
/// passes: rows with as many columns as var has genes, valid CSR, one name per row; at finish
/// obs has one row per appended cell (its index = the appended names) and obsm as many rows.
/// An unfinished sink that is destroyed closes its files (what it wrote stays; DatasetWriter
/// removes the temporary output around it).
class DatasetSink {
 public:
  virtual ~DatasetSink() = default;
  virtual void append(const CsrMatrix& rows, const std::vector<std::string>& names) = 0;
  virtual void finish(const DataFrame& obs, const std::map<std::string, DenseArray>& obsm,
                      const std::map<std::string, UnsValue>& uns) = 0;
  /// Bytes the sink holds for the matrix between append() calls (write buffers, partial
  /// chunks); independent of the number of cells appended.
  virtual std::size_t buffered_bytes() const = 0;
};

/// .h5ad: X streamed into extendible CSR datasets; obs, obsm, uns at finish.
std::unique_ptr<DatasetSink> make_h5ad_sink(const std::filesystem::path& path, const DataFrame& var,
                                            const H5adWriteOptions& options);
/// 10x matrix folder `dir` (created): features.tsv.gz now, matrix.mtx.gz and barcodes.tsv.gz
/// as cells arrive. obs columns, obsm and uns have no place in the folder and are ignored.
std::unique_ptr<DatasetSink> make_10x_mtx_sink(const std::filesystem::path& dir,
                                               const DataFrame& var, int compression);
/// CSV/TSV with cells as rows: the header (gene names) now, one line per cell as they arrive.
/// gzip_level -1 = plain text. obs columns, obsm and uns are ignored (the table holds X only).
std::unique_ptr<DatasetSink> make_delimited_sink(const std::filesystem::path& path,
                                                 const DataFrame& var, char separator,
                                                 int gzip_level);

}  // namespace cellvae::detail
