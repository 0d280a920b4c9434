// Internal helpers over the HDF5 C API shared by the h5ad and 10x readers and the h5ad writer:
// RAII ownership of hid_t, typed whole-dataset reads with HDF5's own type conversion, string
// arrays (variable and fixed length), attributes, and chunked gzip writes.
//
// Helpers throw h5::Failure with a message naming the HDF5 object ("cannot read /obs/x: ...")
// but not the file; the public entry points catch it and rethrow InputError with the file name
// (see guarded), so that helpers need not carry the path around.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "cellvae/csr_matrix.hpp"
#include "cellvae/error.hpp"

namespace cellvae::h5 {

/// An HDF5 problem without the file name; converted to InputError at the API boundary.
class Failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Serial HDF5 is not thread-safe: every public entry point holds this lock while it calls
/// HDF5. Taking it also turns off HDF5's automatic error-stack printing (once per process).
std::unique_lock<std::recursive_mutex> lock_library();

/// Runs `body` holding the library lock, turning a Failure into InputError "<what> in <path>".
template <class F>
auto guarded(const std::filesystem::path& path, F&& body) -> decltype(body()) {
  auto lock = lock_library();
  try {
    return body();
  } catch (const Failure& e) {
    throw InputError(std::string(e.what()) + " in " + path.string());
  }
}

/// Owns one HDF5 identifier of any kind and closes it with the matching H5*close.
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : id_(id) {}
  ~Id() { reset(); }
  Id(Id&& other) noexcept : id_(other.id_) { other.id_ = H5I_INVALID_HID; }
  Id& operator=(Id&& other) noexcept;
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;

  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }  // NOLINT: used wherever the C API wants an hid_t
  bool valid() const { return id_ >= 0; }
  void reset();
  /// Gives up ownership (to close it explicitly and check the result).
  hid_t release() {
    const hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// ---- types ------------------------------------------------------------------------------------

/// The native memory type of T (float, double, int8/16/32/64, uint8).
template <class T>
hid_t native() {
  if constexpr (std::is_same_v<T, float>) {
    return H5T_NATIVE_FLOAT;
  } else if constexpr (std::is_same_v<T, double>) {
    return H5T_NATIVE_DOUBLE;
  } else if constexpr (std::is_same_v<T, std::int8_t>) {
    return H5T_NATIVE_INT8;
  } else if constexpr (std::is_same_v<T, std::int16_t>) {
    return H5T_NATIVE_INT16;
  } else if constexpr (std::is_same_v<T, std::int32_t>) {
    return H5T_NATIVE_INT32;
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    return H5T_NATIVE_INT64;
  } else if constexpr (std::is_same_v<T, std::uint8_t>) {
    return H5T_NATIVE_UINT8;
  } else {
    static_assert(sizeof(T) == 0, "no HDF5 type for T");
  }
}

/// The little-endian file type written for T (float, double, int8/16/32/64), as numpy/h5py
/// write them on every platform anndata runs on.
template <class T>
hid_t file_type() {
  if constexpr (std::is_same_v<T, float>) {
    return H5T_IEEE_F32LE;
  } else if constexpr (std::is_same_v<T, double>) {
    return H5T_IEEE_F64LE;
  } else if constexpr (std::is_same_v<T, std::int8_t>) {
    return H5T_STD_I8LE;
  } else if constexpr (std::is_same_v<T, std::int16_t>) {
    return H5T_STD_I16LE;
  } else if constexpr (std::is_same_v<T, std::int32_t>) {
    return H5T_STD_I32LE;
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    return H5T_STD_I64LE;
  } else {
    static_assert(sizeof(T) == 0, "no HDF5 type for T");
  }
}

// ---- files and objects ------------------------------------------------------------------------

/// Opens an existing file read-only. Throws InputError "file not found: P" or "P is not a
/// readable HDF5 file (truncated or corrupt?)".
Id open_file_read(const std::filesystem::path& path);
/// Creates (truncates) a file for writing; throws InputError "cannot create P".
Id create_file(const std::filesystem::path& path);

/// The absolute HDF5 path of an open object ("/obs/cell_type"), for messages.
std::string name_of(hid_t obj);
/// True when `path` (relative to `loc`, may contain '/') names an existing object.
bool exists(hid_t loc, const std::string& path);
/// Opens a group or dataset; throws Failure when missing.
Id open(hid_t loc, const std::string& path);
bool is_group(hid_t obj);
bool is_dataset(hid_t obj);
/// Names of the members of a group, in name order (as h5py lists them).
std::vector<std::string> member_names(hid_t group);

// ---- attributes -------------------------------------------------------------------------------

bool has_attr(hid_t obj, const char* name);
/// A string attribute (scalar or one-element, fixed or variable length); nullopt when absent.
/// Throws Failure when it exists but is not a string.
std::optional<std::string> string_attr(hid_t obj, const char* name);
/// A 1-D string array attribute (e.g. column-order); empty when absent, empty, or a zero-length
/// array of another type (anndata stores an empty column list as an empty float array).
std::vector<std::string> string_array_attr(hid_t obj, const char* name);
/// An integer (or numpy bool) array attribute, converted to int64; empty when absent.
std::vector<std::int64_t> int_array_attr(hid_t obj, const char* name);
/// A scalar bool/integer attribute (numpy bool is an HDF5 enum); nullopt when absent.
std::optional<bool> bool_attr(hid_t obj, const char* name);
/// Dereferences an object-reference attribute (anndata 0.7 categories); invalid Id when the
/// attribute is absent or not a reference.
Id deref_attr(hid_t obj, const char* name);

// ---- reading datasets -------------------------------------------------------------------------

/// What the values of a dataset or attribute are, from its HDF5 type class.
enum class ValueClass { floating, integer, boolean, string, reference, compound, other };
ValueClass value_class(hid_t type);
/// Value class of a dataset's file type.
ValueClass dataset_class(hid_t dset);
/// Extent of each dimension (empty for a scalar).
std::vector<hsize_t> dims(hid_t dset);
/// Product of dims (1 for a scalar).
std::size_t element_count(hid_t dset);

/// Reads the whole dataset (any rank, row-major) into `out`, converting integer and float
/// types to T with HDF5's conversion (one H5Dread straight into out.data()). Numpy bools (HDF5
/// enums over int8) are read as 0/1. Throws Failure for strings and other non-numeric types.
/// With threads != 1 (0 = all hardware threads, at most 16), a large 1-D chunked dataset
/// whose only filter is gzip has its chunks read and inflated in parallel instead.
template <class T>
void read_into(hid_t dset, std::vector<T>& out, int threads = 1);

template <class T>
std::vector<T> read_numbers(hid_t dset) {
  std::vector<T> out;
  read_into(dset, out);
  return out;
}

/// Reads rows [row0, row0 + n_rows) of a 2-D dataset as float into `out` (n_rows * n_cols).
void read_float_rows(hid_t dset, hsize_t row0, hsize_t n_rows, hsize_t n_cols, float* out);

/// Reads a string dataset (variable or fixed length, ASCII or UTF-8; fixed-length values are
/// cut at the first NUL or trailing spaces by their padding rule).
std::vector<std::string> read_strings(hid_t dset);
/// Reads one field of a compound (record) dataset as strings or numbers.
std::vector<std::string> read_compound_strings(hid_t dset, const std::string& field);
template <class T>
std::vector<T> read_compound_numbers(hid_t dset, const std::string& field);
/// Field names and types (owned copies) of a compound dataset.
struct CompoundField {
  std::string name;
  Id type;
};
std::vector<CompoundField> compound_fields(hid_t dset);

/// Reads the compressed-sparse buffers of `group` (datasets data, indices, indptr) as an
/// n_major x n_minor CSR matrix: values as float, indices as int32, indptr as int64, each read
/// straight into the matrix. Checks the structure (indptr length, start, end and order; index
/// range) and throws Failure naming the dataset; `major` names the compressed axis in those
/// messages ("row", "column", "barcode"). Sets `sorted` to whether the minor indices of every
/// major slice are strictly increasing (callers canonicalize when they are not). `threads`
/// as in read_into, for data and indices.
CsrMatrix read_compressed(hid_t group, std::int64_t n_major, std::int64_t n_minor,
                          const char* major, bool& sorted, int threads);

// ---- writing ----------------------------------------------------------------------------------

Id create_group(hid_t loc, const std::string& name);
void set_string_attr(hid_t obj, const char* name, const std::string& value);
/// A 1-D variable-length UTF-8 string array attribute; an empty vector gives a zero-length
/// array (not a null dataspace), which h5py reads as an empty array.
void set_string_array_attr(hid_t obj, const char* name, const std::vector<std::string>& values);
void set_int64_array_attr(hid_t obj, const char* name, const std::vector<std::int64_t>& values);
/// A scalar numpy-style bool (HDF5 enum over int8: FALSE = 0, TRUE = 1).
void set_bool_attr(hid_t obj, const char* name, bool value);
/// encoding-type and encoding-version attributes of the anndata specification.
void set_encoding(hid_t obj, const char* type, const char* version);

/// Writes a numeric dataset of shape `shape` (1-D or 2-D). With compression > 0 and enough
/// elements it is chunked (about 1 MiB per chunk, whole rows for 2-D) and gzip-compressed.
/// With threads != 1 (0 = all hardware threads, at most 16), the chunks of a large 1-D
/// dataset are compressed in parallel (with zlib at the same level, as HDF5's filter does).
template <class T>
Id write_numbers(hid_t loc, const std::string& name, const T* values,
                 const std::vector<hsize_t>& shape, int compression, int threads = 1);
/// Writes 0/1 bytes as a numpy bool array (HDF5 enum over int8).
Id write_bools(hid_t loc, const std::string& name, const std::vector<std::uint8_t>& values,
               int compression);
/// Writes variable-length UTF-8 strings (what h5py writes for numpy object/str arrays).
Id write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values,
                 int compression);
Id write_scalar_string(hid_t loc, const std::string& name, const std::string& value);
template <class T>
Id write_scalar(hid_t loc, const std::string& name, T value);
Id write_scalar_bool(hid_t loc, const std::string& name, bool value);

}  // namespace cellvae::h5
