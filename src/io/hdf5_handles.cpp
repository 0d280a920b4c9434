#include "hdf5_handles.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <system_error>

#include "hdf5_chunks.hpp"

namespace cellvae::h5 {

namespace fs = std::filesystem;

std::unique_lock<std::recursive_mutex> lock_library() {
  static std::recursive_mutex mutex;
  static std::once_flag silenced;
  std::unique_lock<std::recursive_mutex> lock(mutex);
  // HDF5 prints its error stack to stderr by default; we report failures as exceptions.
  std::call_once(silenced, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
  return lock;
}

Id& Id::operator=(Id&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Id::reset() {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
    case H5I_FILE:
      H5Fclose(id_);
      break;
    case H5I_GROUP:
      H5Gclose(id_);
      break;
    case H5I_DATASET:
      H5Dclose(id_);
      break;
    case H5I_ATTR:
      H5Aclose(id_);
      break;
    case H5I_DATATYPE:
      H5Tclose(id_);
      break;
    case H5I_DATASPACE:
      H5Sclose(id_);
      break;
    case H5I_GENPROP_LST:
      H5Pclose(id_);
      break;
    default:
      H5Idec_ref(id_);
      break;
  }
  id_ = H5I_INVALID_HID;
}

namespace {

Id checked(hid_t id, const std::string& what) {
  if (id < 0) throw Failure(what);
  return Id(id);
}

void check(herr_t status, const std::string& what) {
  if (status < 0) throw Failure(what);
}

const char* class_name(ValueClass c) {
  switch (c) {
    case ValueClass::floating:
      return "floating-point numbers";
    case ValueClass::integer:
      return "integers";
    case ValueClass::boolean:
      return "booleans";
    case ValueClass::string:
      return "strings";
    case ValueClass::reference:
      return "object references";
    case ValueClass::compound:
      return "records (compound type)";
    case ValueClass::other:
      return "values of an unsupported HDF5 type";
  }
  return "?";
}

/// Converts enum (numpy bool) raw values of `base_size` bytes to T.
template <class T>
void convert_enum_values(const std::vector<unsigned char>& raw, std::size_t base_size,
                         bool is_signed, std::vector<T>& out) {
  const std::size_t n = raw.size() / base_size;
  out.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char* p = raw.data() + i * base_size;
    std::int64_t v = 0;
    switch (base_size) {
      case 1:
        v = is_signed ? *reinterpret_cast<const std::int8_t*>(p) : *p;
        break;
      case 2: {
        std::int16_t s;
        std::memcpy(&s, p, 2);
        v = is_signed ? s : static_cast<std::uint16_t>(s);
        break;
      }
      case 4: {
        std::int32_t s;
        std::memcpy(&s, p, 4);
        v = is_signed ? s : static_cast<std::uint32_t>(s);
        break;
      }
      default:
        std::memcpy(&v, p, 8);
        break;
    }
    out[i] = static_cast<T>(v);
  }
}

/// The in-memory variable-length string type matching a file string type's character set
/// (HDF5 refuses to convert between ASCII and UTF-8).
Id vlen_string_type(H5T_cset_t cset) {
  Id t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, cset);
  return t;
}

Id utf8_vlen_type() { return vlen_string_type(H5T_CSET_UTF8); }

/// Cuts a fixed-length string at its padding.
std::string trim_fixed(const char* p, std::size_t size, H5T_str_t pad) {
  std::size_t len = size;
  if (pad == H5T_STR_SPACEPAD) {
    while (len > 0 && p[len - 1] == ' ') --len;
  } else {
    len = static_cast<std::size_t>(std::find(p, p + size, '\0') - p);
  }
  return std::string(p, len);
}

/// Reads all strings of a dataset or attribute (`is_attr`) of string type `ftype`.
std::vector<std::string> read_string_values(hid_t obj, hid_t ftype, hid_t space, bool is_attr) {
  const hssize_t npoints = H5Sget_simple_extent_npoints(space);
  if (npoints < 0) throw Failure("cannot get the size of " + name_of(obj));
  const auto n = static_cast<std::size_t>(npoints);
  std::vector<std::string> out;
  out.reserve(n);
  if (n == 0) return out;
  auto read = [&](hid_t memtype, void* buf) {
    const herr_t s = is_attr ? H5Aread(obj, memtype, buf)
                             : H5Dread(obj, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    check(s, "cannot read the strings of " + name_of(obj));
  };
  if (H5Tis_variable_str(ftype) > 0) {
    Id memtype = vlen_string_type(H5Tget_cset(ftype));
    std::vector<char*> ptrs(n, nullptr);
    read(memtype, ptrs.data());
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(memtype, space, H5P_DEFAULT, ptrs.data());
  } else {
    const std::size_t size = H5Tget_size(ftype);
    Id memtype(H5Tcopy(ftype));
    std::vector<char> buf(n * size);
    read(memtype, buf.data());
    const H5T_str_t pad = H5Tget_strpad(ftype);
    for (std::size_t i = 0; i < n; ++i) out.push_back(trim_fixed(buf.data() + i * size, size, pad));
  }
  return out;
}

Id open_attr(hid_t obj, const char* name) {
  return checked(H5Aopen(obj, name, H5P_DEFAULT),
                 std::string("cannot open attribute '") + name + "' of " + name_of(obj));
}

/// Reads a numeric attribute (integer, float or enum) as int64 values.
std::vector<std::int64_t> read_attr_ints(hid_t attr, const std::string& what) {
  Id type(H5Aget_type(attr));
  Id space(H5Aget_space(attr));
  const hssize_t npoints = H5Sget_simple_extent_npoints(space);
  if (npoints <= 0) return {};
  const auto n = static_cast<std::size_t>(npoints);
  const ValueClass c = value_class(type);
  if (c == ValueClass::integer || c == ValueClass::floating) {
    std::vector<std::int64_t> out(n);
    check(H5Aread(attr, H5T_NATIVE_INT64, out.data()), "cannot read " + what);
    return out;
  }
  if (c == ValueClass::boolean) {
    Id memtype(H5Tget_native_type(type, H5T_DIR_ASCEND));
    Id base(H5Tget_super(memtype));
    const std::size_t size = H5Tget_size(base);
    std::vector<unsigned char> raw(n * size);
    check(H5Aread(attr, memtype, raw.data()), "cannot read " + what);
    std::vector<std::int64_t> out;
    convert_enum_values(raw, size, H5Tget_sign(base) == H5T_SGN_2, out);
    return out;
  }
  throw Failure(what + " holds " + class_name(c) + ", expected integers");
}

/// Chunked + gzip creation properties for a dataset of `shape` and `elem_size`-byte elements,
/// or the default (contiguous) when compression is off or the dataset is small or empty.
Id creation_properties(const std::vector<hsize_t>& shape, std::size_t elem_size, int compression) {
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
  hsize_t total = 1;
  for (hsize_t d : shape) total *= d;
  // Chunking costs more than it saves below a few KB; zero-sized datasets cannot be chunked.
  if (compression <= 0 || shape.empty() || total == 0 || total * elem_size < 16384) return dcpl;
  constexpr hsize_t kChunkBytes = hsize_t{1} << 20;
  std::vector<hsize_t> chunk = shape;
  hsize_t row_bytes = elem_size;
  for (std::size_t i = 1; i < shape.size(); ++i) row_bytes *= shape[i];
  chunk[0] = std::clamp<hsize_t>(kChunkBytes / row_bytes, 1, shape[0]);
  check(H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()), "cannot set chunking");
  check(H5Pset_deflate(dcpl, static_cast<unsigned>(std::min(compression, 9))),
        "cannot set gzip compression");
  return dcpl;
}

Id make_space(const std::vector<hsize_t>& shape) {
  if (shape.empty()) return Id(H5Screate(H5S_SCALAR));
  return Id(H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr));
}

