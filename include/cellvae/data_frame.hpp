// Per-cell (obs) and per-gene (var) annotation tables, as anndata's obs/var dataframes hold them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cellvae {

/// The type of a column; each maps to one anndata encoding.
enum class ColumnKind {
  categorical,  ///< codes into `categories` (-1 = missing), anndata "categorical"
  string,       ///< free text per row, anndata "string-array"
  number,       ///< floating point (NaN = missing), anndata "array" of float64
  integer,      ///< 64-bit integers, anndata "array" of int64
  boolean,      ///< true/false, anndata "array" of bool
};

/// One named column. Exactly the vector matching `kind` is filled (plus `categories` for
/// categorical columns); use the factory functions to build one consistently.
struct Column {
  std::string name;
  ColumnKind kind = ColumnKind::string;
  std::vector<std::string> categories;  ///< categorical: category names, in order
  bool ordered = false;                 ///< categorical: whether the order is meaningful
  std::vector<std::int32_t> codes;      ///< categorical: index into categories, -1 = missing
  std::vector<std::string> strings;     ///< string
  std::vector<double> numbers;          ///< number
  std::vector<std::int64_t> integers;   ///< integer
  std::vector<std::uint8_t> booleans;   ///< boolean (0/1)

  std::size_t size() const;
  /// The value of row i as text ("" for a missing categorical, "nan" for a missing number).
  std::string text(std::size_t i) const;
  /// The column restricted to `rows`, in that order.
  Column take(const std::vector<std::int64_t>& rows) const;

  static Column make_categorical(std::string name, std::vector<std::string> categories,
                                 std::vector<std::int32_t> codes, bool ordered = false);
  /// Categorical column from per-row labels; categories in order of first appearance.
  static Column categorical_from_labels(std::string name, const std::vector<std::string>& labels);
  static Column make_string(std::string name, std::vector<std::string> values);
  static Column make_number(std::string name, std::vector<double> values);
  static Column make_integer(std::string name, std::vector<std::int64_t> values);
  static Column make_boolean(std::string name, std::vector<std::uint8_t> values);
};

/// Lower-case name of a column kind, as `cellvae info` prints it.
const char* to_string(ColumnKind kind);

/// A table with one row per cell (obs) or per gene (var): a string index plus columns.
struct DataFrame {
  std::vector<std::string> index;  ///< row names: cell barcodes or gene names
  std::vector<Column> columns;

  std::size_t n_rows() const { return index.size(); }
  /// The column named `name`, or nullptr.
  const Column* find(std::string_view name) const;
  /// The column named `name`; throws InputError "column 'x' not in <where>; available: a, b".
  const Column& at(std::string_view name, std::string_view where = "obs") const;
  /// Adds a column, replacing one of the same name. Its size must equal n_rows().
  void set(Column column);
  /// The rows given, in that order.
  DataFrame take(const std::vector<std::int64_t>& rows) const;
  std::vector<std::string> column_names() const;
};

/// Makes names unique the way anndata's `var_names_make_unique` does: the second occurrence of
/// "X" becomes "X-1", the third "X-2", skipping suffixes already taken. Returns how many names
/// changed (0 when all were unique).
std::size_t make_names_unique(std::vector<std::string>& names);

}  // namespace cellvae
