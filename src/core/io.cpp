#include "cellvae/io.hpp"

#include "cellvae/atomic_output.hpp"
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
    case FileFormat::h5ad: ds = read_h5ad(path, {options.layer, options.use_raw}); break;
    case FileFormat::tenx_h5: ds = read_10x_h5(path, options.genome); break;
    case FileFormat::tenx_mtx: ds = read_10x_mtx(path); break;
    case FileFormat::csv: ds = read_delimited(path, {',', options.transpose}); break;
    case FileFormat::tsv: ds = read_delimited(path, {'\t', options.transpose}); break;
  }
  ds.source = path.string();
  make_dataset_names_unique(ds);
  ds.validate();
  return ds;
}

void write_dataset(const Dataset& ds, const fs::path& path, const WriteOptions& options) {
  const FileFormat format = options.format ? *options.format : detect_output_format(path);
  ds.validate();
  AtomicOutput out(path);
  // The temporary name hides the target's ".gz", so compression is decided here.
  const std::string name = path.filename().string();
  const bool gz = name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0;
  DelimitedOptions text{format == FileFormat::tsv ? '\t' : ',', options.transpose,
                        gz ? std::optional<int>(options.compression > 0 ? options.compression : 1)
                           : std::optional<int>(-1)};
  switch (format) {
    case FileFormat::h5ad: write_h5ad(ds, out.temp_path(), {options.compression}); break;
    case FileFormat::tenx_mtx: write_10x_mtx(ds, out.temp_path(), options.compression); break;
    case FileFormat::csv:
    case FileFormat::tsv: write_delimited(ds, out.temp_path(), text); break;
    case FileFormat::tenx_h5:
      throw InputError("writing 10x HDF5 files is not supported; write .h5ad or a 10x folder");
  }
  out.commit();
}

}  // namespace cellvae