Id bool_enum_type() {
  // h5py's numpy bool: an enum over int8 with members FALSE = 0 and TRUE = 1.
  Id t(H5Tenum_create(H5T_NATIVE_INT8));
  const std::int8_t f = 0, tr = 1;
  H5Tenum_insert(t, "FALSE", &f);
  H5Tenum_insert(t, "TRUE", &tr);
  return t;
}

Id create_dataset(hid_t loc, const std::string& name, hid_t ftype,
                  const std::vector<hsize_t>& shape, hid_t dcpl) {
  Id space = make_space(shape);
  return checked(H5Dcreate2(loc, name.c_str(), ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                 "cannot create dataset '" + name + "' in " + name_of(loc));
}

}  // namespace

// ---- files and objects ------------------------------------------------------------------------

Id open_file_read(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError("file not found: " + path.string());
  if (fs::is_directory(path, ec))
    throw InputError(path.string() + " is a directory, not an HDF5 file");
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw InputError(path.string() + " is not a readable HDF5 file (truncated or corrupt?)");
  Id fapl(H5Pcreate(H5P_FILE_ACCESS));
  // A larger raw-data chunk cache (per open dataset) than HDF5's 1 MiB default, so that the
  // ~1 MiB gzip chunks anndata writes are decompressed once and whole-dataset reads stream.
  H5Pset_cache(fapl, 0, 1009, std::size_t{16} << 20, 1.0);
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
  if (f < 0)
    throw InputError(path.string() + " is not a readable HDF5 file (truncated or corrupt?)");
  return Id(f);
}

