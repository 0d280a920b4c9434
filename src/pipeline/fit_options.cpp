#include "cellvae/pipeline/fit_options.hpp"

#include <nlohmann/json.hpp>

#include "cellvae/enum_names.hpp"
#include "cellvae/error.hpp"

namespace cellvae::pipeline {
namespace {

using nlohmann::json;

constexpr NameTable<Preset, 3> kPresetNames{{
    {Preset::vaexprs, "vaexprs"},
    {Preset::scvi, "scvi"},
    {Preset::gmvae, "gmvae"},
}};

// Every key of `patch` must exist in `base` (a typo in a config file is an error, not a silent
// default); objects are merged recursively, other values replace.
void merge_known(json& base, const json& patch, const std::string& path) {
  if (!patch.is_object())
    throw InputError("config: '" + (path.empty() ? std::string("(top)") : path) +
                     "' must be an object");
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string key_path = path.empty() ? it.key() : path + "." + it.key();
    auto target = base.find(it.key());
    if (target == base.end()) {
      std::vector<std::string> known;
      for (auto k = base.begin(); k != base.end(); ++k) known.push_back(k.key());
      throw InputError("config: unknown key '" + key_path + "'; known here: " +
                       join_names(known));
    }
    if (target->is_object() && it.value().is_object())
      merge_known(*target, it.value(), key_path);
    else
      *target = it.value();
  }
}

template <class T>
T read_value(const json& j, const char* key) {
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    throw InputError(std::string("config: key '") + key + "' has the wrong type");
  }
}

}  // namespace

std::string_view to_string(Preset preset) { return name_of(kPresetNames, preset); }
Preset parse_preset(std::string_view name) { return parse_name(kPresetNames, name, "preset"); }

FitOptions preset_options(Preset preset) {
  FitOptions o;
  o.preset = preset;
  model::ModelConfig& m = o.model;
  train::TrainOptions& t = o.train;
  switch (preset) {
    case Preset::vaexprs:
      m.input = model::InputKind::identity;
      m.likelihood = model::LikelihoodKind::bernoulli;
      m.library = model::LibraryKind::none;
      m.encoder_hidden = {256};
      m.decoder_hidden = {256};
      m.activation = model::Activation::relu;
      m.norm = model::Normalization::none;
      m.dropout = 0.0;
      m.latent_dim = 2;
      m.variance_epsilon = 0.0;
      t.batch_size = 32;
      t.adam_epsilon = 1e-7;  // keras's default
      t.kl_weight = 1.0;
      break;
    case Preset::scvi:
      // ModelConfig's defaults are scVI's.
      t.adam_epsilon = 0.01;
      t.weight_decay = 1e-6;
      t.batch_size = 128;
      t.kl_warmup_epochs = 400;
      break;
    case Preset::gmvae:
      m.likelihood = model::LikelihoodKind::nb;
      m.prior = model::PriorKind::gaussian_mixture;
      m.encoder_hidden = {128, 128};
      m.decoder_hidden = {128, 128};
      m.latent_dim = 10;
      t.batch_size = 128;
      o.condition_on_labels = false;
      o.components_from_labels = true;
      break;
  }
  return o;
}

json fit_options_to_json(const FitOptions& o) {
  return json{{"preset", o.preset ? json(std::string(to_string(*o.preset))) : json(nullptr)},
              {"preprocess", preprocess_options_to_json(o.preprocess)},
              {"model", model::model_config_to_json(o.model)},
              {"training", train::train_options_to_json(o.train)},
              {"condition_on_labels", o.condition_on_labels},
              {"use_batches", o.use_batches},
              {"components_from_labels", o.components_from_labels},
              {"validation_fraction", o.validation_fraction},
              {"allow_non_integer", o.allow_non_integer}};
}

FitOptions apply_fit_json(FitOptions base, const json& patch) {
  json merged = fit_options_to_json(base);
  json without_preset = patch;
  if (without_preset.is_object()) without_preset.erase("preset");
  merge_known(merged, without_preset, "");
  FitOptions o;
  o.preset = base.preset;
  o.preprocess = preprocess_options_from_json(merged.at("preprocess"), "config");
  o.model = model::model_config_from_json(merged.at("model"));
  o.train = train::train_options_from_json(merged.at("training"));
  o.condition_on_labels = read_value<bool>(merged, "condition_on_labels");
  o.use_batches = read_value<bool>(merged, "use_batches");
  o.components_from_labels = read_value<bool>(merged, "components_from_labels");
  o.validation_fraction = read_value<double>(merged, "validation_fraction");
  o.allow_non_integer = read_value<bool>(merged, "allow_non_integer");
  return o;
}

}  // namespace cellvae::pipeline
