#include "cellvae/preprocess/preprocess_state.hpp"

#include <fstream>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "cellvae/atomic_output.hpp"
#include "cellvae/error.hpp"

namespace cellvae {
namespace {

using nlohmann::json;

constexpr const char* kFormatName = "cellvae-preprocess-state";

// Readers that name the full key path ("options.filter.min_cells_per_gene") in errors.
struct Reader {
  const json& node;
  std::string path;                           // "" at the top level
  std::string what = "preprocessing state";  // names the file kind in errors

  std::string key_path(const std::string& key) const {
    return path.empty() ? key : path + "." + key;
  }

  const json& get(const std::string& key) const {
    if (!node.is_object())
      throw InputError(what + ": '" + (path.empty() ? std::string("(top)") : path) +
                       "' must be an object");
    auto it = node.find(key);
    if (it == node.end())
      throw InputError(what + ": missing key '" + key_path(key) + "'");
    return *it;
  }
  [[noreturn]] void bad(const std::string& key, const char* expected) const {
    throw InputError(what + ": key '" + key_path(key) + "' must be " + expected);
  }
  Reader child(const std::string& key) const {
    const json& j = get(key);
    if (!j.is_object()) bad(key, "an object");
    return Reader{j, key_path(key), what};
  }
  bool is_null(const std::string& key) const { return get(key).is_null(); }
  std::int64_t integer(const std::string& key) const {
    const json& j = get(key);
    if (!j.is_number_integer()) bad(key, "an integer");
    return j.get<std::int64_t>();
  }
  double number(const std::string& key) const {
    const json& j = get(key);
    if (!j.is_number()) bad(key, "a number");
    return j.get<double>();
  }
  std::string string(const std::string& key) const {
    const json& j = get(key);
    if (!j.is_string()) bad(key, "a string");
    return j.get<std::string>();
  }
  std::vector<std::string> strings(const std::string& key) const {
    const json& j = get(key);
    if (!j.is_array()) bad(key, "an array of strings");
    std::vector<std::string> out;
    out.reserve(j.size());
    for (const auto& e : j) {
      if (!e.is_string()) bad(key, "an array of strings");
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  std::vector<float> floats(const std::string& key) const {
    const json& j = get(key);
    if (!j.is_array()) bad(key, "an array of numbers");
    std::vector<float> out;
    out.reserve(j.size());
    for (const auto& e : j) {
      if (!e.is_number()) bad(key, "an array of numbers");
      out.push_back(static_cast<float>(e.get<double>()));
    }
    return out;
  }
};

json optional_string(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

json encoded_to_json(const std::optional<EncodedColumn>& e) {
  if (!e) return nullptr;
  return json{{"key", e->key}, {"categories", e->encoder.categories}};
}

std::optional<EncodedColumn> encoded_from_json(const Reader& top, const std::string& key) {
  if (top.is_null(key)) return std::nullopt;
  Reader r = top.child(key);
  EncodedColumn e;
  e.key = r.string("key");
  e.encoder.categories = r.strings("categories");
  try {
    e.encoder.validate();
  } catch (const InputError& err) {
    throw InputError("preprocessing state: '" + r.path + "': " + err.what());
  }
  return e;
}

}  // namespace

json preprocess_options_to_json(const PreprocessOptions& o) {
  json filter{{"min_cells_per_gene", o.filter.min_cells_per_gene},
              {"min_genes_per_cell", o.filter.min_genes_per_cell},
              {"min_counts_per_cell", o.filter.min_counts_per_cell},
              {"max_counts_per_cell",
               o.filter.max_counts_per_cell ? json(*o.filter.max_counts_per_cell) : json(nullptr)}};
  return json{{"filter", filter},
              {"n_top_genes", o.n_top_genes ? json(*o.n_top_genes) : json(nullptr)},
              {"hvg_span", o.hvg_span},
              {"batch_key", optional_string(o.batch_key)},
              {"label_key", optional_string(o.label_key)}};
}

namespace {

PreprocessOptions options_from_reader(const Reader& opts) {
  PreprocessOptions o;
  Reader filt = opts.child("filter");
  o.filter.min_cells_per_gene = filt.integer("min_cells_per_gene");
  o.filter.min_genes_per_cell = filt.integer("min_genes_per_cell");
  o.filter.min_counts_per_cell = filt.number("min_counts_per_cell");
  if (!filt.is_null("max_counts_per_cell"))
    o.filter.max_counts_per_cell = filt.number("max_counts_per_cell");
  if (!opts.is_null("n_top_genes")) o.n_top_genes = opts.integer("n_top_genes");
  o.hvg_span = opts.number("hvg_span");
  if (!opts.is_null("batch_key")) o.batch_key = opts.string("batch_key");
  if (!opts.is_null("label_key")) o.label_key = opts.string("label_key");
  return o;
}

}  // namespace

PreprocessOptions preprocess_options_from_json(const json& j, const std::string& context) {
  return options_from_reader(Reader{j, "", context});
}

json preprocess_state_to_json(const PreprocessState& state) {
  json options = preprocess_options_to_json(state.options);
  json transform = nullptr;
  if (state.input_transform)
    transform = json{{"reference_library", state.input_transform->reference_library},
                     {"min", state.input_transform->min_max.min},
                     {"max", state.input_transform->min_max.max}};
  return json{{"format", kFormatName},
              {"version", PreprocessState::kFormatVersion},
              {"options", options},
              {"genes_after_filter", state.genes_after_filter},
              {"genes", state.genes},
              {"labels", encoded_to_json(state.labels)},
              {"batches", encoded_to_json(state.batches)},
              {"input_transform", transform}};
}

PreprocessState preprocess_state_from_json(const json& j) {
  Reader top{j, ""};
  if (top.string("format") != kFormatName)
    throw InputError("preprocessing state: 'format' is '" + top.string("format") + "', expected '" +
                     kFormatName + "'");
  const std::int64_t version = top.integer("version");
  if (version < 1 || version > PreprocessState::kFormatVersion)
    throw InputError("preprocessing state: version " + std::to_string(version) +
                     " is not supported (this cellvae reads up to version " +
                     std::to_string(PreprocessState::kFormatVersion) + ")");
  PreprocessState s;
  s.options = options_from_reader(top.child("options"));

  s.genes_after_filter = top.strings("genes_after_filter");
  s.genes = top.strings("genes");
  std::unordered_set<std::string> kept(s.genes_after_filter.begin(), s.genes_after_filter.end());
  for (const auto& g : s.genes)
    if (!kept.count(g))
      throw InputError("preprocessing state: gene '" + g +
                       "' is in 'genes' but not in 'genes_after_filter'");
  s.labels = encoded_from_json(top, "labels");
  s.batches = encoded_from_json(top, "batches");

  if (!top.is_null("input_transform")) {
    Reader t = top.child("input_transform");
    InputTransform it;
    it.reference_library = t.number("reference_library");
    if (!(it.reference_library > 0))
      throw InputError("preprocessing state: 'input_transform.reference_library' must be > 0");
    it.min_max.min = t.floats("min");
    it.min_max.max = t.floats("max");
    try {
      it.min_max.validate();
    } catch (const InputError& err) {
      throw InputError(std::string("preprocessing state: 'input_transform': ") + err.what());
    }
    if (it.min_max.min.size() != s.genes.size())
      throw InputError("preprocessing state: 'input_transform.min' has " +
                       std::to_string(it.min_max.min.size()) + " values for " +
                       std::to_string(s.genes.size()) + " genes");
    s.input_transform = std::move(it);
  }
  return s;
}

void write_preprocess_state(const PreprocessState& state, const std::filesystem::path& path) {
  AtomicOutput out(path);
  {
    std::ofstream f(out.temp_path(), std::ios::binary);
    if (!f) throw InputError("cannot write preprocessing state to '" + path.string() + "'");
    f << preprocess_state_to_json(state).dump(2) << '\n';
    if (!f) throw InputError("cannot write preprocessing state to '" + path.string() + "'");
  }
  out.commit();
}

PreprocessState read_preprocess_state(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError("cannot read preprocessing state '" + path.string() + "'");
  json j;
  try {
    j = json::parse(f);
  } catch (const json::exception& e) {
    throw InputError("preprocessing state '" + path.string() + "' is not valid JSON: " + e.what());
  }
  try {
    return preprocess_state_from_json(j);
  } catch (const InputError& e) {
    throw InputError(path.string() + ": " + e.what());
  }
}

ApplyStateResult apply_preprocess_state(const PreprocessState& state, const Dataset& data,
                                        const ApplyStateOptions& options) {
  std::unordered_map<std::string, std::int64_t> column_of;
  column_of.reserve(data.var.index.size());
  for (std::size_t g = 0; g < data.var.index.size(); ++g)
    column_of.emplace(data.var.index[g], static_cast<std::int64_t>(g));  // first occurrence
  std::vector<std::int64_t> cols;
  cols.reserve(state.genes.size());
  std::vector<std::string> missing;
  for (const auto& g : state.genes) {
    auto it = column_of.find(g);
    if (it == column_of.end())
      missing.push_back(g);
    else
      cols.push_back(it->second);
  }
  const std::string where = data.source.empty() ? "the data set" : "'" + data.source + "'";
  if (!missing.empty())
    throw InputError(std::to_string(missing.size()) + " of the model's " +
                     std::to_string(state.genes.size()) + " genes are missing from " + where +
                     ": " + join_names(missing, 10));

  ApplyStateResult result;
  auto encode = [&](const std::optional<EncodedColumn>& enc, bool required,
                    std::vector<std::int32_t>& codes) {
    if (!enc) return;
    const Column* col = data.obs.find(enc->key);
    if (!col) {
      if (required) data.obs.at(enc->key, "obs of " + where);  // throws, listing the columns
      return;
    }
    codes = enc->encoder.encode(*col, data.obs.index);
  };
  encode(state.labels, options.require_labels, result.label_codes);
  encode(state.batches, options.require_batches, result.batch_codes);
  result.data = subset(data, iota_indices(data.n_cells()), cols);
  return result;
}

}  // namespace cellvae