Id create_file(const fs::path& path) {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) throw InputError("cannot create " + path.string());
  return Id(f);
}

std::string name_of(hid_t obj) {
  const ssize_t len = H5Iget_name(obj, nullptr, 0);
  if (len <= 0) return "?";
  std::string s(static_cast<std::size_t>(len) + 1, '\0');
  H5Iget_name(obj, s.data(), s.size());
  s.resize(static_cast<std::size_t>(len));
  return s;
}

bool exists(hid_t loc, const std::string& path) {
  // H5Lexists fails (rather than returning false) when an intermediate group is missing.
  std::size_t pos = 0;
  while (true) {
    const std::size_t slash = path.find('/', pos);
    const std::string prefix = path.substr(0, slash);
    if (!prefix.empty() && H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) return true;
    pos = slash + 1;
  }
}

Id open(hid_t loc, const std::string& path) {
  return checked(H5Oopen(loc, path.c_str(), H5P_DEFAULT),
                 "cannot open " + name_of(loc) + (name_of(loc) == "/" ? "" : "/") + path);
}

bool is_group(hid_t obj) { return H5Iget_type(obj) == H5I_GROUP; }
bool is_dataset(hid_t obj) { return H5Iget_type(obj) == H5I_DATASET; }

std::vector<std::string> member_names(hid_t group) {
  std::vector<std::string> names;
  auto collect = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  hsize_t idx = 0;
  check(H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, collect, &names),
        "cannot list the members of " + name_of(group));
  return names;
}

// ---- attributes -------------------------------------------------------------------------------

bool has_attr(hid_t obj, const char* name) { return H5Aexists(obj, name) > 0; }

std::optional<std::string> string_attr(hid_t obj, const char* name) {
  if (!has_attr(obj, name)) return std::nullopt;
  Id attr = open_attr(obj, name);
  Id type(H5Aget_type(attr));
  Id space(H5Aget_space(attr));
  const std::string what = std::string("attribute '") + name + "' of " + name_of(obj);
  if (H5Tget_class(type) != H5T_STRING) throw Failure(what + " is not a string");
  std::vector<std::string> values = read_string_values(attr, type, space, true);
  if (values.size() != 1) throw Failure(what + " is not a single string");
  return values.front();
}

