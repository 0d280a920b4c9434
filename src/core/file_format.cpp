#include "cellvae/file_format.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <utility>

#include <hdf5.h>

#include "cellvae/enum_names.hpp"
#include "cellvae/error.hpp"

namespace fs = std::filesystem;

namespace cellvae {

namespace {
constexpr NameTable<FileFormat, 5> kFormatNames{{
    {FileFormat::h5ad, "h5ad"},
    {FileFormat::tenx_h5, "10x-h5"},
    {FileFormat::tenx_mtx, "10x-mtx"},
    {FileFormat::csv, "csv"},
    {FileFormat::tsv, "tsv"},
}};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

/// Extension without a trailing .gz, lower-case (".csv" for "x.CSV.gz").
std::string extension_of(const fs::path& p) {
  fs::path q = p;
  if (lower(q.extension().string()) == ".gz") q = q.stem();
  return lower(q.extension().string());
}

/// True when an HDF5 file looks like a 10x feature-barcode matrix rather than AnnData.
bool hdf5_is_10x(const fs::path& p) {
  H5E_auto2_t old_func;
  void* old_data;
  H5Eget_auto2(H5E_DEFAULT, &old_func, &old_data);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  bool is_10x = false;
  hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f >= 0) {
    const bool has_matrix = H5Lexists(f, "matrix", H5P_DEFAULT) > 0;
    const bool has_x = H5Lexists(f, "X", H5P_DEFAULT) > 0;
    is_10x = has_matrix || !has_x;
    H5Fclose(f);
  }
  H5Eset_auto2(H5E_DEFAULT, old_func, old_data);
  return is_10x;
}
}  // namespace

std::string_view to_string(FileFormat format) { return name_of(kFormatNames, format); }

FileFormat parse_file_format(std::string_view name) {
  return parse_name(kFormatNames, name, "format");
}

FileFormat detect_input_format(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError("file not found: " + path.string());
  if (fs::is_directory(path, ec)) return FileFormat::tenx_mtx;
  const std::string ext = extension_of(path);
  if (ext == ".h5ad") return FileFormat::h5ad;
  if (ext == ".csv") return FileFormat::csv;
  if (ext == ".tsv" || ext == ".txt") return FileFormat::tsv;
  if (ext == ".h5" || ext == ".hdf5")
    return hdf5_is_10x(path) ? FileFormat::tenx_h5 : FileFormat::h5ad;
  throw InputError("cannot tell the format of " + path.string() +
                   " from its extension (expected .h5ad, .h5, .csv, .tsv, .txt or a 10x matrix "
                   "folder); name it with --format");
}

FileFormat detect_output_format(const fs::path& path) {
  const std::string s = path.string();
  if (!s.empty() && s.back() == '/') return FileFormat::tenx_mtx;
  const std::string ext = extension_of(path);
  if (ext == ".h5ad") return FileFormat::h5ad;
  if (ext == ".csv") return FileFormat::csv;
  if (ext == ".tsv" || ext == ".txt") return FileFormat::tsv;
  if (ext.empty()) return FileFormat::tenx_mtx;
  throw InputError("cannot tell which format to write " + path.string() +
                   " in (use .h5ad, .csv, .tsv, or a folder name for a 10x matrix folder)");
}

}  // namespace cellvae
