// 10x matrix folders: matrix.mtx[.gz] (genes x cells), features.tsv[.gz] or genes.tsv[.gz],
// barcodes.tsv[.gz]. Also accepts the GEO habit of a shared file-name prefix
// ("GSM123_matrix.mtx.gz", "GSM123_barcodes.tsv.gz", ...).
#include <algorithm>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <map>
#include <memory>
#include <optional>

#include "cellvae/error.hpp"
#include "cellvae/tenx.hpp"
#include "dataset_sink.hpp"
#include "matrix_market.hpp"
#include "text_stream.hpp"

#ifndef CELLVAE_VERSION
#define CELLVAE_VERSION "unknown"
#endif

namespace cellvae {
namespace {

namespace fs = std::filesystem;
using detail::LineReader;

// Matches WriteOptions::compression's default: most of level 9's size at a fraction of its time.

std::vector<std::string> folder_listing(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (entry.is_directory(ec)) name += "/";
    names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string contents_text(const std::vector<std::string>& listing) {
  return listing.empty() ? "the folder is empty" : "it contains: " + join_names(listing);
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

struct FolderFiles {
  fs::path matrix;
  fs::path features;
  fs::path barcodes;
};

// The first of prefix + name that exists as a file, or an empty path.
fs::path first_existing(const fs::path& dir, const std::string& prefix,
                        const std::vector<std::string>& names) {
  std::error_code ec;
  for (const auto& name : names) {
    fs::path p = dir / (prefix + name);
    if (fs::is_regular_file(p, ec)) return p;
  }
  return {};
}

FolderFiles locate_files(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    throw InputError("10x matrix folder " + dir.string() + " does not exist");
  }
  if (!fs::is_directory(dir, ec)) {
    throw InputError(dir.string() +
                     " is not a folder; a 10x matrix folder holds matrix.mtx[.gz], "
                     "features.tsv[.gz] (or genes.tsv) and barcodes.tsv[.gz]");
  }
  const std::vector<std::string> listing = folder_listing(dir);
  const std::vector<std::string> matrix_names = {"matrix.mtx.gz", "matrix.mtx"};

  std::string prefix;
  FolderFiles files;
  files.matrix = first_existing(dir, prefix, matrix_names);
  if (files.matrix.empty()) {
    std::vector<std::string> prefixes;
    for (const auto& name : listing) {
      for (const auto& m : matrix_names) {
        if (ends_with(name, m)) prefixes.push_back(name.substr(0, name.size() - m.size()));
      }
    }
    std::sort(prefixes.begin(), prefixes.end());
    prefixes.erase(std::unique(prefixes.begin(), prefixes.end()), prefixes.end());
    if (prefixes.size() > 1) {
      throw InputError("10x matrix folder " + dir.string() +
                       " holds several matrix files with different prefixes (" +
                       join_names(prefixes) + "); pass a folder with one data set");
    }
    if (prefixes.empty()) {
      throw InputError("10x matrix folder " + dir.string() +
                       " has no matrix.mtx.gz or matrix.mtx; " + contents_text(listing));
    }
    prefix = prefixes.front();
    files.matrix = first_existing(dir, prefix, matrix_names);
  }
  files.features =
      first_existing(dir, prefix, {"features.tsv.gz", "features.tsv", "genes.tsv.gz", "genes.tsv"});
  if (files.features.empty()) {
    throw InputError("10x matrix folder " + dir.string() + " has no " + prefix +
                     "features.tsv.gz, " + prefix + "features.tsv or " + prefix + "genes.tsv; " +
                     contents_text(listing));
  }
  files.barcodes = first_existing(dir, prefix, {"barcodes.tsv.gz", "barcodes.tsv"});
  if (files.barcodes.empty()) {
    throw InputError("10x matrix folder " + dir.string() + " has no " + prefix +
                     "barcodes.tsv.gz or " + prefix + "barcodes.tsv; " + contents_text(listing));
  }
  return files;
}

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  for (;;) {
    const std::size_t tab = line.find('\t', start);
    if (tab == std::string_view::npos) {
      fields.push_back(line.substr(start));
      return fields;
    }
    fields.push_back(line.substr(start, tab - start));
    start = tab + 1;
  }
}

// Calls `take` with the tab-separated fields of each line. Blank lines are allowed only at the
// end of the file (editors add them); one inside the list would shift every name after it.
template <typename Take>
void for_each_record(LineReader& in, Take&& take) {
  std::string_view line;
  std::int64_t first_blank = 0;
  while (in.next(line)) {
    if (line.empty()) {
      if (first_blank == 0) first_blank = in.line_number();
      continue;
    }
    if (first_blank != 0) {
      throw InputError(in.path().string() + " line " + std::to_string(first_blank) +
                       ": empty line inside the list (every line must name one entry)");
    }
    take(line, split_tabs(line));
  }
}

struct FeatureTable {
  std::vector<std::string> ids;
  std::vector<std::string> names;
  std::vector<std::string> types;
  std::size_t n_fields = 0;  // 1 (names only), 2 (Cell Ranger v2) or 3+ (v3)
};

FeatureTable read_features(const fs::path& path) {
  LineReader in(path);
  FeatureTable table;
  for_each_record(in, [&](std::string_view line, const std::vector<std::string_view>& fields) {
    if (table.n_fields == 0) table.n_fields = fields.size();
    if (fields.size() != table.n_fields) {
      in.fail("expected " + std::to_string(table.n_fields) +
              " tab-separated fields like the first line, got " + std::to_string(fields.size()) +
              ": '" + detail::excerpt(line) + "'");
    }
    if (table.n_fields == 1) {
      table.names.emplace_back(fields[0]);
      return;
    }
    table.ids.emplace_back(fields[0]);
    table.names.emplace_back(fields[1]);
    if (table.n_fields >= 3) table.types.emplace_back(fields[2]);
  });
  return table;
}

std::vector<std::string> read_barcodes(const fs::path& path) {
  LineReader in(path);
  std::vector<std::string> barcodes;
  // Only the first field: some tools append columns, and a barcode never holds a tab.
  for_each_record(in, [&](std::string_view, const std::vector<std::string_view>& fields) {
    barcodes.emplace_back(fields[0]);
  });
  return barcodes;
}

// `first`: the number of names written before these (for the position in the message).
void check_writable_names(const std::vector<std::string>& names, const char* what,
                          const fs::path& file, std::size_t first = 0) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i].find_first_of("\t\n\r") != std::string::npos) {
      throw InputError("cannot write " + file.string() + ": " + what + " " +
                       std::to_string(first + i + 1) + " ('" + detail::excerpt(names[i]) +
                       "') contains a tab or line break, which a .tsv file cannot hold");
    }
  }
}