std::vector<std::string> string_array_attr(hid_t obj, const char* name) {
  if (!has_attr(obj, name)) return {};
  Id attr = open_attr(obj, name);
  Id type(H5Aget_type(attr));
  Id space(H5Aget_space(attr));
  if (H5Sget_simple_extent_type(space) == H5S_NULL) return {};
  if (H5Tget_class(type) != H5T_STRING) {
    if (H5Sget_simple_extent_npoints(space) == 0) return {};
    throw Failure(std::string("attribute '") + name + "' of " + name_of(obj) +
                  " is not an array of strings");
  }
  return read_string_values(attr, type, space, true);
}

std::vector<std::int64_t> int_array_attr(hid_t obj, const char* name) {
  if (!has_attr(obj, name)) return {};
  Id attr = open_attr(obj, name);
  return read_attr_ints(attr, std::string("attribute '") + name + "' of " + name_of(obj));
}

std::optional<bool> bool_attr(hid_t obj, const char* name) {
  const std::vector<std::int64_t> v = int_array_attr(obj, name);
  if (v.empty()) return std::nullopt;
  return v.front() != 0;
}

Id deref_attr(hid_t obj, const char* name) {
  if (!has_attr(obj, name)) return Id();
  Id attr = open_attr(obj, name);
  Id type(H5Aget_type(attr));
  if (H5Tget_class(type) != H5T_REFERENCE) return Id();
  hobj_ref_t ref{};
  check(H5Aread(attr, H5T_STD_REF_OBJ, &ref),
        std::string("cannot read reference '") + name + "' of " + name_of(obj));
  return checked(H5Rdereference2(obj, H5P_DEFAULT, H5R_OBJECT, &ref),
                 std::string("broken reference '") + name + "' of " + name_of(obj));
}

// ---- reading datasets -------------------------------------------------------------------------

ValueClass value_class(hid_t type) {
  switch (H5Tget_class(type)) {
    case H5T_FLOAT:
      return ValueClass::floating;
    case H5T_INTEGER:
      return ValueClass::integer;
    case H5T_ENUM:
      return ValueClass::boolean;  // numpy bool is the only enum anndata writes
    case H5T_STRING:
      return ValueClass::string;
    case H5T_REFERENCE:
      return ValueClass::reference;
    case H5T_COMPOUND:
      return ValueClass::compound;
    default:
      return ValueClass::other;
  }
}

ValueClass dataset_class(hid_t dset) {
  Id type(H5Dget_type(dset));
  return value_class(type);
}

std::vector<hsize_t> dims(hid_t dset) {
  Id space(H5Dget_space(dset));
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) throw Failure("cannot get the shape of " + name_of(dset));
  std::vector<hsize_t> d(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space, d.data(), nullptr);
  return d;
}

std::size_t element_count(hid_t dset) {
  std::size_t n = 1;
  for (hsize_t d : dims(dset)) n *= static_cast<std::size_t>(d);
  return n;
}

namespace {

/// Resizes `v` to n elements. Large buffers are first reserved and marked for transparent huge
/// pages (as numpy does for its arrays): the kernel then faults them in 2 MiB at a time, which
/// on virtual machines saves most of the time of touching gigabytes of fresh memory.
template <class T>
void resize_for_bulk_read(std::vector<T>& v, std::size_t n) {
#ifdef MADV_HUGEPAGE
  constexpr std::size_t kHuge = std::size_t{2} << 20;
  const std::size_t bytes = n * sizeof(T);
  if (bytes >= 2 * kHuge && v.capacity() < n) {
    std::vector<T>().swap(v);
    v.reserve(n);
    const auto begin = reinterpret_cast<std::uintptr_t>(v.data());
    const std::uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1);
    const std::uintptr_t last = (begin + bytes) & ~(kHuge - 1);
    if (last > first)
      ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);  // a hint only
  }
