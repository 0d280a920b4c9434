#include "cellvae/dataset_writer.hpp"

#include <utility>

#include "cellvae/atomic_output.hpp"
#include "cellvae/delimited.hpp"
#include "cellvae/error.hpp"
#include "cellvae/io.hpp"
#include "dataset_sink.hpp"
#include "text_stream.hpp"

namespace fs = std::filesystem;

namespace cellvae {

namespace {

void refuse_existing(const fs::path& path) {
  std::error_code ec;
  if (fs::exists(path, ec))
    throw InputError("output " + path.string() + " exists; use --force to replace it");
}

void check_columns(const DataFrame& frame, std::size_t n_rows, const char* what) {
  for (const Column& c : frame.columns)
    if (c.size() != n_rows)
      throw InputError(std::string(what) + " column '" + c.name + "' has " +
                       std::to_string(c.size()) + " values for " + std::to_string(n_rows) +
                       (what[0] == 'v' ? " genes" : " cells"));
}

std::unique_ptr<detail::DatasetSink> open_sink(FileFormat format, const fs::path& temp,
                                               const fs::path& final_path, const DataFrame& var,
                                               const DatasetWriterOptions& options) {
  switch (format) {
    case FileFormat::h5ad:
      return detail::make_h5ad_sink(temp, var, {options.compression, options.threads});
    case FileFormat::tenx_mtx:
      return detail::make_10x_mtx_sink(temp, var, options.compression);
    case FileFormat::csv:
    case FileFormat::tsv:
      // The temporary name hides the target's ".gz", so compression is decided from the target.
      return detail::make_delimited_sink(temp, var, format == FileFormat::tsv ? '\t' : ',',
                                         detail::gzip_level_for(final_path, options.compression));
    case FileFormat::tenx_h5:
      break;
  }
  throw InputError("writing 10x HDF5 files is not supported; write .h5ad or a 10x folder");
}

}  // namespace

struct DatasetWriter::Impl {
  fs::path path;
  FileFormat format;
  bool force;
  std::int64_t n_genes;
  std::int64_t n_cells = 0;
  std::vector<std::string> names;
  bool spent = false;  // finished, or an exception left the output in an unknown state
  // The sink writes inside the temporary output, so it must close before `out` removes it:
  // members are destroyed in reverse order.
  std::optional<AtomicOutput> out;
  std::unique_ptr<detail::DatasetSink> sink;

  void check_usable(const char* call) const {
    if (spent)
      throw InputError(std::string("DatasetWriter::") + call + " for " + path.string() +
                       ": the writer was finished or failed earlier");
  }
};

DatasetWriter::DatasetWriter(const fs::path& path, DataFrame var,
                             const DatasetWriterOptions& options)
    : impl_(std::make_unique<Impl>()) {
  Impl& w = *impl_;
  w.path = path;
  w.format = options.format ? *options.format : detect_output_format(path);
  w.force = options.force;
  w.n_genes = static_cast<std::int64_t>(var.n_rows());
  check_columns(var, var.n_rows(), "var");
  // Checked now so that a long run does not fail only at its end; finish() checks again.
  if (!w.force) refuse_existing(path);
  w.out.emplace(path);
  w.sink = open_sink(w.format, w.out->temp_path(), path, var, options);
}

DatasetWriter::~DatasetWriter() = default;
DatasetWriter::DatasetWriter(DatasetWriter&&) noexcept = default;
DatasetWriter& DatasetWriter::operator=(DatasetWriter&&) noexcept = default;

void DatasetWriter::append(const CsrMatrix& counts, const std::vector<std::string>& cell_names) {
  Impl& w = *impl_;
  w.check_usable("append");
  if (counts.n_cols != w.n_genes)
    throw InputError("cannot append to " + w.path.string() + ": counts have " +
                     std::to_string(counts.n_cols) + " genes (columns), but the output's var has " +
                     std::to_string(w.n_genes));
  if (static_cast<std::int64_t>(cell_names.size()) != counts.n_rows)
    throw InputError("cannot append to " + w.path.string() + ": " +
                     std::to_string(cell_names.size()) + " cell names for " +
                     std::to_string(counts.n_rows) + " rows of counts");
  counts.validate("the counts appended");
  // Shape errors above leave the writer usable; a failure while writing does not.
  w.spent = true;
  w.sink->append(counts, cell_names);
  w.names.insert(w.names.end(), cell_names.begin(), cell_names.end());
  w.n_cells += counts.n_rows;
  w.spent = false;
}

void DatasetWriter::finish(const DataFrame& obs, const std::map<std::string, DenseArray>& obsm,
                           const std::map<std::string, UnsValue>& uns) {
  Impl& w = *impl_;
  w.check_usable("finish");
  const auto n = static_cast<std::size_t>(w.n_cells);
  if (!obs.index.empty() && obs.index != w.names) {
    if (obs.index.size() != n)
      throw InputError("obs for " + w.path.string() + " has " + std::to_string(obs.index.size()) +
                       " names, but " + std::to_string(n) + " cells were appended");
    std::size_t i = 0;
    while (obs.index[i] == w.names[i]) ++i;
    throw InputError("obs for " + w.path.string() + ": name " + std::to_string(i + 1) + " is '" +
                     obs.index[i] + "', but the cell appended there is '" + w.names[i] + "'");
  }
  check_columns(obs, n, "obs");
  for (const auto& [key, a] : obsm)
    if (a.rows != w.n_cells || static_cast<std::int64_t>(a.values.size()) != a.rows * a.cols)
      throw InputError("obsm['" + key + "'] for " + w.path.string() + " has " +
                       std::to_string(a.rows) + " rows for " + std::to_string(n) + " cells");
  w.spent = true;
  DataFrame frame;  // the appended names as index; the names are not needed after this
  frame.index = std::move(w.names);
  frame.columns = obs.columns;
  w.sink->finish(frame, obsm, uns);
  w.sink.reset();
  if (!w.force) refuse_existing(w.path);
  w.out->commit();
  w.out.reset();
}

std::int64_t DatasetWriter::n_cells() const { return impl_->n_cells; }
std::int64_t DatasetWriter::n_genes() const { return impl_->n_genes; }
FileFormat DatasetWriter::format() const { return impl_->format; }
std::size_t DatasetWriter::buffered_bytes() const {
  return impl_->sink ? impl_->sink->buffered_bytes() : 0;
}

void write_dataset(const Dataset& ds, const fs::path& path, const WriteOptions& options) {
  const FileFormat format = options.format ? *options.format : detect_output_format(path);
  ds.validate();
  if (options.transpose && (format == FileFormat::csv || format == FileFormat::tsv)) {
    // Genes as rows needs every cell before the first line: the one case not streamed.
    AtomicOutput out(path);
    write_delimited(ds, out.temp_path(),
                    {format == FileFormat::tsv ? '\t' : ',', true,
                     detail::gzip_level_for(path, options.compression)});
    out.commit();
    return;
  }
  // One code path for whole and streamed outputs; an existing output is replaced, as always.
  DatasetWriter writer(path, ds.var, {format, options.compression, /*force=*/true});
  writer.append(ds.X, ds.obs.index);
  writer.finish(ds.obs, ds.obsm, ds.uns);
}

}  // namespace cellvae
