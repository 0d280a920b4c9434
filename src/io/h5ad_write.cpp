// Writing AnnData .h5ad files with the anndata 0.8 encodings (readable by anndata >= 0.8 and
// scanpy): X as csr_matrix, obs/var as dataframe groups, obsm/uns as dicts. X is written
// as rows arrive (H5adSink), for whole data sets and for DatasetWriter alike.
#include <limits>
#include <map>
#include <memory>
#include <variant>

#include "cellvae/error.hpp"
#include "cellvae/h5ad.hpp"
#include "dataset_sink.hpp"
#include "hdf5_append.hpp"
#include "hdf5_handles.hpp"

namespace cellvae {

namespace {

using h5::Id;

constexpr const char* kDictVersion = "0.1.0";     // dict, anndata, csr_matrix
constexpr const char* kElementVersion = "0.2.0";  // array, string-array, categorical, ...

/// HDF5 treats '/' as a path separator, and anndata reserves "_index" for the index dataset.
void check_key(const std::string& key, const std::string& where) {
  if (key.empty() || key.find('/') != std::string::npos || key == ".")
    throw InputError(where + " key '" + key +
                     "' cannot be stored in an .h5ad file (empty, '.', "
                     "or containing '/')");
}

void write_codes(hid_t group, const Column& c, int compression) {
  // The narrowest signed type that holds every code, as pandas/anndata choose it.
  const std::size_t n_cat = c.categories.size();
  const std::vector<hsize_t> shape{c.codes.size()};
  Id dset;
  if (n_cat <= static_cast<std::size_t>(std::numeric_limits<std::int8_t>::max())) {
    std::vector<std::int8_t> v(c.codes.begin(), c.codes.end());
    dset = h5::write_numbers(group, "codes", v.data(), shape, compression);
  } else if (n_cat <= static_cast<std::size_t>(std::numeric_limits<std::int16_t>::max())) {
    std::vector<std::int16_t> v(c.codes.begin(), c.codes.end());
    dset = h5::write_numbers(group, "codes", v.data(), shape, compression);
  } else {
    dset = h5::write_numbers(group, "codes", c.codes.data(), shape, compression);
  }
  h5::set_encoding(dset, "array", kElementVersion);
}

void write_string_array(hid_t loc, const std::string& name, const std::vector<std::string>& v,
                        int compression) {
  Id dset = h5::write_strings(loc, name, v, compression);
  h5::set_encoding(dset, "string-array", kElementVersion);
}

void write_column(hid_t frame, const Column& c, int compression) {
  const std::vector<hsize_t> shape{c.size()};
  Id dset;
  switch (c.kind) {
    case ColumnKind::categorical: {
      Id group = h5::create_group(frame, c.name);
      h5::set_encoding(group, "categorical", kElementVersion);
      h5::set_bool_attr(group, "ordered", c.ordered);
      write_codes(group, c, compression);
      write_string_array(group, "categories", c.categories, compression);
      return;
    }
    case ColumnKind::string:
      write_string_array(frame, c.name, c.strings, compression);
      return;
    case ColumnKind::number:
      dset = h5::write_numbers(frame, c.name, c.numbers.data(), shape, compression);
      break;
    case ColumnKind::integer:
      dset = h5::write_numbers(frame, c.name, c.integers.data(), shape, compression);
      break;
    case ColumnKind::boolean:
      dset = h5::write_bools(frame, c.name, c.booleans, compression);
      break;
  }
  h5::set_encoding(dset, "array", kElementVersion);
}

void write_dataframe(hid_t file, const char* name, const DataFrame& df, int compression) {
  Id group = h5::create_group(file, name);
  const std::vector<std::string> names = df.column_names();
  for (const auto& n : names) {
    check_key(n, std::string(name) + " column");
    if (n == "_index")
      throw InputError(std::string(name) + " column name '_index' is reserved in .h5ad files");
  }
  h5::set_string_attr(group, "_index", "_index");
  h5::set_string_array_attr(group, "column-order", names);
  h5::set_encoding(group, "dataframe", kElementVersion);
  write_string_array(group, "_index", df.index, compression);
  for (const Column& c : df.columns) write_column(group, c, compression);
}

Id dict_group(hid_t file, const char* name) {
  Id group = h5::create_group(file, name);
  h5::set_encoding(group, "dict", kDictVersion);
  return group;
}

void write_uns_value(hid_t uns, const std::string& key, const UnsValue& value, int compression) {
  struct Visitor {
    hid_t loc;
    const std::string& key;
    int compression;
    void operator()(const std::string& s) const {
      Id d = h5::write_scalar_string(loc, key, s);
      h5::set_encoding(d, "string", kElementVersion);
    }
    void operator()(double v) const {
      Id d = h5::write_scalar(loc, key, v);
      h5::set_encoding(d, "numeric-scalar", kElementVersion);
    }
    void operator()(std::int64_t v) const {
      Id d = h5::write_scalar(loc, key, v);
      h5::set_encoding(d, "numeric-scalar", kElementVersion);
    }
    void operator()(bool v) const {
      Id d = h5::write_scalar_bool(loc, key, v);
      h5::set_encoding(d, "numeric-scalar", kElementVersion);
    }
    void operator()(const std::vector<std::string>& v) const {
      write_string_array(loc, key, v, compression);
    }
    void operator()(const std::vector<double>& v) const {
      Id d = h5::write_numbers(loc, key, v.data(), {v.size()}, compression);
      h5::set_encoding(d, "array", kElementVersion);
    }
    void operator()(const std::vector<std::int64_t>& v) const {
      Id d = h5::write_numbers(loc, key, v.data(), {v.size()}, compression);
      h5::set_encoding(d, "array", kElementVersion);
    }
  };
  std::visit(Visitor{uns, key, compression}, value);
}

void check_h5ad_keys(const std::map<std::string, DenseArray>& obsm,
                     const std::map<std::string, UnsValue>& uns) {
  for (const auto& [key, value] : obsm) check_key(key, "obsm");
  for (const auto& [key, value] : uns) check_key(key, "uns");
}

/// X as csr_matrix whose rows arrive in pieces: data and indices grow with each piece, indptr
/// with each row; the shape attribute is written at finish, when the row count is known.
class H5adSink final : public detail::DatasetSink {
 public:
  H5adSink(const std::filesystem::path& path, const DataFrame& var, const H5adWriteOptions& options)
      : path_(path), compression_(options.compression), n_genes_(var.n_rows()) {
    h5::guarded(path_, [&] {
      auto state = std::make_unique<State>(path_, options);
      h5::set_encoding(state->file, "anndata", kDictVersion);
      h5::set_encoding(state->x, "csr_matrix", kDictVersion);
      const std::int64_t zero = 0;
      state->indptr.append(&zero, 1);
      write_dataframe(state->file, "var", var, compression_);
      state_ = std::move(state);
    });
  }