#endif
  v.resize(n);
}

}  // namespace

template <class T>
void read_into(hid_t dset, std::vector<T>& out, int threads) {
  Id ftype(H5Dget_type(dset));
  const ValueClass c = value_class(ftype);
  const std::size_t n = element_count(dset);
  if (c == ValueClass::integer || c == ValueClass::floating) {
    resize_for_bulk_read(out, n);
    if (n == 0) return;
    if (threads != 1 && read_chunks_parallel(dset, ftype, out.data(), n, resolve_threads(threads)))
      return;
    // A larger conversion buffer than the 1 MiB default: fewer passes when HDF5 converts
    // (int32 indptr to int64, float64 data to float32).
    Id dxpl(H5Pcreate(H5P_DATASET_XFER));
    H5Pset_buffer(dxpl, std::size_t{8} << 20, nullptr, nullptr);
    check(H5Dread(dset, native<T>(), H5S_ALL, H5S_ALL, dxpl, out.data()),
          "cannot read " + name_of(dset) + " (corrupt or truncated data?)");
  } else if (c == ValueClass::boolean) {
    Id memtype(H5Tget_native_type(ftype, H5T_DIR_ASCEND));
    Id base(H5Tget_super(memtype));
    const std::size_t size = H5Tget_size(base);
    std::vector<unsigned char> raw(n * size);
    if (n > 0)
      check(H5Dread(dset, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()),
            "cannot read " + name_of(dset));
    convert_enum_values(raw, size, H5Tget_sign(base) == H5T_SGN_2, out);
  } else {
    throw Failure(name_of(dset) + " holds " + class_name(c) + ", expected numbers");
  }
}

template void read_into<float>(hid_t, std::vector<float>&, int);
template void read_into<double>(hid_t, std::vector<double>&, int);
template void read_into<std::int32_t>(hid_t, std::vector<std::int32_t>&, int);
template void read_into<std::int64_t>(hid_t, std::vector<std::int64_t>&, int);
template void read_into<std::uint8_t>(hid_t, std::vector<std::uint8_t>&, int);

void read_float_rows(hid_t dset, hsize_t row0, hsize_t n_rows, hsize_t n_cols, float* out) {
  Id fspace(H5Dget_space(dset));
  const hsize_t start[2] = {row0, 0};
  const hsize_t count[2] = {n_rows, n_cols};
  check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, nullptr, count, nullptr),
        "cannot select rows of " + name_of(dset));
  Id mspace(H5Screate_simple(2, count, nullptr));
  check(H5Dread(dset, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, out),
        "cannot read " + name_of(dset) + " as numbers");
}

std::vector<std::string> read_strings(hid_t dset) {
  Id type(H5Dget_type(dset));
  if (H5Tget_class(type) != H5T_STRING)
    throw Failure(name_of(dset) + " holds " + class_name(value_class(type)) + ", expected strings");
  Id space(H5Dget_space(dset));
  return read_string_values(dset, type, space, false);
}

std::vector<CompoundField> compound_fields(hid_t dset) {
  Id type(H5Dget_type(dset));
  if (H5Tget_class(type) != H5T_COMPOUND) throw Failure(name_of(dset) + " is not a record array");
  std::vector<CompoundField> fields;
  const int n = H5Tget_nmembers(type);
  for (int i = 0; i < n; ++i) {
    char* name = H5Tget_member_name(type, static_cast<unsigned>(i));
    fields.push_back({name ? name : "", Id(H5Tget_member_type(type, static_cast<unsigned>(i)))});
    H5free_memory(name);
  }
  return fields;
}

