#include "cellvae/data_frame.hpp"

#include <cmath>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "cellvae/error.hpp"

namespace cellvae {

std::size_t Column::size() const {
  switch (kind) {
    case ColumnKind::categorical: return codes.size();
    case ColumnKind::string: return strings.size();
    case ColumnKind::number: return numbers.size();
    case ColumnKind::integer: return integers.size();
    case ColumnKind::boolean: return booleans.size();
  }
  return 0;
}

std::string Column::text(std::size_t i) const {
  switch (kind) {
    case ColumnKind::categorical:
      return codes[i] < 0 ? std::string() : categories.at(static_cast<std::size_t>(codes[i]));
    case ColumnKind::string: return strings[i];
    case ColumnKind::number: {
      if (std::isnan(numbers[i])) return "nan";
      std::ostringstream os;
      os.precision(17);
      os << numbers[i];
      return os.str();
    }
    case ColumnKind::integer: return std::to_string(integers[i]);
    case ColumnKind::boolean: return booleans[i] ? "true" : "false";
  }
  return {};
}

namespace {
template <class T>
std::vector<T> take_values(const std::vector<T>& v, const std::vector<std::int64_t>& rows) {
  std::vector<T> out;
  out.reserve(rows.size());
  for (std::int64_t r : rows) out.push_back(v.at(static_cast<std::size_t>(r)));
  return out;
}
}  // namespace

Column Column::take(const std::vector<std::int64_t>& rows) const {
  Column c;
  c.name = name;
  c.kind = kind;
  c.categories = categories;
  c.ordered = ordered;
  switch (kind) {
    case ColumnKind::categorical: c.codes = take_values(codes, rows); break;
    case ColumnKind::string: c.strings = take_values(strings, rows); break;
    case ColumnKind::number: c.numbers = take_values(numbers, rows); break;
    case ColumnKind::integer: c.integers = take_values(integers, rows); break;
    case ColumnKind::boolean: c.booleans = take_values(booleans, rows); break;
  }
  return c;
}

Column Column::make_categorical(std::string name, std::vector<std::string> categories,
                                std::vector<std::int32_t> codes, bool ordered) {
  for (std::size_t i = 0; i < codes.size(); ++i)
    if (codes[i] < -1 || codes[i] >= static_cast<std::int32_t>(categories.size()))
      throw InputError("categorical column '" + name + "': code " + std::to_string(codes[i]) +
                       " at row " + std::to_string(i) + " is not a category (there are " +
                       std::to_string(categories.size()) + ")");
  Column c;
  c.name = std::move(name);
  c.kind = ColumnKind::categorical;
  c.categories = std::move(categories);
  c.codes = std::move(codes);
  c.ordered = ordered;
  return c;
}

Column Column::categorical_from_labels(std::string name, const std::vector<std::string>& labels) {
  std::vector<std::string> categories;
  std::unordered_map<std::string, std::int32_t> code_of;
  std::vector<std::int32_t> codes;
  codes.reserve(labels.size());
  for (const auto& l : labels) {
    auto [it, inserted] = code_of.emplace(l, static_cast<std::int32_t>(categories.size()));
    if (inserted) categories.push_back(l);
    codes.push_back(it->second);
  }
  return make_categorical(std::move(name), std::move(categories), std::move(codes));
}

Column Column::make_string(std::string name, std::vector<std::string> values) {
  Column c;
  c.name = std::move(name);
  c.kind = ColumnKind::string;
  c.strings = std::move(values);
  return c;
}

Column Column::make_number(std::string name, std::vector<double> values) {
  Column c;
  c.name = std::move(name);
  c.kind = ColumnKind::number;
  c.numbers = std::move(values);
  return c;
}

Column Column::make_integer(std::string name, std::vector<std::int64_t> values) {
  Column c;
  c.name = std::move(name);
  c.kind = ColumnKind::integer;
  c.integers = std::move(values);
  return c;
}

Column Column::make_boolean(std::string name, std::vector<std::uint8_t> values) {
  Column c;
  c.name = std::move(name);
  c.kind = ColumnKind::boolean;
  c.booleans = std::move(values);
  return c;
}

const char* to_string(ColumnKind kind) {
  switch (kind) {
    case ColumnKind::categorical: return "categorical";
    case ColumnKind::string: return "string";
    case ColumnKind::number: return "number";
    case ColumnKind::integer: return "integer";
    case ColumnKind::boolean: return "boolean";
  }
  return "?";
}

const Column* DataFrame::find(std::string_view name) const {
  for (const auto& c : columns)
    if (c.name == name) return &c;
  return nullptr;
}

const Column& DataFrame::at(std::string_view name, std::string_view where) const {
  if (const Column* c = find(name)) return *c;
  throw InputError("column '" + std::string(name) + "' not in " + std::string(where) +
                   "; available: " + join_names(column_names()));
}

void DataFrame::set(Column column) {
  if (column.size() != n_rows())
    throw InputError("column '" + column.name + "' has " + std::to_string(column.size()) +
                     " values for " + std::to_string(n_rows()) + " rows");
  for (auto& c : columns) {
    if (c.name == column.name) {
      c = std::move(column);
      return;
    }
  }
  columns.push_back(std::move(column));
}

DataFrame DataFrame::take(const std::vector<std::int64_t>& rows) const {
  DataFrame out;
  out.index = take_values(index, rows);
  out.columns.reserve(columns.size());
  for (const auto& c : columns) out.columns.push_back(c.take(rows));
  return out;
}

std::vector<std::string> DataFrame::column_names() const {
  std::vector<std::string> names;
  for (const auto& c : columns) names.push_back(c.name);
  return names;
}

std::size_t make_names_unique(std::vector<std::string>& names) {
  std::unordered_map<std::string, std::size_t> seen;
  for (const auto& n : names) ++seen[n];
  bool any_duplicate = false;
  for (const auto& [n, count] : seen) any_duplicate = any_duplicate || count > 1;
  if (!any_duplicate) return 0;

  std::unordered_set<std::string> taken(names.begin(), names.end());
  std::unordered_map<std::string, std::size_t> next_suffix;
  std::unordered_set<std::string> first_seen;
  std::size_t changed = 0;
  for (auto& n : names) {
    if (first_seen.insert(n).second) continue;  // first occurrence keeps its name
    std::size_t& k = next_suffix[n];
    std::string candidate;
    do {
      candidate = n + "-" + std::to_string(++k);
    } while (taken.count(candidate));
    taken.insert(candidate);
    n = candidate;
    ++changed;
  }
  return changed;
}

}  // namespace cellvae
