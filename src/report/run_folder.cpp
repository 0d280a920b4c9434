// gather_run_report: reads an augment run folder into the report's sections and draws the
// figures.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <unordered_map>

#include "cellvae/error.hpp"
#include "cellvae/io.hpp"
#include "cellvae/plot/architecture.hpp"
#include "cellvae/random.hpp"
#include "report_sections.hpp"

namespace cellvae::report {

namespace fs = std::filesystem;
using nlohmann::json;

const Section* RunReport::section(const std::string& id) const {
  for (const auto& s : sections)
    if (s.id == id) return &s;
  return nullptr;
}

namespace detail {

std::string png_bytes(const plot::Figure& figure) {
  // Figure::save writes files only; a uniquely named temporary file is removed however this
  // ends.
  struct Temp {
    fs::path path;
    ~Temp() {
      std::error_code ec;
      fs::remove(path, ec);
    }
  } temp;
  std::random_device rd;
  temp.path = fs::temp_directory_path() /
              ("cellvae-report-" + std::to_string(rd()) + std::to_string(rd()) + ".png");
  figure.save(temp.path, plot::ImageFormat::png);
  std::ifstream in(temp.path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in) throw InputError("cannot read back the figure written to " + temp.path.string());
  return bytes.str();
}

}  // namespace detail

namespace {

json read_json(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw InputError("cannot open " + file.string());
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw InputError(file.string() + " is not valid JSON: " + e.what());
  }
}

/// `object[key]` when `object` is an object holding it, else a null json.
const json& at(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  const auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

/// A JSON value as table text.
std::string text_of(const json& v) {
  if (v.is_null()) return "—";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
  if (v.is_number()) {
    // Six significant digits: options are short numbers, and a BIC needs no more.
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v.get<double>());
    return buf;
  }
  if (v.is_object()) {
    std::string s;
    for (auto it = v.begin(); it != v.end(); ++it)
      s += (s.empty() ? "" : " · ") + it.key() + " " + text_of(it.value());
    return s;
  }
  if (v.is_array()) {
    std::string s;
    for (const auto& e : v) s += (s.empty() ? "" : ", ") + text_of(e);
    return "[" + s + "]";
  }
  return v.dump();
}

/// Seconds as "42 s" or "3 min 5 s".
std::string duration(const json& v) {
  if (!v.is_number()) return "—";
  const double s = v.get<double>();
  if (s < 60) return format_number(std::round(s * 10) / 10) + " s";
  const auto whole = static_cast<std::int64_t>(std::round(s));
  return std::to_string(whole / 60) + " min " + std::to_string(whole % 60) + " s";
}

/// Every leaf of a JSON object as "a.b.c" = value rows, in the document's order; an array of
/// objects (the generator's fitted mixtures) gives a row per element, "a[1]".
void flatten(const json& v, const std::string& prefix, std::vector<Field>& out) {
  if (v.is_object() && !v.empty()) {
    for (auto it = v.begin(); it != v.end(); ++it)
      flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    return;
  }
  if (v.is_array() && !v.empty() && v.front().is_object()) {
    for (std::size_t i = 0; i < v.size(); ++i)
      out.push_back({prefix + "[" + std::to_string(i + 1) + "]", text_of(v[i])});
    return;
  }
  out.push_back({prefix, text_of(v)});
}

/// The category names of preprocess.json's "labels" or "batches", or empty.
std::vector<std::string> categories(const json& preprocess, const char* which) {
  std::vector<std::string> names;
  for (const auto& c : at(at(preprocess, which), "categories"))
    if (c.is_string()) names.push_back(c.get<std::string>());
  return names;
}

Section summary_section(const fs::path& run_dir, const json& augment, const json& model,
                        const json& preprocess) {
  Section s;
  s.id = "summary";
  s.title = "Run summary";
  s.summary = "What went in and what came out of `cellvae augment`.";
  const json& data = at(model, "data");
  const json& pre = at(at(model, "fit"), "preprocess");
  const json& cfg = at(at(model, "fit"), "model");
  FieldTable t;
  t.rows.push_back({"run folder", run_dir.string()});
  t.rows.push_back({"data", text_of(at(augment, "data"))});
  t.rows.push_back({"augmented output", text_of(at(augment, "output"))});
  t.rows.push_back({"real cells", text_of(at(augment, "n_real")) + " (" +
                                      text_of(at(augment, "n_train")) + " to fit, " +
                                      text_of(at(augment, "n_test")) + " held out for testing)"});
  t.rows.push_back({"generated cells", text_of(at(augment, "n_generated"))});
  std::string genes = text_of(at(cfg, "n_genes")) + " modelled";
  if (const json& kept = at(preprocess, "genes_after_filter"); kept.is_number())
    genes += " (" + text_of(kept) + " after filtering)";
  t.rows.push_back({"genes", genes});
  for (const auto& [key, which] : {std::pair{"label_key", "labels"}, {"batch_key", "batches"}}) {
    const json& column = at(pre, key);
    if (!column.is_string()) {
      t.rows.push_back({which, "none"});
      continue;
    }
    const auto names = categories(preprocess, which);
    t.rows.push_back({which, "'" + column.get<std::string>() +
                                 "': " + std::to_string(names.size()) + " (" +
                                 join_names(names, 12) + ")"});
  }
  std::string training =
      text_of(at(data, "epochs")) + " epochs, model from epoch " + text_of(at(data, "best_epoch"));
  if (at(data, "stopped_early") == true) training += " (stopped early)";
  training += "; " + text_of(at(data, "n_train")) + " training and " +
              text_of(at(data, "n_validation")) + " validation cells; " +
              duration(at(data, "seconds"));
  t.rows.push_back({"training", training});
  const json& gen = at(augment, "generate");
  t.rows.push_back({"generated values", text_of(at(gen, "values")) + " (sampler " +
                                            text_of(at(gen, "sampler")) + ", seed " +
                                            text_of(at(gen, "seed")) + ")"});
  t.rows.push_back({"run time", duration(at(augment, "seconds"))});
  t.rows.push_back(
      {"cellvae", text_of(at(model, "cellvae_version")) + "; " + text_of(at(data, "runtime"))});
  s.tables.push_back(std::move(t));
  return s;
}

Section configuration_section(const json& augment, const json& model) {
  Section s;
  s.id = "configuration";
  s.title = "Configuration";
  s.summary =
      "Every option of the run as resolved (model.json \"fit\" and augment.json); \"—\" is an "
      "option left unset.";
  const json& fit = at(model, "fit");
  for (const auto& [key, caption] :
       {std::pair{"preprocess", "Preprocessing"}, {"model", "Model"}, {"training", "Training"}}) {
    FieldTable t;
    t.caption = caption;
    flatten(at(fit, key), "", t.rows);
    s.tables.push_back(std::move(t));
  }
  FieldTable other;
  other.caption = "Fit and generation";
  if (fit.is_object())
    for (auto it = fit.begin(); it != fit.end(); ++it)
      if (it.key() != "preprocess" && it.key() != "model" && it.key() != "training")
        flatten(it.value(), it.key(), other.rows);
  other.rows.push_back({"test_fraction", text_of(at(augment, "test_fraction"))});
  flatten(at(augment, "generate"), "generate", other.rows);
  s.tables.push_back(std::move(other));
  return s;
}

Section training_section(const fs::path& model_dir) {
  Section s;
  s.id = "training";
  s.title = "Training curves";
  s.summary =
      "Loss per epoch on the training cells (solid) and the validation cells (dashed): the "
      "total loss, the reconstruction error −log p(x|z) and KL(z). Curves that flatten mean "
      "training has converged; validation rising while training falls means overfitting. The "
      "dotted line marks the epoch whose weights the model keeps.";
  const fs::path file = model_dir / "history.json";
  if (!fs::exists(file)) {
    s.notes.push_back("No training history: " + file.string() + " is missing.");
    return s;
  }
  try {
    const train::History history = train::history_from_json(read_json(file));
    plot::HistoryPlotOptions options;
    options.title = "";
    s.images.push_back({"image/png", detail::png_bytes(plot::history_figure(history, options)),
                        "Training and validation loss per epoch"});
  } catch (const InputError& e) {
    s.notes.push_back(std::string("No training curves: ") + e.what());
  } catch (const json::exception& e) {
    s.notes.push_back("No training curves: " + file.string() + " is not a training history (" +
                      e.what() + ")");
  }
  return s;
}

/// "PCA", "UMAP": the method's name as a title uses it.
std::string method_title(plot::EmbeddingMethod method) {
  return std::string(plot::display_name(method));
}

/// Up to `n` of `rows`, drawn without replacement, in their original order.
std::vector<std::int64_t> draw(std::vector<std::int64_t> rows, std::int64_t n, Rng& rng) {
  if (static_cast<std::int64_t>(rows.size()) <= n) return rows;
  rng.shuffle(rows);
  rows.resize(static_cast<std::size_t>(n));
  std::sort(rows.begin(), rows.end());
  return rows;
}

/// The augmented output to read: the option, else augment.json's "output" as written, else a
/// file of that name beside the run folder. Empty when none exists; `tried` lists the places.
fs::path find_cells_file(const fs::path& run_dir, const json& augment, const ReportOptions& options,
                         std::vector<std::string>& tried) {
  std::vector<fs::path> candidates;
  if (options.cells) {
    candidates.push_back(*options.cells);
  } else if (const json& out = at(augment, "output"); out.is_string()) {
    const fs::path p = out.get<std::string>();
    candidates.push_back(p);
    if (p.is_relative()) candidates.push_back(run_dir.parent_path() / p.filename());
  }
  for (const auto& p : candidates) {
    tried.push_back(p.string());
    if (fs::exists(p)) return p;
  }
  return {};
}

/// Held-out real and generated cells of the augmented output, subsampled.
struct CellSamples {
  Dataset real, generated;
  std::string real_name;  ///< "held-out real" or "real" (no cells were held out)
  std::vector<std::string> notes;
};

CellSamples sample_cells(const Dataset& all, const std::vector<std::string>& test_names,
                         const ReportOptions& options) {
  CellSamples out;
  std::vector<std::int64_t> real_rows, generated_rows;
  const auto n = static_cast<std::int64_t>(all.obs.n_rows());
  if (const Column* origin_column = all.obs.find("origin")) {
    const Column& origin = *origin_column;
    for (std::int64_t i = 0; i < n; ++i) {
      const std::string o = origin.text(static_cast<std::size_t>(i));
      (o == "generated" ? generated_rows : real_rows).push_back(i);
    }
  } else {
    // CSV and 10x outputs keep obs in a sidecar table; augment names new cells generated_N.
    for (std::int64_t i = 0; i < n; ++i)
      (all.obs.index[static_cast<std::size_t>(i)].rfind("generated_", 0) == 0 ? generated_rows
                                                                              : real_rows)
          .push_back(i);
    out.notes.push_back(
        "The output has no 'origin' column; generated cells were told apart by their names "
        "(generated_N).");
  }
  if (!test_names.empty()) {
    const std::set<std::string> held_out(test_names.begin(), test_names.end());
    std::vector<std::int64_t> test_rows;
    for (const auto r : real_rows)
      if (held_out.count(all.obs.index[static_cast<std::size_t>(r)])) test_rows.push_back(r);
    real_rows = std::move(test_rows);
    out.real_name = "held-out real";
  } else {
    out.real_name = "real";
    out.notes.push_back(
        "No cells were held out of training (--test-fraction 0): the real cells shown are the "
        "training cells, which flatters the model.");
  }
  Rng rng(options.seed);
  const auto before_real = real_rows.size(), before_generated = generated_rows.size();
  real_rows = draw(std::move(real_rows), options.max_cells, rng);
  generated_rows = draw(std::move(generated_rows), options.max_cells, rng);
  if (real_rows.size() < before_real || generated_rows.size() < before_generated)
    out.notes.push_back("Drawn at random for the figures: " + std::to_string(real_rows.size()) +
                        " of " + std::to_string(before_real) + " " + out.real_name + " and " +
                        std::to_string(generated_rows.size()) + " of " +
                        std::to_string(before_generated) + " generated cells.");
  const auto genes = iota_indices(all.n_genes());
  out.real = subset(all, real_rows, genes);
  out.generated = subset(all, generated_rows, genes);
  return out;
}

/// The embedding and QC sections from the augmented output.
std::pair<Section, Section> cell_sections(const fs::path& run_dir, const json& augment,
                                          const json& model, const ReportOptions& options,
                                          std::vector<std::string>& warnings) {
  Section emb;
  emb.id = "embedding";
  emb.title = "Embedding";
  emb.summary =
      "Held-out real cells and generated cells in one " + method_title(options.embedding_method) +
      " computed on both together. Generated cells should cover the same regions as the real "
      "ones, in the same proportions: a region with real cells only is a cell state the model "
      "missed, one with generated cells only is something it made up.";
  Section qc;
  qc.id = "qc";
  qc.title = "Quality control";
  qc.summary =
      "Held-out real against generated cells, from counts on the modelled genes: library sizes "
      "and per-cell zero fractions (distributions should overlap), and per gene the variance "
      "and the fraction of zeros against the mean (the clouds should coincide; the grey lines "
      "are what Poisson counts would give).";
  auto note_both = [&](const std::string& note) {
    emb.notes.push_back(note);
    qc.notes.push_back(note);
  };

  std::vector<std::string> tried;
  const fs::path file = find_cells_file(run_dir, augment, options, tried);
  if (file.empty()) {
    const std::string note = "The augmented output was not found (looked for " + join_names(tried) +
                             "); `cellvae report --cells FILE` points to it.";
    note_both(note);
    warnings.push_back(note);
    return {emb, qc};
  }
  std::vector<std::string> test_names;
  {
    std::ifstream in(run_dir / "test_cells.txt");
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) test_names.push_back(line);
  }
  CellSamples cells;
  try {
    cells = sample_cells(read_dataset(file), test_names, options);
  } catch (const InputError& e) {
    const std::string note = "The augmented output could not be read: " + std::string(e.what());
    note_both(note);
    warnings.push_back(note);
    return {emb, qc};
  }
  for (const auto& n : cells.notes) note_both(n);
  if (cells.real.n_cells() == 0 || cells.generated.n_cells() == 0) {
    note_both(file.string() + " holds " + std::to_string(cells.real.n_cells()) + " " +
              cells.real_name + " and " + std::to_string(cells.generated.n_cells()) +
              " generated cells: nothing to compare.");
    return {emb, qc};
  }