namespace {
/// The file type of one compound field.
Id field_type(hid_t dset, const std::string& field) {
  Id type(H5Dget_type(dset));
  const int idx = H5Tget_member_index(type, field.c_str());
  if (idx < 0) throw Failure(name_of(dset) + " has no field '" + field + "'");
  return Id(H5Tget_member_type(type, static_cast<unsigned>(idx)));
}

/// Reads one field with the in-memory member type `member` into `buf` (n * member size).
void read_field(hid_t dset, const std::string& field, hid_t member, void* buf) {
  Id memtype(H5Tcreate(H5T_COMPOUND, H5Tget_size(member)));
  H5Tinsert(memtype, field.c_str(), 0, member);
  check(H5Dread(dset, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf),
        "cannot read field '" + field + "' of " + name_of(dset));
}
}  // namespace

std::vector<std::string> read_compound_strings(hid_t dset, const std::string& field) {
  Id ftype = field_type(dset, field);
  if (H5Tget_class(ftype) != H5T_STRING)
    throw Failure("field '" + field + "' of " + name_of(dset) + " is not a string");
  const std::size_t n = element_count(dset);
  std::vector<std::string> out;
  out.reserve(n);
  if (H5Tis_variable_str(ftype) > 0) {
    Id member = vlen_string_type(H5Tget_cset(ftype));
    std::vector<char*> ptrs(n, nullptr);
    if (n > 0) read_field(dset, field, member, ptrs.data());
    for (char* p : ptrs) {
      out.emplace_back(p ? p : "");
      H5free_memory(p);
    }
  } else {
    const std::size_t size = H5Tget_size(ftype);
    std::vector<char> buf(n * size);
    if (n > 0) read_field(dset, field, ftype, buf.data());
    for (std::size_t i = 0; i < n; ++i)
      out.push_back(trim_fixed(buf.data() + i * size, size, H5Tget_strpad(ftype)));
  }
  return out;
}

template <class T>
std::vector<T> read_compound_numbers(hid_t dset, const std::string& field) {
  Id ftype = field_type(dset, field);
  const ValueClass c = value_class(ftype);
  const std::size_t n = element_count(dset);
  std::vector<T> out;
  if (c == ValueClass::integer || c == ValueClass::floating) {
    out.resize(n);
    if (n > 0) read_field(dset, field, native<T>(), out.data());
  } else if (c == ValueClass::boolean) {
    Id member(H5Tget_native_type(ftype, H5T_DIR_ASCEND));
    Id base(H5Tget_super(member));
    const std::size_t size = H5Tget_size(base);
    std::vector<unsigned char> raw(n * size);
    if (n > 0) read_field(dset, field, member, raw.data());
    convert_enum_values(raw, size, H5Tget_sign(base) == H5T_SGN_2, out);
  } else {
    throw Failure("field '" + field + "' of " + name_of(dset) + " holds " + class_name(c) +
                  ", expected numbers");
  }
  return out;
}

template std::vector<double> read_compound_numbers<double>(hid_t, const std::string&);
template std::vector<std::int64_t> read_compound_numbers<std::int64_t>(hid_t, const std::string&);
template std::vector<std::uint8_t> read_compound_numbers<std::uint8_t>(hid_t, const std::string&);

// ---- writing ----------------------------------------------------------------------------------

Id create_group(hid_t loc, const std::string& name) {
  return checked(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                 "cannot create group '" + name + "' in " + name_of(loc));
}

namespace {
Id create_attr(hid_t obj, const char* name, hid_t type, hid_t space) {
  if (has_attr(obj, name)) H5Adelete(obj, name);
  return checked(H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT),
                 std::string("cannot create attribute '") + name + "' on " + name_of(obj));
}
}  // namespace

void set_string_attr(hid_t obj, const char* name, const std::string& value) {
  Id type = utf8_vlen_type();
  Id space(H5Screate(H5S_SCALAR));
  Id attr = create_attr(obj, name, type, space);
  const char* p = value.c_str();
  check(H5Awrite(attr, type, &p), std::string("cannot write attribute '") + name + "'");
}

