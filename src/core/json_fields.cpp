#include "cellvae/json_fields.hpp"

#include <limits>

namespace cellvae {

using nlohmann::json;

JsonFields::JsonFields(const json& object, std::string what)
    : object_(object), what_(std::move(what)) {
  if (!object_.is_object()) throw InputError(what_ + " must be a JSON object");
}

void JsonFields::require_known_keys(const json& known) const {
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (known.contains(it.key())) continue;
    std::vector<std::string> names;
    for (auto k = known.begin(); k != known.end(); ++k) names.push_back(k.key());
    throw InputError(what_ + ": unknown key '" + it.key() + "'; known: " +
                     join_names(names, names.size()));
  }
}

const json* JsonFields::find(const char* key) const {
  auto it = object_.find(key);
  return it == object_.end() ? nullptr : &*it;
}

void JsonFields::bad(const char* key, const char* expected) const {
  throw InputError(what_ + ": key '" + key + "' must be " + expected);
}

std::int64_t JsonFields::to_int64(const json& v, const char* key) const {
  if (!v.is_number_integer()) bad(key, "an integer");
  if (v.is_number_unsigned() &&
      v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    bad(key, "an integer in range");
  return v.get<std::int64_t>();
}

void JsonFields::number(const char* key, double& out) const {
  if (const json* v = find(key)) {
    if (!v->is_number()) bad(key, "a number");
    out = v->get<double>();
  }
}

void JsonFields::integer(const char* key, std::int64_t& out) const {
  if (const json* v = find(key)) out = to_int64(*v, key);
}

void JsonFields::integers(const char* key, std::vector<std::int64_t>& out) const {
  if (const json* v = find(key)) {
    if (!v->is_array()) bad(key, "an array of integers");
    std::vector<std::int64_t> values;
    for (const json& e : *v) {
      if (!e.is_number_integer()) bad(key, "an array of integers");
      values.push_back(to_int64(e, key));
    }
    out = std::move(values);
  }
}

void JsonFields::boolean(const char* key, bool& out) const {
  if (const json* v = find(key)) {
    if (!v->is_boolean()) bad(key, "true or false");
    out = v->get<bool>();
  }
}

void JsonFields::seed(const char* key, std::uint64_t& out) const {
  if (const json* v = find(key)) {
    if (v->is_number_unsigned())
      out = v->get<std::uint64_t>();
    else if (v->is_number_integer() && v->get<std::int64_t>() >= 0)
      out = static_cast<std::uint64_t>(v->get<std::int64_t>());
    else
      bad(key, "a non-negative integer");
  }
}

void JsonFields::optional_integer(const char* key, std::optional<std::int64_t>& out) const {
  if (const json* v = find(key)) {
    if (v->is_null()) {
      out.reset();
      return;
    }
    out = to_int64(*v, key);
  }
}

void JsonFields::optional_number(const char* key, std::optional<double>& out) const {
  if (const json* v = find(key)) {
    if (v->is_null()) {
      out.reset();
      return;
    }
    if (!v->is_number()) bad(key, "a number");
    out = v->get<double>();
  }
}

}  // namespace cellvae