  plot::EmbeddingPlotOptions eo;
  eo.method = options.embedding_method;
  eo.seed = options.seed;
  eo.real_name = cells.real_name;
  try {
    const auto fig = plot::embedding_figure(cells.real, &cells.generated, eo);
    for (const auto& w : fig.warnings) warnings.push_back("embedding: " + w);
    emb.images.push_back({"image/png", detail::png_bytes(fig.figure),
                          "Embedding of " + cells.real_name +
                              " and generated cells, coloured "
                              "by origin"});
    // The same cells coloured by label, when the model knows labels and both sets carry them.
    const json& label = at(at(at(model, "fit"), "preprocess"), "label_key");
    if (label.is_string() && cells.real.obs.find(label.get<std::string>()) &&
        cells.generated.obs.find(label.get<std::string>())) {
      eo.color_by = label.get<std::string>();
      eo.title = method_title(options.embedding_method) + " coloured by " + eo.color_by;
      const auto by_label = plot::embedding_figure(cells.real, &cells.generated, eo);
      emb.images.push_back({"image/png", detail::png_bytes(by_label.figure),
                            "The same embedding coloured by " + eo.color_by});
    }
  } catch (const InputError& e) {
    emb.notes.push_back(std::string("No embedding: ") + e.what());
  }

  plot::QcPlotOptions qo;
  qo.title = cells.real_name == "real" ? "Real vs generated" : "Held-out real vs generated";
  qo.real_name = cells.real_name;
  try {
    const auto fig = plot::qc_figure(cells.real, cells.generated, qo);
    qc.images.push_back({"image/png", detail::png_bytes(fig.figure),
                         "Library size, zero fraction, mean-variance and mean-zero-fraction of " +
                             cells.real_name + " and generated cells"});
  } catch (const InputError& e) {
    qc.notes.push_back(std::string("No QC plots: ") + e.what());
  }
  return {emb, qc};
}