void set_string_array_attr(hid_t obj, const char* name, const std::vector<std::string>& values) {
  Id type = utf8_vlen_type();
  Id space = make_space({values.size()});
  Id attr = create_attr(obj, name, type, space);
  if (values.empty()) return;
  std::vector<const char*> ptrs;
  ptrs.reserve(values.size());
  for (const auto& v : values) ptrs.push_back(v.c_str());
  check(H5Awrite(attr, type, ptrs.data()), std::string("cannot write attribute '") + name + "'");
}

void set_int64_array_attr(hid_t obj, const char* name, const std::vector<std::int64_t>& values) {
  Id space = make_space({values.size()});
  Id attr = create_attr(obj, name, H5T_STD_I64LE, space);
  if (!values.empty())
    check(H5Awrite(attr, H5T_NATIVE_INT64, values.data()),
          std::string("cannot write attribute '") + name + "'");
}

void set_bool_attr(hid_t obj, const char* name, bool value) {
  Id type = bool_enum_type();
  Id space(H5Screate(H5S_SCALAR));
  Id attr = create_attr(obj, name, type, space);
  const std::int8_t v = value ? 1 : 0;
  check(H5Awrite(attr, type, &v), std::string("cannot write attribute '") + name + "'");
}

void set_encoding(hid_t obj, const char* type, const char* version) {
  set_string_attr(obj, "encoding-type", type);
  set_string_attr(obj, "encoding-version", version);
}

template <class T>
Id write_numbers(hid_t loc, const std::string& name, const T* values,
                 const std::vector<hsize_t>& shape, int compression, int threads) {
  Id dcpl = creation_properties(shape, sizeof(T), compression);
  Id dset = create_dataset(loc, name, file_type<T>(), shape, dcpl);
  hsize_t total = 1;
  for (hsize_t d : shape) total *= d;
  if (total == 0) return dset;
  if (threads != 1 && shape.size() == 1 &&
      write_chunks_parallel(dset, native<T>(), values, static_cast<std::size_t>(total),
                            resolve_threads(threads)))
    return dset;
  check(H5Dwrite(dset, native<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values),
        "cannot write " + name_of(dset));
  return dset;
}

template Id write_numbers<float>(hid_t, const std::string&, const float*,
                                 const std::vector<hsize_t>&, int, int);
template Id write_numbers<double>(hid_t, const std::string&, const double*,
                                  const std::vector<hsize_t>&, int, int);
template Id write_numbers<std::int8_t>(hid_t, const std::string&, const std::int8_t*,
                                       const std::vector<hsize_t>&, int, int);
template Id write_numbers<std::int16_t>(hid_t, const std::string&, const std::int16_t*,
                                        const std::vector<hsize_t>&, int, int);
template Id write_numbers<std::int32_t>(hid_t, const std::string&, const std::int32_t*,
                                        const std::vector<hsize_t>&, int, int);
template Id write_numbers<std::int64_t>(hid_t, const std::string&, const std::int64_t*,
                                        const std::vector<hsize_t>&, int, int);

Id write_bools(hid_t loc, const std::string& name, const std::vector<std::uint8_t>& values,
               int compression) {
  Id type = bool_enum_type();
  const std::vector<hsize_t> shape{values.size()};
  Id dcpl = creation_properties(shape, 1, compression);
  Id dset = create_dataset(loc, name, type, shape, dcpl);
  if (!values.empty()) {
    std::vector<std::int8_t> v(values.begin(), values.end());
    for (auto& x : v) x = x != 0;
    check(H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()),
          "cannot write " + name_of(dset));
  }
  return dset;
}

Id write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values,
                 int compression) {
  Id type = utf8_vlen_type();
  const std::vector<hsize_t> shape{values.size()};
  Id dcpl = creation_properties(shape, sizeof(char*), compression);
  Id dset = create_dataset(loc, name, type, shape, dcpl);
  if (!values.empty()) {
    std::vector<const char*> ptrs;
    ptrs.reserve(values.size());
    for (const auto& v : values) ptrs.push_back(v.c_str());
    check(H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()),
          "cannot write " + name_of(dset));
  }
  return dset;
}