// var column `name` as text, or `fallback` for each gene when var has no such column.
std::vector<std::string> var_text(const DataFrame& var, const char* name,
                                  const std::vector<std::string>& fallback) {
  const Column* column = var.find(name);
  if (!column) return fallback;
  std::vector<std::string> out(var.n_rows());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = column->text(i);
  return out;
}

// The folder filled as cells arrive: features.tsv.gz at once, then matrix entries and barcodes
// per piece. The files are always gzipped (Cell Ranger's layout); level 0 means the fastest.
class TenxMtxSink final : public detail::DatasetSink {
 public:
  TenxMtxSink(const fs::path& dir, const DataFrame& var, int compression)
      : level_(compression < 1 ? 1 : (compression > 9 ? 9 : compression)),
        barcodes_path_(dir / "barcodes.tsv.gz") {
    const fs::path features_path = dir / "features.tsv.gz";
    const std::vector<std::string> ids = var_text(var, "gene_ids", var.index);
    const std::vector<std::string> types =
        var_text(var, "feature_types", std::vector<std::string>(var.n_rows(), "Gene Expression"));
    check_writable_names(var.index, "gene name", features_path);
    check_writable_names(ids, "gene id", features_path);
    check_writable_names(types, "feature type", features_path);

    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw InputError("cannot create folder " + dir.string() + ": " + ec.message());
    {
      detail::TextWriter out(features_path, level_);
      for (std::size_t i = 0; i < var.n_rows(); ++i) {
        std::string& buf = out.buffer();
        buf += ids[i];
        buf += '\t';
        buf += var.index[i];
        buf += '\t';
        buf += types[i];
        buf += '\n';
        out.maybe_flush();
      }
      out.close();
    }
    detail::MtxWriteOptions options;
    options.transpose = true;  // genes x cells on disk
    options.gzip_level = level_;
    options.comment =
        std::string("written by cellvae ") + CELLVAE_VERSION + ": genes x cells (10x orientation)";
    matrix_.emplace(dir / "matrix.mtx.gz", options, static_cast<std::int64_t>(var.n_rows()));
    barcodes_.emplace(barcodes_path_, level_);
  }