Section metrics_section(const fs::path& run_dir, const json& augment,
                        std::vector<std::string>& warnings) {
  Section s;
  s.id = "metrics";
  s.title = "Evaluation metrics";
  const fs::path file = run_dir / "metrics.json";
  if (!fs::exists(file)) {
    const json& n_test = at(augment, "n_test");
    if (n_test.is_number() && n_test.get<double>() < 10)
      s.notes.push_back("No metrics: only " + text_of(n_test) +
                        " cells were held out of training, and scoring needs at least 10 (raise "
                        "--test-fraction).");
    else
      s.notes.push_back(
          "No metrics: the run was made with `--no-evaluate` (`cellvae evaluate` "
          "scores generated cells afterwards).");
    return s;
  }
  const json metrics = read_json(file);
  s.metrics = detail::metric_rows(metrics, /*control_is_training=*/true);
  const json& gen = at(metrics, "generated");
  const json& ctl = at(metrics, "control");
  s.summary = "Generated cells scored against " + text_of(at(gen, "n_real")) +
              " held-out real cells (" + text_of(at(gen, "n_other")) + " generated cells, " +
              text_of(at(metrics, "n_shared_genes")) + " genes).";
  if (ctl.is_object()) {
    s.summary +=
        " The control column is the same comparison with " + text_of(at(ctl, "n_other")) +
        " of the real cells the model was trained on in place of the generated ones: two "
        "samples of the same real data, so it shows what scores \"as good as real\" reach "
        "here, sampling noise included. A generated value marked ✓ is at least as close to the "
        "ideal as the control's.";
    s.notes.push_back(
        "Memorisation has no control value: the control cells are the training cells "
        "themselves, so their distance to the nearest training cell is zero by construction.");
  } else {
    s.notes.push_back("metrics.json has no real-vs-real control.");
  }
  for (const auto& w : at(metrics, "warnings"))
    if (w.is_string()) {
      s.notes.push_back("Warning from the evaluation: " + w.get<std::string>());
      warnings.push_back("metrics: " + w.get<std::string>());
    }
  return s;
}

}  // namespace