Id write_scalar_string(hid_t loc, const std::string& name, const std::string& value) {
  Id type = utf8_vlen_type();
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
  Id dset = create_dataset(loc, name, type, {}, dcpl);
  const char* p = value.c_str();
  check(H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p), "cannot write " + name_of(dset));
  return dset;
}

template <class T>
Id write_scalar(hid_t loc, const std::string& name, T value) {
  return write_numbers<T>(loc, name, &value, {}, 0);
}

template Id write_scalar<double>(hid_t, const std::string&, double);
template Id write_scalar<std::int64_t>(hid_t, const std::string&, std::int64_t);

Id write_scalar_bool(hid_t loc, const std::string& name, bool value) {
  Id type = bool_enum_type();
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
  Id dset = create_dataset(loc, name, type, {}, dcpl);
  const std::int8_t v = value ? 1 : 0;
  check(H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v), "cannot write " + name_of(dset));
  return dset;
}

}  // namespace cellvae::h5

namespace cellvae::h5 {

CsrMatrix read_compressed(hid_t group, std::int64_t n_major, std::int64_t n_minor,
                          const char* major, bool& sorted, int threads) {
  const std::string where = name_of(group);
  if (n_major < 0 || n_minor < 0) throw Failure(where + " has a negative shape");
  if (n_minor > INT32_MAX) throw Failure(where + " has more than 2^31 - 1 columns");
  CsrMatrix m;
  m.n_rows = n_major;
  m.n_cols = n_minor;
  for (const char* name : {"data", "indices", "indptr"})
    if (!exists(group, name)) throw Failure(where + " has no '" + name + "' dataset");
  {
    Id d = open(group, "indptr");
    read_into(d, m.indptr);
  }
  const auto n_ptr = static_cast<std::int64_t>(m.indptr.size());
  if (n_ptr != n_major + 1)
    throw Failure(where + "/indptr has " + std::to_string(n_ptr) + " entries, expected " +
                  std::to_string(n_major + 1) + " (" + major + "s + 1)");
  {
    Id d = open(group, "data");
    read_into(d, m.data, threads);
  }
  {
    Id d = open(group, "indices");
    read_into(d, m.indices, threads);
  }
  if (m.indices.size() != m.data.size())
    throw Failure(where + ": indices (" + std::to_string(m.indices.size()) + ") and data (" +
                  std::to_string(m.data.size()) + ") differ in length");
  if (m.indptr.front() != 0) throw Failure(where + "/indptr must start at 0");
  if (m.indptr.back() != m.nnz())
    throw Failure(where + "/indptr ends at " + std::to_string(m.indptr.back()) + " but there are " +
                  std::to_string(m.nnz()) + " stored values");
  sorted = true;
  const std::int32_t* idx = m.indices.data();
  for (std::int64_t r = 0; r < n_major; ++r) {
    const std::int64_t b = m.indptr[r], e = m.indptr[r + 1];
    if (e < b)
      throw Failure(where + "/indptr must be non-decreasing (" + major + " " + std::to_string(r) +
                    ")");
    std::int32_t prev = -1;
    bool ok = true;
    for (std::int64_t k = b; k < e; ++k) {
      const std::int32_t c = idx[k];
      ok &= c >= 0 && c < n_minor;
      sorted &= c > prev;
      prev = c;
    }
    if (!ok) {
      for (std::int64_t k = b; k < e; ++k)
        if (idx[k] < 0 || idx[k] >= n_minor)
          throw Failure(where + "/indices: index " + std::to_string(idx[k]) + " out of range [0, " +
                        std::to_string(n_minor) + ") in " + major + " " + std::to_string(r));
    }
  }
  return m;
}

}  // namespace cellvae::h5