  void append(const CsrMatrix& rows, const std::vector<std::string>& names) override {
    check_writable_names(names, "cell name", barcodes_path_, n_cells_);
    matrix_->append(rows);
    for (const auto& barcode : names) {
      barcodes_->buffer() += barcode;
      barcodes_->buffer() += '\n';
      barcodes_->maybe_flush();
    }
    n_cells_ += names.size();
  }

  void finish(const DataFrame&, const std::map<std::string, DenseArray>&,
              const std::map<std::string, UnsValue>&) override {
    matrix_->finish();
    barcodes_->close();
  }

  std::size_t buffered_bytes() const override {
    return matrix_->buffered_bytes() + barcodes_->buffered_bytes();
  }

 private:
  int level_;
  fs::path barcodes_path_;
  std::size_t n_cells_ = 0;
  std::optional<detail::MtxStreamWriter> matrix_;
  std::optional<detail::TextWriter> barcodes_;
};

}  // namespace

Dataset read_10x_mtx(const std::filesystem::path& dir) {
  const FolderFiles files = locate_files(dir);
  FeatureTable features = read_features(files.features);
  std::vector<std::string> barcodes = read_barcodes(files.barcodes);

  detail::MtxReadOptions options;
  options.transpose = true;  // genes x cells on disk, cells x genes in memory
  detail::MtxReadResult mtx = detail::read_matrix_market(files.matrix, options);
  if (mtx.file_rows != static_cast<std::int64_t>(features.names.size())) {
    throw InputError(files.matrix.string() + " has " + std::to_string(mtx.file_rows) +
                     " rows (genes) but " + files.features.string() + " lists " +
                     std::to_string(features.names.size()) + " genes");
  }
  if (mtx.file_cols != static_cast<std::int64_t>(barcodes.size())) {
    throw InputError(files.matrix.string() + " has " + std::to_string(mtx.file_cols) +
                     " columns (cells) but " + files.barcodes.string() + " lists " +
                     std::to_string(barcodes.size()) + " barcodes");
  }

  Dataset ds;
  ds.source = dir.string();
  ds.X = std::move(mtx.matrix);
  ds.obs.index = std::move(barcodes);
  ds.var.index = std::move(features.names);
  if (features.n_fields >= 2) ds.var.set(Column::make_string("gene_ids", std::move(features.ids)));
  if (features.n_fields >= 3) {
    ds.var.set(Column::categorical_from_labels("feature_types", features.types));
  }
  if (mtx.duplicates_summed > 0) {
    ds.warnings.push_back(files.matrix.string() + ": " + std::to_string(mtx.duplicates_summed) +
                          " entries repeat an earlier (gene, cell) position and were added to it");
  }
  if (mtx.inexact_integers > 0) {
    ds.warnings.push_back(files.matrix.string() + ": " + std::to_string(mtx.inexact_integers) +
                          " counts above 16,777,216 (2^24) were rounded to the nearest float32");
  }
  return ds;
}

namespace detail {
std::unique_ptr<DatasetSink> make_10x_mtx_sink(const std::filesystem::path& dir,
                                               const DataFrame& var, int compression) {
  return std::make_unique<TenxMtxSink>(dir, var, compression);
}
}  // namespace detail

void write_10x_mtx(const Dataset& ds, const std::filesystem::path& dir, int compression) {
  ds.validate();
  // Names that a .tsv cannot hold are refused before anything is created.
  check_writable_names(ds.obs.index, "cell name", dir / "barcodes.tsv.gz");
  TenxMtxSink sink(dir, ds.var, compression);
  sink.append(ds.X, ds.obs.index);
  sink.finish(ds.obs, ds.obsm, ds.uns);
}

}  // namespace cellvae
