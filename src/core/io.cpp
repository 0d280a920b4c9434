#include "cellvae/io.hpp"

#include "cellvae/delimited.hpp"
#include "cellvae/error.hpp"
#include "cellvae/h5ad.hpp"
#include "cellvae/tenx.hpp"

namespace fs = std::filesystem;

namespace cellvae {

Dataset read_dataset(const fs::path& path, const ReadOptions& options) {
  const FileFormat format = options.format ? *options.format : detect_input_format(path);
  if (!fs::exists(path)) throw InputError("file not found: " + path.string());
  if ((options.layer || options.use_raw) && format != FileFormat::h5ad)
    throw InputError("--layer and --raw apply to .h5ad files only, not to " + path.string());
  Dataset ds;
  switch (format) {
    case FileFormat::h5ad:
      ds = read_h5ad(path, {options.layer, options.use_raw});
      break;
    case FileFormat::tenx_h5:
      ds = read_10x_h5(path, options.genome);
      break;
    case FileFormat::tenx_mtx:
      ds = read_10x_mtx(path);
      break;
    case FileFormat::csv:
      ds = read_delimited(path, {',', options.transpose});
      break;
    case FileFormat::tsv:
      ds = read_delimited(path, {'\t', options.transpose});
      break;
  }
  ds.source = path.string();
  make_dataset_names_unique(ds);
  ds.validate();
  return ds;
}

// write_dataset is in src/io/dataset_writer.cpp, over DatasetWriter.

}  // namespace cellvae
