// `cellvae augment DATA -n N -o OUT`: the one-command main job. Hold out test cells, fit a
// model on the rest, generate N new cells, write real + generated cells, and keep everything
// that explains the result in a run folder (model, held-out cells, metrics, report.html).
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cellvae/analysis/fidelity.hpp"
#include "cellvae/atomic_output.hpp"
#include "cellvae/error.hpp"
#include "cellvae/generate/cell_generator.hpp"
#include "cellvae/generate/ensemble.hpp"
#include "cellvae/pipeline/fit.hpp"
#include "cellvae/pipeline/model_dir.hpp"
#include "cellvae/pipeline/write_generated.hpp"
#include "cellvae/preprocess/category_encoder.hpp"
#include "cellvae/preprocess/split.hpp"
#include "cellvae/report/report.hpp"
#include "cellvae/threads.hpp"
#include "cli_common.hpp"
#include "commands.hpp"
#include "fit_flags.hpp"
#include "generate_flags.hpp"
#include "progress.hpp"

namespace cellvae::cli {
namespace {

void write_text_atomically(const std::filesystem::path& path, const std::string& text) {
  AtomicOutput out(path);
  {
    std::ofstream f(out.temp_path(), std::ios::binary);
    f << text;
    if (!f) throw InputError("cannot write " + path.string());
  }
  out.commit();
}

// The run folder next to OUT: "out/augmented.h5ad" -> "out/augmented_run".
std::filesystem::path default_run_dir(const std::filesystem::path& out) {
  std::filesystem::path p = out;
  if (!p.has_filename()) p = p.parent_path();
  std::string stem = p.filename().string();
  for (const char* ext : {".gz", ".h5ad", ".csv", ".tsv"}) {
    const std::string e(ext);
    if (stem.size() > e.size() && stem.compare(stem.size() - e.size(), e.size(), e) == 0)
      stem.resize(stem.size() - e.size());
  }
  return p.parent_path() / (stem + "_run");
}

// Cells held out for testing, stratified by label when there is one.
SplitResult hold_out(const Dataset& data, const pipeline::FitOptions& fit, double fraction,
                     std::uint64_t seed) {
  SplitOptions split;
  split.validation_fraction = fraction;
  split.seed = seed;
  if (fit.preprocess.label_key) {
    const Column& column = data.obs.at(*fit.preprocess.label_key);
    split.strata = CategoryEncoder::from_column(column).encode(column);
  }
  return split_cells(data.n_cells(), split);
}

}  // namespace

void add_augment_command(CLI::App& app) {
  struct Args {
    std::string in, in_format, out, run_dir;
    ReadOptions read;
    FitFlags fit;
    GenerateFlags gen;
    double test_fraction = 0.1;
    int ensemble = 1;
    bool force = false, quiet = false, no_evaluate = false, no_report = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "augment",
      "The main job: fit DATA, write its cells plus N generated ones, model and metrics");
  cmd->footer(
      "Holds out --test-fraction of the cells (stratified by --label-key), fits a model on the "
      "rest, generates -n cells, writes DATA's cells (origin = real) and the new ones (origin = "
      "generated) to OUTPUT, and keeps the model, the held-out cell names, the fidelity metrics "
      "(generated vs held-out cells), a summary and an HTML report (report.html) in the run "
      "folder.");
  cmd->add_option("DATA", args->in, "count matrix: .h5ad, 10x .h5 or folder, .csv, .tsv")
      ->required();
  cmd->add_option("-o,--output", args->out,
                  "real + generated cells (origin = real | generated): .h5ad, .csv, 10x folder")
      ->required();
  cmd->add_option("--run-dir", args->run_dir,
                  "folder for the model, held-out cells and metrics (default: OUTPUT_run)");
  cmd->add_option("--test-fraction", args->test_fraction,
                  "cells held out of training to score the generated ones (0 = none)")
      ->capture_default_str();
  cmd->add_option("--ensemble", args->ensemble,
                  "fit K models (seeds --seed .. --seed + K - 1) and generate from all of them, "
                  "each drawing 1/K of the cells: closer to real cells, K times the fitting time")
      ->capture_default_str();
  cmd->add_flag("--no-evaluate", args->no_evaluate, "skip the fidelity metrics");
  cmd->add_flag("--no-report", args->no_report,
                "skip the HTML report (RUN_DIR/report.html; 'cellvae report' writes it later)");
  cmd->add_flag("--force", args->force, "replace existing outputs");
  cmd->add_flag("-q,--quiet", args->quiet, "no progress output");
  add_read_flags(cmd, args->read, args->in_format);
  add_fit_flags(cmd, args->fit);
  add_generate_flags(cmd, args->gen, /*with_seed=*/false);
  cmd->callback([args] {
    const auto started = std::chrono::steady_clock::now();
    const pipeline::FitOptions fit_options = resolve_fit_options(args->fit);
    generate::GenerateOptions gen_options = resolve_generate_options(args->gen);
    gen_options.seed = fit_options.train.seed;  // one --seed for the whole run
    if (!(args->test_fraction >= 0 && args->test_fraction < 1))
      throw InputError("--test-fraction must be in [0, 1) (got " +
                       std::to_string(args->test_fraction) + ")");
    if (args->ensemble < 1)
      throw InputError("--ensemble must be >= 1 (got " + std::to_string(args->ensemble) + ")");
    const std::filesystem::path run_dir =
        args->run_dir.empty() ? default_run_dir(args->out) : std::filesystem::path(args->run_dir);
    for (const auto& p : {std::filesystem::path(args->out), run_dir})
      if (std::filesystem::exists(p) && !args->force)
        throw InputError("output " + p.string() + " exists; use --force to replace it");

    const Dataset data = read_input(args->in, args->read, args->in_format);
    print_warnings(data);
    const SplitResult split =
        hold_out(data, fit_options, args->test_fraction, fit_options.train.seed);
    const Dataset train = subset(data, split.train, iota_indices(data.n_genes()));
    const Dataset test = subset(data, split.validation, iota_indices(data.n_genes()));
    if (!args->quiet)
      std::cerr << "augment: " << train.n_cells() << " cells to fit, " << test.n_cells()
                << " held out for testing\n";

    // The models: run_dir/model, then model_2 .. model_K for an ensemble, seeds counting up.
    std::vector<pipeline::TrainedModel> models;
    models.reserve(static_cast<std::size_t>(args->ensemble));
    std::vector<const pipeline::TrainedModel*> model_ptrs;
    std::vector<std::string> model_names;
    std::filesystem::create_directories(run_dir);
    for (int m = 0; m < args->ensemble; ++m) {
      pipeline::FitOptions member = fit_options;
      member.train.seed += static_cast<std::uint64_t>(m);
      member.model.seed += static_cast<std::uint64_t>(m);
      if (!args->quiet && args->ensemble > 1)
        std::cerr << "augment: model " << m + 1 << " of " << args->ensemble << " (seed "
                  << member.train.seed << ")\n";
      TrainingProgress progress(args->quiet, TrainingProgress::stderr_is_terminal());
      pipeline::FitResult fitted = pipeline::fit(train, nullptr, member, progress.callbacks());
      for (const auto& w : fitted.warnings) std::cerr << "cellvae: warning: " << w << '\n';
      model_names.push_back(m == 0 ? "model" : "model_" + std::to_string(m + 1));
      pipeline::save_model_dir(fitted.model, run_dir / model_names.back(), args->force);
      models.push_back(std::move(fitted.model));
      model_ptrs.push_back(&models.back());
    }

    // Real + generated: every real cell of DATA (test cells included: they are the user's data),
    // then the new ones.
    generate::Ensemble ensemble = generate::make_ensemble(model_ptrs, model_names, gen_options);
    pipeline::GeneratedOutputOptions out;
    out.writer.force = args->force;
    out.real = &data;
    out.member_names = ensemble.names;
    std::string model_paths;  // every model, ';'-separated, as `cellvae generate` writes it
    for (const std::string& name : model_names)
      model_paths +=
          (model_paths.empty() ? "" : ";") + std::filesystem::absolute(run_dir / name).string();
    out.uns["cellvae_model"] = model_paths;
    const std::int64_t n =
        pipeline::write_generated(ensemble.generators, models.front(), args->out, out);

    std::string test_names;
    for (const auto& name : test.obs.index) test_names += name + '\n';
    write_text_atomically(run_dir / "test_cells.txt", test_names);

    nlohmann::json summary{{"data", args->in},
                           {"output", args->out},
                           {"n_real", data.n_cells()},
                           {"n_train", train.n_cells()},
                           {"n_test", test.n_cells()},
                           {"n_generated", n},
                           {"test_fraction", args->test_fraction},
                           {"models", model_names},
                           {"generate", generate::provenance_of(ensemble.generators)}};
    if (!args->no_evaluate && test.n_cells() >= 10) {
      // Score generated cells against the held-out ones; the training cells are the
      // real-vs-real control and the memorisation reference.
      configure_threads(1);
      // The generated cells follow the real ones in the output. Found by position rather than
      // by the 'origin' column, which CSV and 10x outputs keep in a separate obs file.
      const Dataset written = read_dataset(args->out);
      std::vector<std::int64_t> generated_rows;
      for (std::int64_t i = data.n_cells(); i < written.n_cells(); ++i) generated_rows.push_back(i);
      const Dataset generated = subset(written, generated_rows, iota_indices(written.n_genes()));
      analysis::FidelityOptions fo;
      fo.label_key = fit_options.preprocess.label_key;
      if (fo.label_key && generated.obs.find(*fo.label_key) == nullptr) {
        // CSV and 10x outputs keep the labels only in the obs sidecar file.
        std::cerr << "cellvae: warning: " << args->out << " holds no obs columns (they are in "
                  << pipeline::obs_sidecar_path(args->out).string()
                  << "); metrics without label accuracy\n";
        fo.label_key.reset();
      }
      fo.allow_non_integer = !is_integer_valued(generated.X);
      fo.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
      fo.seed = gen_options.seed;
      const analysis::FidelityResult r =
          analysis::evaluate_fidelity(test, generated, fo, &train, &train);
      for (const auto& w : r.warnings) std::cerr << "cellvae: warning: " << w << '\n';
      write_text_atomically(run_dir / "metrics.json", analysis::to_json(r, 1) + "\n");
      write_text_atomically(run_dir / "metrics.txt", analysis::format_table(r));
      if (!args->quiet) std::cerr << analysis::format_table(r);
    }
    summary["seconds"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    write_text_atomically(run_dir / "augment.json", summary.dump(1) + "\n");
    if (!args->no_report) {
      // Everything else is written by now; a report that fails should not cost the run.
      report::ReportOptions ro;
      ro.cells = args->out;
      ro.seed = gen_options.seed;
      try {
        const auto r = report::write_run_report(run_dir, run_dir / "report.html", ro);
        for (const auto& w : r.warnings) std::cerr << "cellvae: warning: report: " << w << '\n';
      } catch (const std::exception& e) {
        std::cerr << "cellvae: warning: report.html not written: " << e.what() << '\n';
      }
    }
    if (!args->quiet)
      std::cerr << "augment: " << data.n_cells() << " real + " << n << " generated cells -> "
                << args->out << "; model, metrics" << (args->no_report ? "" : " and report.html")
                << " in " << run_dir.string() << '\n';
  });
}

}  // namespace cellvae::cli
