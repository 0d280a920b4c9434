// Codes for categorical cell annotations: cell-type labels (CVAE conditions) and batches
// (scVI's s). A model stores its encoder so that codes mean the same categories when the
// model is applied to other data or generates cells of a named category.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cellvae/data_frame.hpp"

namespace cellvae {

/// An ordered list of category names; a category's code is its position.
struct CategoryEncoder {
  std::vector<std::string> categories;

  std::int32_t size() const { return static_cast<std::int32_t>(categories.size()); }

  /// From a column: a categorical column keeps its categories in stored order (unused
  /// categories included, so codes match the file's codes); string, integer and boolean
  /// columns give their distinct values as text in order of first appearance. Missing values
  /// (categorical code -1, empty strings) are skipped here and rejected by encode().
  /// Throws InputError for number columns ("labels must be categorical, ...") and when no
  /// category is found.
  static CategoryEncoder from_column(const Column& column);

  /// From per-row labels, categories in order of first appearance. Empty strings are missing
  /// values and are skipped. Throws InputError when no category is found.
  static CategoryEncoder from_labels(const std::vector<std::string>& labels);

  /// The code of a category name; throws InputError "unknown label 'X'; known: a, b, c".
  std::int32_t code(std::string_view label) const;
  /// The category name of a code; throws InputError when out of range.
  const std::string& name(std::int32_t code) const;

  /// Codes of per-row labels. Throws InputError for an unknown label (as code()) and for a
  /// missing value (empty string), naming the row, e.g. "missing label in row 17".
  std::vector<std::int32_t> encode(const std::vector<std::string>& labels) const;

  /// Codes of a column's rows by category name (the column's own codes may be in another
  /// order). row_names, when given (obs index), name rows in errors: "missing value in column
  /// 'cell_type' at row 17 (cell 'AAAC-1')". Throws InputError for number columns, missing
  /// values and unknown categories.
  std::vector<std::int32_t> encode(const Column& column,
                                   const std::vector<std::string>& row_names = {}) const;

  /// Throws InputError when a category is empty or repeated (for encoders read from files).
  void validate() const;
};

}  // namespace cellvae
