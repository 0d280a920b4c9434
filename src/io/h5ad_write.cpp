// Writing AnnData .h5ad files with the anndata 0.8 encodings (readable by anndata >= 0.8 and
// scanpy): X as csr_matrix, obs/var as dataframe groups, obsm/uns as dicts.
#include <limits>
#include <variant>

#include "cellvae/error.hpp"
#include "cellvae/h5ad.hpp"
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

void write_matrix(hid_t file, const CsrMatrix& m, int compression, int threads) {
  Id group = h5::create_group(file, "X");
  h5::set_encoding(group, "csr_matrix", kDictVersion);
  h5::set_int64_array_attr(group, "shape", {m.n_rows, m.n_cols});
  const hsize_t nnz = m.data.size();
  h5::write_numbers(group, "data", m.data.data(), {nnz}, compression, threads);
  h5::write_numbers(group, "indices", m.indices.data(), {nnz}, compression, threads);
  h5::write_numbers(group, "indptr", m.indptr.data(), {m.indptr.size()}, compression);
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

}  // namespace

void write_h5ad(const Dataset& ds, const std::filesystem::path& path,
                const H5adWriteOptions& options) {
  // Refuse inconsistent data before creating anything: anndata could not read it back.
  ds.validate();
  for (const auto& [key, value] : ds.obsm) check_key(key, "obsm");
  for (const auto& [key, value] : ds.uns) check_key(key, "uns");
  const int compression = options.compression;
  h5::guarded(path, [&] {
    Id file = h5::create_file(path);
    h5::set_encoding(file, "anndata", kDictVersion);
    write_matrix(file, ds.X, compression, options.threads);
    write_dataframe(file, "obs", ds.obs, compression);
    write_dataframe(file, "var", ds.var, compression);
    {
      Id obsm = dict_group(file, "obsm");
      for (const auto& [key, a] : ds.obsm) {
        Id d = h5::write_numbers(obsm, key, a.values.data(),
                                 {static_cast<hsize_t>(a.rows), static_cast<hsize_t>(a.cols)},
                                 compression);
        h5::set_encoding(d, "array", kElementVersion);
      }
    }
    {
      Id uns = dict_group(file, "uns");
      for (const auto& [key, value] : ds.uns) write_uns_value(uns, key, value, compression);
    }
    // Only X is held in memory; the other anndata elements are written empty.
    for (const char* name : {"layers", "obsp", "varm", "varp"}) dict_group(file, name);
    // Close explicitly: a failure here (disk full) must not go unnoticed in a destructor.
    if (H5Fclose(file.release()) < 0) throw h5::Failure("cannot finish writing the file");
  });
}

}  // namespace cellvae