  ~H5adSink() override {
    if (!state_) return;
    auto lock = h5::lock_library();  // closing the HDF5 objects calls the library too
    state_.reset();
  }

  void append(const CsrMatrix& rows, const std::vector<std::string>&) override {
    h5::guarded(path_, [&] {
      State& s = *state_;
      const auto offset = static_cast<std::int64_t>(s.data.size());
      s.data.append(rows.data.data(), rows.data.size());
      // int64 like indptr: anndata hands both arrays to scipy unconverted, and scipy's
      // indexing kernels reject a csr_matrix whose indices and indptr differ in type.
      const std::vector<std::int64_t> indices(rows.indices.begin(), rows.indices.end());
      s.indices.append(indices.data(), indices.size());
      // indptr after the leading 0, shifted to where these rows start.
      std::vector<std::int64_t> ends(rows.indptr.begin() + 1, rows.indptr.end());
      for (auto& e : ends) e += offset;
      s.indptr.append(ends.data(), ends.size());
      s.n_rows += rows.n_rows;
    });
  }

  void finish(const DataFrame& obs, const std::map<std::string, DenseArray>& obsm,
              const std::map<std::string, UnsValue>& uns) override {
    check_h5ad_keys(obsm, uns);
    h5::guarded(path_, [&] {
      State& s = *state_;
      s.data.finish();
      s.indices.finish();
      s.indptr.finish();
      h5::set_int64_array_attr(s.x, "shape", {s.n_rows, static_cast<std::int64_t>(n_genes_)});
      write_dataframe(s.file, "obs", obs, compression_);
      {
        Id group = dict_group(s.file, "obsm");
        for (const auto& [key, a] : obsm) {
          Id d = h5::write_numbers(group, key, a.values.data(),
                                   {static_cast<hsize_t>(a.rows), static_cast<hsize_t>(a.cols)},
                                   compression_);
          h5::set_encoding(d, "array", kElementVersion);
        }
      }
      {
        Id group = dict_group(s.file, "uns");
        for (const auto& [key, value] : uns) write_uns_value(group, key, value, compression_);
      }
      // Only X is written; the other anndata elements are written empty.
      for (const char* name : {"layers", "obsp", "varm", "varp"}) dict_group(s.file, name);
      Id file = std::move(s.file);
      state_.reset();  // close X before the file, so that H5Fclose really closes it
      // Close explicitly: a failure here (disk full) must not go unnoticed in a destructor.
      if (H5Fclose(file.release()) < 0) throw h5::Failure("cannot finish writing the file");
    });
  }

  std::size_t buffered_bytes() const override {
    if (!state_) return 0;
    return state_->data.buffered_bytes() + state_->indices.buffered_bytes() +
           state_->indptr.buffered_bytes();
  }

 private:
  struct State {
    // Members in creation order; destroyed (closed) in reverse.
    Id file;
    Id x;
    h5::AppendableArray<float> data;
    h5::AppendableArray<std::int64_t> indices;
    h5::AppendableArray<std::int64_t> indptr;
    std::int64_t n_rows = 0;
    State(const std::filesystem::path& path, const H5adWriteOptions& o)
        : file(h5::create_file(path)),
          x(h5::create_group(file, "X")),
          data(x, "data", o.compression, o.threads),
          indices(x, "indices", o.compression, o.threads),
          indptr(x, "indptr", o.compression, 1) {}
  };

  std::filesystem::path path_;
  int compression_;
  std::size_t n_genes_;
  std::unique_ptr<State> state_;
};

}  // namespace

namespace detail {
std::unique_ptr<DatasetSink> make_h5ad_sink(const std::filesystem::path& path, const DataFrame& var,
                                            const H5adWriteOptions& options) {
  return std::make_unique<H5adSink>(path, var, options);
}
}  // namespace detail

void write_h5ad(const Dataset& ds, const std::filesystem::path& path,
                const H5adWriteOptions& options) {
  // Refuse inconsistent data before creating anything: anndata could not read it back.
  ds.validate();
  check_h5ad_keys(ds.obsm, ds.uns);
  H5adSink sink(path, ds.var, options);
  sink.append(ds.X, ds.obs.index);
  sink.finish(ds.obs, ds.obsm, ds.uns);
}

}  // namespace cellvae