RunReport gather_run_report(const fs::path& run_dir, const ReportOptions& options) {
  if (options.max_cells < 10)
    throw InputError("report: max_cells must be >= 10 (got " + std::to_string(options.max_cells) +
                     ")");
  const std::string not_run = run_dir.string() +
                              " is not a cellvae run folder (from 'cellvae "
                              "augment'): ";
  if (!fs::is_directory(run_dir)) throw InputError(not_run + "no such folder");
  if (!fs::exists(run_dir / "augment.json")) throw InputError(not_run + "no augment.json");
  const fs::path model_dir = run_dir / "model";
  if (!fs::exists(model_dir / "model.json")) throw InputError(not_run + "no model/model.json");
  const json augment = read_json(run_dir / "augment.json");
  const json model = read_json(model_dir / "model.json");
  json preprocess;
  if (fs::exists(model_dir / "preprocess.json"))
    preprocess = read_json(model_dir / "preprocess.json");

  RunReport report;
  report.run_dir = fs::absolute(run_dir).lexically_normal();
  fs::path name = report.run_dir.filename();
  if (name.empty()) name = report.run_dir.parent_path().filename();  // "/x/run/" ends in ""
  report.title = options.title.empty() ? "cellvae run " + name.string() : options.title;

  report.sections.push_back(summary_section(report.run_dir, augment, model, preprocess));
  report.sections.push_back(configuration_section(augment, model));
  try {
    report.sections.push_back(
        detail::architecture_section(plot::read_model_architecture(model_dir)));
  } catch (const InputError& e) {
    Section s;
    s.id = "architecture";
    s.title = "Architecture";
    s.notes.push_back(std::string("The model configuration could not be read: ") + e.what());
    report.sections.push_back(std::move(s));
  }
  report.sections.push_back(training_section(model_dir));
  auto [embedding, qc] = cell_sections(run_dir, augment, model, options, report.warnings);
  report.sections.push_back(std::move(embedding));
  report.sections.push_back(std::move(qc));
  report.sections.push_back(metrics_section(run_dir, augment, report.warnings));
  return report;
}

}  // namespace cellvae::report
