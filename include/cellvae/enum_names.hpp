// The one table between a closed choice (an enum class) and its lower-case names, as the CLI,
// JSON files and bindings spell them. Each enum defines one constexpr table and its
// to_string/parse functions call these two helpers.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cellvae/error.hpp"

namespace cellvae {

template <class Enum, std::size_t N>
using NameTable = std::array<std::pair<Enum, std::string_view>, N>;

/// The name of `value` in `table` ("?" if absent, which a complete table never is).
template <class Enum, std::size_t N>
std::string_view name_of(const NameTable<Enum, N>& table, Enum value) {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  return "?";
}

/// The value named `name`; throws InputError "unknown <what> 'x'; known: a, b, c".
template <class Enum, std::size_t N>
Enum parse_name(const NameTable<Enum, N>& table, std::string_view name, const char* what) {
  for (const auto& [v, n] : table)
    if (n == name) return v;
  std::vector<std::string> names;
  for (const auto& entry : table) names.emplace_back(entry.second);
  throw InputError("unknown " + std::string(what) + " '" + std::string(name) +
                   "'; known: " + join_names(names));
}

}  // namespace cellvae
