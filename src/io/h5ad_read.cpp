// Reading AnnData .h5ad files: the anndata on-disk specification (0.8+ encodings), the 0.7
// layout (h5sparse attributes, categories behind object references) and the record-array
// obs/var of anndata < 0.7.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "cellvae/error.hpp"
#include "cellvae/h5ad.hpp"
#include "hdf5_handles.hpp"

namespace cellvae {

namespace {

using h5::Failure;
using h5::Id;
using h5::ValueClass;

std::string encoding_of(hid_t obj) { return h5::string_attr(obj, "encoding-type").value_or(""); }

/// Shortest text that reads back as the same double (numeric categories, say).
std::string format_double(double v) {
  if (std::isnan(v)) return "nan";
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

/// Any 1-D dataset as text: strings as they are, numbers formatted (pandas would show them
/// this way for an index or categories of numbers).
std::vector<std::string> read_as_text(hid_t dset) {
  switch (h5::dataset_class(dset)) {
    case ValueClass::string:
      return h5::read_strings(dset);
    case ValueClass::integer: {
      std::vector<std::string> out;
      for (std::int64_t v : h5::read_numbers<std::int64_t>(dset)) out.push_back(std::to_string(v));
      return out;
    }
    case ValueClass::floating: {
      std::vector<std::string> out;
      for (double v : h5::read_numbers<double>(dset)) out.push_back(format_double(v));
      return out;
    }
    case ValueClass::boolean: {
      std::vector<std::string> out;
      for (std::uint8_t v : h5::read_numbers<std::uint8_t>(dset))
        out.push_back(v ? "True" : "False");
      return out;
    }
    default:
      throw Failure(h5::name_of(dset) + " cannot be read as text");
  }
}

class Reader {
 public:
  Reader(hid_t file, std::vector<std::string>& warnings, int threads)
      : file_(file), warnings_(warnings), threads_(threads) {}

  CsrMatrix read_matrix(const std::string& path);
  DataFrame read_dataframe(const std::string& path, std::size_t n_rows);
  void read_obsm(Dataset& ds);
  void read_uns(Dataset& ds);
  void warn_ignored(const char* path, const char* why);

 private:
  CsrMatrix read_sparse(hid_t group, bool csc, std::int64_t rows, std::int64_t cols);
  CsrMatrix read_dense(hid_t dset);
  std::optional<Column> read_column(hid_t frame, const std::string& name);
  std::optional<Column> read_group_column(hid_t group, const std::string& name);
  DataFrame read_records(hid_t dset);
  void skip(const std::string& path, const std::string& why) {
    warnings_.push_back("skipped " + path + ": " + why);
  }

  hid_t file_;
  std::vector<std::string>& warnings_;
  int threads_;
  std::set<std::string> consumed_uns_;  // uns entries used as categories by old-style obs/var
};

// ---- X, layers, raw/X -------------------------------------------------------------------------

CsrMatrix Reader::read_matrix(const std::string& path) {
  Id obj = h5::open(file_, path);
  if (h5::is_dataset(obj)) return read_dense(obj);
  const std::string where = h5::name_of(obj);
  std::string enc = encoding_of(obj);
  std::vector<std::int64_t> shape = h5::int_array_attr(obj, "shape");
  if (enc.empty()) {
    // anndata 0.7: h5sparse_format "csr" / "csc" with h5sparse_shape.
    const std::string format = h5::string_attr(obj, "h5sparse_format").value_or("");
    if (format == "csr" || format == "csc") enc = format + "_matrix";
    shape = h5::int_array_attr(obj, "h5sparse_shape");
  }
  if (enc != "csr_matrix" && enc != "csc_matrix")
    throw Failure("unsupported encoding '" + enc + "' at " + where);
  if (shape.size() != 2) throw Failure(where + " has no valid shape attribute");
  return read_sparse(obj, enc == "csc_matrix", shape[0], shape[1]);
}

CsrMatrix Reader::read_sparse(hid_t group, bool csc, std::int64_t rows, std::int64_t cols) {
  bool sorted = true;
  CsrMatrix m;
  if (csc) {
    // The CSC buffers are the CSR buffers of the transpose; transposing them directly (as
    // csr_from_csc does) without copying the buffers first keeps peak memory down.
    m = transpose(h5::read_compressed(group, cols, rows, "column", sorted, threads_));
  } else {
    m = h5::read_compressed(group, rows, cols, "row", sorted, threads_);
  }
  if (!sorted) {
    canonicalize(m);
    warnings_.push_back("sorted and merged repeated indices of " + h5::name_of(group) +
                        " (the file's indices were not sorted within each " +
                        (csc ? "column" : "row") + ")");
  }
  return m;
}

CsrMatrix Reader::read_dense(hid_t dset) {
  const std::vector<hsize_t> d = h5::dims(dset);
  if (d.size() != 2)
    throw Failure(h5::name_of(dset) + " is a " + std::to_string(d.size()) +
                  "-D array; expected a 2-D matrix");
  const auto n_rows = static_cast<std::int64_t>(d[0]);
  const auto n_cols = static_cast<std::int64_t>(d[1]);
  if (n_cols > INT32_MAX) throw Failure(h5::name_of(dset) + " has more than 2^31 - 1 columns");
  const ValueClass c = h5::dataset_class(dset);
  if (c != ValueClass::floating && c != ValueClass::integer)
    throw Failure(h5::name_of(dset) + " does not hold numbers");
  // Read in blocks of rows so that a large dense X never needs a full dense copy in memory.
  const std::int64_t block =
      std::max<std::int64_t>(1, (std::int64_t{1} << 24) / std::max<std::int64_t>(1, n_cols));
  CsrMatrix m;
  m.n_rows = n_rows;
  m.n_cols = n_cols;
  m.indptr.assign(1, 0);
  std::vector<float> buf;
  for (std::int64_t r0 = 0; r0 < n_rows; r0 += block) {
    const std::int64_t nr = std::min(block, n_rows - r0);
    buf.resize(static_cast<std::size_t>(nr * n_cols));
    if (n_cols > 0)
      h5::read_float_rows(dset, static_cast<hsize_t>(r0), static_cast<hsize_t>(nr),
                          static_cast<hsize_t>(n_cols), buf.data());
    CsrMatrix part = csr_from_dense(buf.data(), nr, n_cols);
    const std::int64_t offset = m.nnz();
    if (offset == 0 && r0 == 0) {
      m.indices = std::move(part.indices);
      m.data = std::move(part.data);
    } else {
      m.indices.insert(m.indices.end(), part.indices.begin(), part.indices.end());
      m.data.insert(m.data.end(), part.data.begin(), part.data.end());
    }
    for (std::int64_t i = 1; i <= nr; ++i) m.indptr.push_back(offset + part.indptr[i]);
  }
  return m;
}

// ---- obs / var --------------------------------------------------------------------------------

DataFrame Reader::read_dataframe(const std::string& path, std::size_t n_rows) {
  DataFrame df;
  if (!h5::exists(file_, path)) {
    // anndata's default index: "0", "1", ...
    for (std::size_t i = 0; i < n_rows; ++i) df.index.push_back(std::to_string(i));
    warnings_.push_back(path + " is missing; using row numbers as names");
    return df;
  }
  Id obj = h5::open(file_, path);
  if (h5::is_dataset(obj)) return read_records(obj);
  std::string index_name = h5::string_attr(obj, "_index").value_or("");
  if (index_name.empty()) {
    if (h5::exists(obj, "_index"))
      index_name = "_index";
    else if (h5::exists(obj, "index"))
      index_name = "index";
    else
      throw Failure(path + " has no index (no '_index' attribute or dataset)");
  }
  {
    Id index = h5::open(obj, index_name);
    if (!h5::is_dataset(index)) throw Failure(h5::name_of(index) + " is not a dataset");
    df.index = read_as_text(index);
  }
  std::vector<std::string> names;
  if (h5::has_attr(obj, "column-order")) {
    names = h5::string_array_attr(obj, "column-order");
  } else {
    for (auto& n : h5::member_names(obj))
      if (n != index_name && n != "__categories") names.push_back(n);
  }
  for (const std::string& name : names) {
    std::optional<Column> col = read_column(obj, name);
    if (!col) continue;
    if (col->size() != df.n_rows())
      throw Failure(path + "/" + name + " has " + std::to_string(col->size()) +
                    " entries but the index has " + std::to_string(df.n_rows()));
    df.set(std::move(*col));
  }
  return df;
}

/// A categorical column from codes and categories, checking the codes so that the message can
/// name the HDF5 path.
Column categorical(const std::string& name, hid_t codes_dset, std::vector<std::string> categories,
                   bool ordered) {
  std::vector<std::int32_t> codes = h5::read_numbers<std::int32_t>(codes_dset);
  const auto n_cat = static_cast<std::int32_t>(categories.size());
  for (std::size_t i = 0; i < codes.size(); ++i)
    if (codes[i] < -1 || codes[i] >= n_cat)
      throw Failure(h5::name_of(codes_dset) + " has code " + std::to_string(codes[i]) + " at row " +
                    std::to_string(i) + " but only " + std::to_string(n_cat) + " categories");
  return Column::make_categorical(name, std::move(categories), std::move(codes), ordered);
}

std::optional<Column> Reader::read_column(hid_t frame, const std::string& name) {
  if (!h5::exists(frame, name))
    throw Failure(h5::name_of(frame) + " lists column '" + name +
                  "' in column-order but has no such element");
  Id obj = h5::open(frame, name);
  if (h5::is_group(obj)) return read_group_column(obj, name);
  const std::string path = h5::name_of(obj);
  if (h5::dims(obj).size() != 1) {
    skip(path, "only 1-D columns are supported");
    return std::nullopt;
  }
  // anndata 0.7: codes whose `categories` attribute references obs/__categories/<name>.
  if (Id cats = h5::deref_attr(obj, "categories"); cats.valid()) {
    const bool ordered = h5::bool_attr(cats, "ordered").value_or(false);
    return categorical(name, obj, read_as_text(cats), ordered);
  }
  switch (h5::dataset_class(obj)) {
    case ValueClass::string:
      return Column::make_string(name, h5::read_strings(obj));
    case ValueClass::floating:
      return Column::make_number(name, h5::read_numbers<double>(obj));
    case ValueClass::integer:
      return Column::make_integer(name, h5::read_numbers<std::int64_t>(obj));
    case ValueClass::boolean:
      return Column::make_boolean(name, h5::read_numbers<std::uint8_t>(obj));
    default:
      skip(path, "unsupported column type");
      return std::nullopt;
  }
}

std::optional<Column> Reader::read_group_column(hid_t group, const std::string& name) {
  const std::string path = h5::name_of(group);
  const std::string enc = encoding_of(group);
  if (enc == "categorical") {
    Id codes = h5::open(group, "codes");
    Id cats = h5::open(group, "categories");
    const bool ordered = h5::bool_attr(group, "ordered").value_or(false);
    return categorical(name, codes, read_as_text(cats), ordered);
  }
  if (enc == "nullable-integer" || enc == "nullable-boolean") {
    Id values_dset = h5::open(group, "values");
    Id mask_dset = h5::open(group, "mask");
    const std::vector<std::uint8_t> mask = h5::read_numbers<std::uint8_t>(mask_dset);
    if (mask.size() != h5::element_count(values_dset))
      throw Failure(path + ": values and mask differ in length");
    const auto n_missing = std::count(mask.begin(), mask.end(), std::uint8_t{1});
    if (enc == "nullable-integer") {
      // Missing integers become NaN in a float column (cellvae's integer columns have no NA).
      std::vector<double> v = h5::read_numbers<double>(values_dset);
      for (std::size_t i = 0; i < v.size(); ++i)
        if (mask[i]) v[i] = std::nan("");
      if (n_missing > 0)
        warnings_.push_back("read " + path + " (nullable integers with " +
                            std::to_string(n_missing) + " missing) as numbers with NaN");
      return Column::make_number(name, std::move(v));
    }
    std::vector<std::uint8_t> v = h5::read_numbers<std::uint8_t>(values_dset);
    for (std::size_t i = 0; i < v.size(); ++i)
      if (mask[i]) v[i] = 0;
    if (n_missing > 0)
      warnings_.push_back("read " + path + " (nullable booleans) with " +
                          std::to_string(n_missing) + " missing values as false");
    return Column::make_boolean(name, std::move(v));
  }
  skip(path, enc.empty() ? "groups without an encoding-type are not supported columns"
                         : "unsupported encoding '" + enc + "'");
  return std::nullopt;
}

DataFrame Reader::read_records(hid_t dset) {
  // anndata < 0.7: a compound dataset with an "index" field; categorical columns hold codes
  // whose categories are in uns["<column>_categories"].
  const std::string path = h5::name_of(dset);
  DataFrame df;
  std::vector<h5::CompoundField> fields = h5::compound_fields(dset);
  const bool has_index =
      std::any_of(fields.begin(), fields.end(), [](const auto& f) { return f.name == "index"; });
  if (!has_index) throw Failure(path + " is a record array without an 'index' field");
  df.index = h5::read_compound_strings(dset, "index");
  for (const auto& f : fields) {
    if (f.name == "index") continue;
    const std::string uns_key = "uns/" + f.name + "_categories";
    const ValueClass c = h5::value_class(f.type);
    if (c == ValueClass::integer && h5::exists(file_, uns_key)) {
      Id cats = h5::open(file_, uns_key);
      std::vector<std::string> categories = read_as_text(cats);
      std::vector<std::int64_t> raw = h5::read_compound_numbers<std::int64_t>(dset, f.name);
      std::vector<std::int32_t> codes(raw.begin(), raw.end());
      for (std::size_t i = 0; i < codes.size(); ++i)
        if (codes[i] < -1 || codes[i] >= static_cast<std::int32_t>(categories.size()))
          throw Failure(path + " field '" + f.name + "' has code " + std::to_string(codes[i]) +
                        " at row " + std::to_string(i) + " but /" + uns_key + " has only " +
                        std::to_string(categories.size()) + " categories");
      df.set(Column::make_categorical(f.name, std::move(categories), std::move(codes)));
      consumed_uns_.insert(f.name + "_categories");
      continue;
    }
    switch (c) {
      case ValueClass::string:
        df.set(Column::make_string(f.name, h5::read_compound_strings(dset, f.name)));
        break;
      case ValueClass::floating:
        df.set(Column::make_number(f.name, h5::read_compound_numbers<double>(dset, f.name)));
        break;
      case ValueClass::integer:
        df.set(Column::make_integer(f.name, h5::read_compound_numbers<std::int64_t>(dset, f.name)));
        break;
      case ValueClass::boolean:
        df.set(Column::make_boolean(f.name, h5::read_compound_numbers<std::uint8_t>(dset, f.name)));
        break;
      default:
        skip(path + "['" + f.name + "']", "unsupported field type");
        break;
    }
  }
  return df;
}

// ---- obsm, uns, the rest ----------------------------------------------------------------------

void Reader::read_obsm(Dataset& ds) {
  if (!h5::exists(file_, "obsm")) return;
  Id obsm = h5::open(file_, "obsm");
  if (!h5::is_group(obsm)) {
    skip("/obsm", "record-array obsm (anndata < 0.7) is not supported");
    return;
  }
  for (const std::string& key : h5::member_names(obsm)) {
    Id obj = h5::open(obsm, key);
    const std::string path = h5::name_of(obj);
    if (h5::is_group(obj)) {
      const std::string enc = encoding_of(obj);
      if (enc == "csr_matrix" || enc == "csc_matrix" || h5::has_attr(obj, "h5sparse_format"))
        skip(path, "sparse obsm entries are not supported");
      else if (enc == "dataframe")
        skip(path, "dataframe obsm entries are not supported");
      else
        skip(path, "unsupported encoding '" + enc + "'");
      continue;
    }
    const std::vector<hsize_t> d = h5::dims(obj);
    const ValueClass c = h5::dataset_class(obj);
    if ((c != ValueClass::floating && c != ValueClass::integer) || d.empty() || d.size() > 2) {
      skip(path, "only 1-D or 2-D numeric arrays are supported in obsm");
      continue;
    }
    if (static_cast<std::int64_t>(d[0]) != ds.n_cells()) {
      skip(path, "it has " + std::to_string(d[0]) + " rows for " + std::to_string(ds.n_cells()) +
                     " cells");
      continue;
    }
    DenseArray a;
    a.rows = static_cast<std::int64_t>(d[0]);
    a.cols = d.size() == 2 ? static_cast<std::int64_t>(d[1]) : 1;
    h5::read_into(obj, a.values);
    ds.obsm.emplace(key, std::move(a));
  }
}

void Reader::read_uns(Dataset& ds) {
  if (!h5::exists(file_, "uns")) return;
  Id uns = h5::open(file_, "uns");
  if (!h5::is_group(uns)) return;
  for (const std::string& key : h5::member_names(uns)) {
    if (consumed_uns_.count(key)) continue;
    Id obj = h5::open(uns, key);
    const std::string path = h5::name_of(obj);
    if (h5::is_group(obj)) {
      const std::string enc = encoding_of(obj);
      skip(path, enc.empty() || enc == "dict" ? "nested dictionaries in uns are not supported"
                                              : "unsupported encoding '" + enc + "' in uns");
      continue;
    }
    const std::vector<hsize_t> d = h5::dims(obj);
    const ValueClass c = h5::dataset_class(obj);
    if (d.size() > 1) {
      skip(path, "only scalars and 1-D arrays are supported in uns");
      continue;
    }
    const bool scalar = d.empty();
    switch (c) {
      case ValueClass::string: {
        std::vector<std::string> s = h5::read_strings(obj);
        if (scalar)
          ds.uns[key] = s.at(0);
        else
          ds.uns[key] = std::move(s);
        break;
      }
      case ValueClass::floating: {
        std::vector<double> v = h5::read_numbers<double>(obj);
        if (scalar)
          ds.uns[key] = v.at(0);
        else
          ds.uns[key] = std::move(v);
        break;
      }
      case ValueClass::integer: {
        std::vector<std::int64_t> v = h5::read_numbers<std::int64_t>(obj);
        if (scalar)
          ds.uns[key] = v.at(0);
        else
          ds.uns[key] = std::move(v);
        break;
      }
      case ValueClass::boolean:
        if (scalar)
          ds.uns[key] = h5::read_numbers<std::uint8_t>(obj).at(0) != 0;
        else
          skip(path, "boolean arrays in uns are not supported");
        break;
      default:
        skip(path, "unsupported type in uns");
        break;
    }
  }
}

void Reader::warn_ignored(const char* path, const char* why) {
  if (!h5::exists(file_, path)) return;
  Id obj = h5::open(file_, path);
  if (!h5::is_group(obj)) return;
  const std::vector<std::string> names = h5::member_names(obj);
  if (!names.empty())
    warnings_.push_back("ignored /" + std::string(path) + " (" + join_names(names, 5) +
                        "): " + why);
}

std::vector<std::string> layer_names(hid_t file) {
  if (!h5::exists(file, "layers")) return {};
  Id layers = h5::open(file, "layers");
  return h5::is_group(layers) ? h5::member_names(layers) : std::vector<std::string>{};
}

}  // namespace

Dataset read_h5ad(const std::filesystem::path& path, const H5adReadOptions& options) {
  return h5::guarded(path, [&] {
    Id file = h5::open_file_read(path);
    const std::string p = path.string();
    if (options.layer && options.use_raw)
      throw InputError("choose a layer or raw, not both, when reading " + p);
    Dataset ds;
    ds.source = p;
    ds.layers = layer_names(file);
    std::string matrix = "X";
    std::string var_name = options.use_raw ? "raw/var" : "var";
    if (options.layer) {
      if (std::find(ds.layers.begin(), ds.layers.end(), *options.layer) == ds.layers.end())
        throw InputError("layer '" + *options.layer + "' not in " + p +
                         "; available: " + join_names(ds.layers));
      matrix = "layers/" + *options.layer;
    } else if (options.use_raw) {
      // anndata < 0.7 stored raw as root members "raw.X" and "raw.var".
      if (h5::exists(file, "raw/X")) {
        matrix = "raw/X";
      } else if (h5::exists(file, "raw.X")) {
        matrix = "raw.X";
        var_name = "raw.var";
      } else {
        throw InputError("raw/X not in " + p + " (no raw data)");
      }
    } else if (!h5::exists(file, "X")) {
      throw InputError(
          "X not in " + p +
          (ds.layers.empty() ? std::string() : "; read a layer instead: " + join_names(ds.layers)));
    }
    Reader reader(file, ds.warnings, options.threads);
    ds.X = reader.read_matrix(matrix);
    ds.obs = reader.read_dataframe("obs", static_cast<std::size_t>(ds.X.n_rows));
    ds.var = reader.read_dataframe(var_name, static_cast<std::size_t>(ds.X.n_cols));
    if (static_cast<std::int64_t>(ds.obs.n_rows()) != ds.X.n_rows)
      throw InputError(matrix + " has " + std::to_string(ds.X.n_rows) + " rows but obs has " +
                       std::to_string(ds.obs.n_rows()) + " entries in " + p);
    if (static_cast<std::int64_t>(ds.var.n_rows()) != ds.X.n_cols)
      throw InputError(matrix + " has " + std::to_string(ds.X.n_cols) + " columns but " + var_name +
                       " has " + std::to_string(ds.var.n_rows()) + " entries in " + p);
    reader.read_obsm(ds);
    reader.read_uns(ds);
    reader.warn_ignored("obsp", "pairwise cell matrices are not read");
    reader.warn_ignored("varm", "per-gene arrays are not read");
    reader.warn_ignored("varp", "pairwise gene matrices are not read");
    return ds;
  });
}

std::vector<std::string> h5ad_layer_names(const std::filesystem::path& path) {
  return h5::guarded(path, [&] {
    Id file = h5::open_file_read(path);
    return layer_names(file);
  });
}

}  // namespace cellvae
