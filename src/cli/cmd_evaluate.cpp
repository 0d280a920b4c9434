// `cellvae evaluate REAL GENERATED`: how realistic are generated cells? Marginal, joint,
// per-label and memorisation scores against real cells, as a table and JSON.
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "cellvae/analysis/fidelity.hpp"
#include "cellvae/atomic_output.hpp"
#include "cellvae/error.hpp"
#include "cellvae/io.hpp"
#include "cellvae/threads.hpp"
#include "cli_common.hpp"
#include "commands.hpp"

namespace cellvae::cli {

namespace {
/// Accepts integers >= `least` (CLI::Range would print its huge upper bound in --help).
CLI::Validator at_least(long long least) {
  return CLI::Validator(
      [least](std::string& s) -> std::string {
        try {
          std::size_t used = 0;
          const long long v = std::stoll(s, &used);
          if (used == s.size() && v >= least) return {};
        } catch (const std::exception&) {
        }
        return "must be an integer >= " + std::to_string(least) + ", got '" + s + "'";
      },
      "INT>=" + std::to_string(least));
}
}  // namespace

void add_evaluate_command(CLI::App& app) {
  struct Args {
    std::string real, generated, train, control, output, in_format;
    ReadOptions read;
    analysis::FidelityOptions options;
    std::string pca_method = "randomized";
    std::vector<std::string> classifiers{"knn", "random-forest"};
    std::string label_classifier = "logistic";
    int threads = 2;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto& o = args->options;
  CLI::App* cmd = app.add_subcommand(
      "evaluate",
      "Score generated cells against held-out real ones (AUC 0.5 = indistinguishable)");
  cmd->footer(
      "Marginal distributions, joint structure (MMD, classifier AUC on principal components), "
      "per-label scores, label transfer and memorisation; with --control, a real-vs-real row.");
  cmd->add_option("REAL", args->real, "real cells held out from training (any input format)")
      ->required();
  cmd->add_option("GENERATED", args->generated, "generated cells (any input format)")->required();
  cmd->add_option("--train", args->train,
                  "the cells the generator was trained on: adds the memorisation check");
  cmd->add_option("--control", args->control,
                  "a second real sample (not REAL's cells): adds a real-vs-real control column");
  cmd->add_option("-o,--output", args->output, "write the scores here as JSON");
  cmd->add_flag("--json", args->json, "print the JSON on stdout instead of the table");
  CLI::Option* label_key =
      cmd->add_option("--label-key", o.label_key,
                      "obs column with cell labels: per-label scores and label-transfer accuracy");
  cmd->add_option("--gen-label-key", o.generated_label_key,
                  "the label column in GENERATED and --control (default: --label-key)")
      ->needs(label_key);
  add_read_flags(cmd, args->read, args->in_format);
  cmd->add_option("--max-cells", o.max_cells, "cells drawn from each sample")
      ->capture_default_str()
      ->check(CLI::Range(10, 5000));
  cmd->add_option("--max-train-cells", o.max_train_cells, "training cells searched (--train)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--n-pcs", o.n_components, "principal components for the joint scores")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--pca", args->pca_method, "PCA method: randomized, exact")
      ->capture_default_str();
  cmd->add_option("--classifiers", args->classifiers,
                  "real-vs-generated classifiers: knn, random-forest, logistic")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--neighbors", o.n_neighbors, "neighbours of the knn classifier")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--trees", o.n_trees, "trees of the random forest")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--folds", o.n_folds, "cross-validation folds")
      ->capture_default_str()
      ->check(CLI::Range(2, 100));
  cmd->add_option("--min-cells-per-label", o.min_cells_per_label,
                  "labels with fewer cells on either side get no per-label scores")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--label-classifier", args->label_classifier,
                  "classifier for the label-transfer accuracy: logistic, knn, random-forest")
      ->capture_default_str();
  cmd->add_option("--scale-factor", o.scale_factor,
                  "log-normalisation total: log1p(count / library * F); 1e6 gives log-CPM")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--correlation-genes", o.n_correlation_genes,
                  "most variable genes whose cell-cell and gene-gene correlations are compared")
      ->capture_default_str()
      ->check(CLI::Range(2, 5000));
  cmd->add_option("--min-shared-genes", o.min_shared_genes,
                  "fewer shared genes than this is an error")
      ->capture_default_str()
      ->check(at_least(2));
  cmd->add_flag("--allow-non-integer", o.allow_non_integer,
                "accept non-integer values (e.g. decoder means); counts are required otherwise");
  cmd->add_option("--seed", o.seed, "seed of every random choice")->capture_default_str();
  cmd->add_option("--threads", args->threads,
                  "CPU threads (for the random forests; tensor work uses one)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  cmd->callback([args] {
    auto opts = args->options;
    auto named = [](const char* flag, auto parse) {
      try {
        return parse();
      } catch (const InputError& e) {
        throw InputError(std::string(flag) + ": " + e.what());
      }
    };
    opts.pca_method = named("--pca", [&] { return analysis::parse_pca_method(args->pca_method); });
    opts.classifiers.clear();
    for (const auto& c : args->classifiers)
      opts.classifiers.push_back(
          named("--classifiers", [&] { return analysis::parse_classifier(c); }));
    opts.label_classifier = named(
        "--label-classifier", [&] { return analysis::parse_classifier(args->label_classifier); });
    // The random forests, most of the work, run on --threads threads of their own. Tensor
    // work stays on one thread: its operations are small (a few thousand cells x 50 PCs), and
    // OpenMP workers that spin between them would take the cores from the forests (measured on
    // 2 busy cores: 25 s instead of 8 s for the Kang protocol run).
    opts.threads = args->threads;
    configure_threads(1);

    const Dataset real = read_input(args->real, args->read, args->in_format);
    const Dataset generated = read_input(args->generated, ReadOptions{}, "");
    std::optional<Dataset> train, control;
    if (!args->train.empty()) train = read_input(args->train, args->read, args->in_format);
    // The training cells are often the natural control too: read such a file once.
    const bool control_is_train = !args->control.empty() && args->control == args->train;
    if (!args->control.empty() && !control_is_train)
      control = read_input(args->control, args->read, args->in_format);

    const Dataset* train_ptr = train ? &*train : nullptr;
    const Dataset* control_ptr = control_is_train ? train_ptr : control ? &*control : nullptr;
    const auto result = analysis::evaluate_fidelity(real, generated, opts, train_ptr, control_ptr);
    for (const auto& w : result.warnings) std::cerr << "cellvae: warning: " << w << '\n';
    const std::string json = analysis::to_json(result, 1);
    if (!args->output.empty()) {
      AtomicOutput out(args->output);
      {
        std::ofstream f(out.temp_path());
        f << json << '\n';
        if (!f) throw InputError("cannot write " + args->output);
      }
      out.commit();
    }
    if (args->json)
      std::cout << json << '\n';
    else
      std::cout << analysis::format_table(result);
  });
}

}  // namespace cellvae::cli
