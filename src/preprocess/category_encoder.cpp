#include "cellvae/preprocess/category_encoder.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "cellvae/error.hpp"

namespace cellvae {
namespace {

void reject_numbers(const Column& column) {
  if (column.kind == ColumnKind::number)
    throw InputError("column '" + column.name +
                     "' holds numbers; labels and batches must be a categorical, string, integer "
                     "or boolean column");
}

std::string row_label(std::size_t row, const std::vector<std::string>& row_names) {
  std::string s = "row " + std::to_string(row);
  if (row < row_names.size()) s += " (cell '" + row_names[row] + "')";
  return s;
}

std::unordered_map<std::string, std::int32_t> index_of(const std::vector<std::string>& cats) {
  std::unordered_map<std::string, std::int32_t> map;
  for (std::size_t i = 0; i < cats.size(); ++i) map.emplace(cats[i], static_cast<std::int32_t>(i));
  return map;
}

[[noreturn]] void throw_unknown(std::string_view label, const std::vector<std::string>& known,
                                const std::string& where) {
  throw InputError("unknown label '" + std::string(label) + "'" + where +
                   "; known: " + join_names(known));
}

}  // namespace

CategoryEncoder CategoryEncoder::from_column(const Column& column) {
  reject_numbers(column);
  CategoryEncoder enc;
  if (column.kind == ColumnKind::categorical) {
    enc.categories = column.categories;
  } else {
    std::vector<std::string> labels(column.size());
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = column.text(i);
    std::unordered_set<std::string> seen;
    for (const auto& l : labels)
      if (!l.empty() && seen.insert(l).second) enc.categories.push_back(l);
  }
  if (enc.categories.empty())
    throw InputError("column '" + column.name + "' has no categories (every value is missing)");
  enc.validate();
  return enc;
}

CategoryEncoder CategoryEncoder::from_labels(const std::vector<std::string>& labels) {
  CategoryEncoder enc;
  std::unordered_set<std::string> seen;
  for (const auto& l : labels)
    if (!l.empty() && seen.insert(l).second) enc.categories.push_back(l);
  if (enc.categories.empty()) throw InputError("no labels given (every value is missing)");
  return enc;
}

std::int32_t CategoryEncoder::code(std::string_view label) const {
  auto it = std::find(categories.begin(), categories.end(), label);
  if (it == categories.end()) throw_unknown(label, categories, "");
  return static_cast<std::int32_t>(it - categories.begin());
}

const std::string& CategoryEncoder::name(std::int32_t code) const {
  if (code < 0 || code >= size())
    throw InputError("category code " + std::to_string(code) + " out of range (" +
                     std::to_string(size()) + " categories)");
  return categories[static_cast<std::size_t>(code)];
}

std::vector<std::int32_t> CategoryEncoder::encode(const std::vector<std::string>& labels) const {
  const auto map = index_of(categories);
  std::vector<std::int32_t> codes(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i].empty()) throw InputError("missing label in row " + std::to_string(i));
    auto it = map.find(labels[i]);
    if (it == map.end()) throw_unknown(labels[i], categories, " in row " + std::to_string(i));
    codes[i] = it->second;
  }
  return codes;
}

std::vector<std::int32_t> CategoryEncoder::encode(const Column& column,
                                                  const std::vector<std::string>& row_names) const {
  reject_numbers(column);
  const auto map = index_of(categories);
  const std::size_t n = column.size();
  std::vector<std::int32_t> codes(n);
  auto missing = [&](std::size_t i) {
    return InputError("missing value in column '" + column.name + "' at " +
                      row_label(i, row_names));
  };
  if (column.kind == ColumnKind::categorical) {
    // Translate the column's own codes once per category, not once per row.
    std::vector<std::int32_t> translate(column.categories.size(), -1);
    for (std::size_t c = 0; c < column.categories.size(); ++c) {
      auto it = map.find(column.categories[c]);
      if (it != map.end()) translate[c] = it->second;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const std::int32_t own = column.codes[i];
      if (own < 0) throw missing(i);
      if (static_cast<std::size_t>(own) >= translate.size())
        throw InputError("column '" + column.name + "' has code " + std::to_string(own) + " at " +
                         row_label(i, row_names) + " but only " + std::to_string(translate.size()) +
                         " categories");
      if (translate[static_cast<std::size_t>(own)] < 0)
        throw_unknown(column.categories[static_cast<std::size_t>(own)], categories,
                      " in column '" + column.name + "' at " + row_label(i, row_names));
      codes[i] = translate[static_cast<std::size_t>(own)];
    }
    return codes;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::string label = column.text(i);
    if (label.empty()) throw missing(i);
    auto it = map.find(label);
    if (it == map.end())
      throw_unknown(label, categories,
                    " in column '" + column.name + "' at " + row_label(i, row_names));
    codes[i] = it->second;
  }
  return codes;
}

void CategoryEncoder::validate() const {
  std::unordered_set<std::string> seen;
  for (const auto& c : categories) {
    if (c.empty()) throw InputError("category names must not be empty");
    if (!seen.insert(c).second) throw InputError("category '" + c + "' appears twice");
  }
}

}  // namespace cellvae
