#include "cellvae/pipeline/model_dir.hpp"

#include <fstream>

#include "cellvae/atomic_output.hpp"
#include "cellvae/count_check.hpp"
#include "cellvae/error.hpp"

namespace cellvae::pipeline {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kFormatName = "cellvae-model";

void write_json(const json& j, const fs::path& path) {
  std::ofstream f(path);
  f << j.dump(2) << '\n';
  if (!f) throw InputError("cannot write " + path.string());
}

json read_json(const fs::path& path) {
  std::ifstream f(path);
  if (!f) throw InputError("cannot read " + path.string());
  try {
    return json::parse(f);
  } catch (const json::exception& e) {
    throw InputError(path.string() + " is not valid JSON: " + e.what());
  }
}

fs::path require_file(const fs::path& dir, const char* name) {
  const fs::path p = dir / name;
  if (!fs::is_regular_file(p))
    throw InputError(dir.string() + " is not a complete cellvae model directory: no " + name);
  return p;
}

}  // namespace

void save_model_dir(const TrainedModel& model, const fs::path& dir, bool force) {
  if (fs::exists(dir) && !force)
    throw InputError("output " + dir.string() + " exists; use --force to replace it");
  AtomicOutput out(dir);
  const fs::path tmp = out.temp_path();
  fs::create_directories(tmp);
  write_json(json{{"format", kFormatName},
                  {"version", kModelFormatVersion},
                  {"cellvae_version", CELLVAE_VERSION},
                  {"fit", fit_options_to_json(model.options)},
                  {"data", model.data_info}},
             tmp / "model.json");
  write_preprocess_state(model.preprocess, tmp / "preprocess.json");
  torch::save(model.module, (tmp / "weights.pt").string());
  {
    torch::serialize::OutputArchive archive;
    archive.write("latent_mean", model.training.latent_mean);
    if (model.training.latent_variance.defined())
      archive.write("latent_variance", model.training.latent_variance);
    archive.write("labels", model.training.labels);
    archive.write("batches", model.training.batches);
    archive.write("library", model.training.library);
    archive.save_to((tmp / "training.pt").string());
  }
  train::write_history_csv(model.history, tmp / "history.csv");
  write_json(train::history_to_json(model.history), tmp / "history.json");
  out.commit();
}

TrainedModel load_model_dir(const fs::path& dir) {
  if (!fs::is_directory(dir))
    throw InputError("model directory " + dir.string() + " does not exist");
  const json meta = read_json(require_file(dir, "model.json"));
  if (!meta.is_object() || meta.value("format", "") != kFormatName)
    throw InputError(dir.string() + "/model.json is not a cellvae model description");
  const int version = meta.value("version", 0);
  if (version < 1 || version > kModelFormatVersion)
    throw InputError(dir.string() + ": model format version " + std::to_string(version) +
                     " is not supported (this cellvae reads up to " +
                     std::to_string(kModelFormatVersion) + ")");
  if (!meta.contains("fit") || !meta.contains("data"))
    throw InputError(dir.string() + "/model.json: missing key 'fit' or 'data'");

  TrainedModel m;
  const json& fit_json = meta.at("fit");
  m.options = apply_fit_json(FitOptions{}, fit_json);
  if (fit_json.contains("preset") && fit_json.at("preset").is_string())
    m.options.preset = parse_preset(fit_json.at("preset").get<std::string>());
  m.data_info = meta.at("data");
  m.preprocess = read_preprocess_state(require_file(dir, "preprocess.json"));
  if (static_cast<std::int64_t>(m.preprocess.genes.size()) != m.options.model.n_genes)
    throw InputError(dir.string() + ": preprocess.json has " +
                     std::to_string(m.preprocess.genes.size()) + " genes but the model " +
                     std::to_string(m.options.model.n_genes));

  m.module = model::Vae(m.options.model);
  try {
    torch::load(m.module, require_file(dir, "weights.pt").string());
    torch::serialize::InputArchive archive;
    archive.load_from(require_file(dir, "training.pt").string());
    archive.read("latent_mean", m.training.latent_mean);
    // Optional: older model directories lack it (generation then fits means only).
    torch::Tensor variance;
    if (archive.try_read("latent_variance", variance)) m.training.latent_variance = variance;
    archive.read("labels", m.training.labels);
    archive.read("batches", m.training.batches);
    archive.read("library", m.training.library);
  } catch (const c10::Error& e) {
    throw InputError(dir.string() + ": cannot load the weights (" +
                     std::string(e.what_without_backtrace()) + ")");
  }
  m.module->eval();
  m.history = train::history_from_json(read_json(require_file(dir, "history.json")));
  return m;
}

data::CellData cell_data_for(const TrainedModel& model, const Dataset& data,
                             const ApplyStateOptions& options) {
  ApplyStateResult applied = apply_preprocess_state(model.preprocess, data, options);
  const model::ModelConfig& cfg = model.options.model;
  check_counts(applied.data,
               {!model::is_count_likelihood(cfg.likelihood) || model.options.allow_non_integer});
  data::CellData cells;
  cells.counts = std::move(applied.data.X);
  if (cfg.n_labels > 0) cells.labels = std::move(applied.label_codes);
  if (cfg.n_batches > 0) cells.batches = std::move(applied.batch_codes);
  cells.transform = model.preprocess.input_transform;
  return cells;
}

}  // namespace cellvae::pipeline
