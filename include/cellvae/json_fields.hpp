// Reading an options struct out of a JSON object, with errors that name the key: the one
// reader behind model_config_from_json, train_options_from_json and --config files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cellvae/error.hpp"

namespace cellvae {

/// Each getter reads `key` into `out` when the key is present and leaves `out` alone when it
/// is absent; a value of the wrong type throws InputError "<what>: key 'k' must be <type>".
class JsonFields {
 public:
  /// Throws InputError "<what> must be a JSON object" unless `object` is one. Both arguments
  /// must outlive the reader.
  JsonFields(const nlohmann::json& object, std::string what);

  /// Throws InputError "<what>: unknown key 'k'; known: a, b" for a key of the object that is
  /// not a key of `known` (typically the defaults written as JSON).
  void require_known_keys(const nlohmann::json& known) const;

  void number(const char* key, double& out) const;
  void integer(const char* key, std::int64_t& out) const;
  void integers(const char* key, std::vector<std::int64_t>& out) const;
  void boolean(const char* key, bool& out) const;
  /// A non-negative integer up to 2^64 - 1.
  void seed(const char* key, std::uint64_t& out) const;
  /// null resets `out`.
  void optional_integer(const char* key, std::optional<std::int64_t>& out) const;
  void optional_number(const char* key, std::optional<double>& out) const;
  /// A string turned into a value by `parse`, whose InputError is prefixed with the key.
  template <class Parse, class T>
  void name(const char* key, Parse parse, T& out) const {
    if (const nlohmann::json* v = find(key)) {
      if (!v->is_string()) bad(key, "a string");
      try {
        out = parse(v->template get<std::string>());
      } catch (const InputError& e) {
        throw InputError(what_ + ": key '" + key + "': " + e.what());
      }
    }
  }

  /// Throws InputError "<what>: key 'k' must be <expected>".
  [[noreturn]] void bad(const char* key, const char* expected) const;

 private:
  const nlohmann::json* find(const char* key) const;
  std::int64_t to_int64(const nlohmann::json& v, const char* key) const;

  const nlohmann::json& object_;
  std::string what_;
};

}  // namespace cellvae
