// `cellvae fit DATA -o MODEL_DIR`: train a VAE (VAExprs, scVI, GMVAE or any mix of their parts)
// on a count matrix and save everything later commands need in one directory.
#include <iostream>
#include <memory>
#include <utility>

#include "cellvae/error.hpp"
#include "cellvae/io.hpp"
#include "cellvae/pipeline/fit.hpp"
#include "cellvae/pipeline/model_dir.hpp"
#include "cli_common.hpp"
#include "commands.hpp"
#include "fit_flags.hpp"
#include "progress.hpp"

namespace cellvae::cli {

void add_fit_command(CLI::App& app) {
  struct Args {
    std::string in, in_format, out, validation;
    ReadOptions read;
    FitFlags fit;
    bool force = false, quiet = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "fit", "Train a variational autoencoder on a count matrix and save it as a model directory");
  cmd->add_option("DATA", args->in, "count matrix: .h5ad, 10x .h5 or folder, .csv, .tsv")
      ->required();
  cmd->add_option("-o,--output", args->out, "model directory to write")->required();
  cmd->add_option("--validation", args->validation,
                  "separate validation cells (instead of --validation-split)");
  cmd->add_flag("--force", args->force, "replace an existing model directory");
  cmd->add_flag("-q,--quiet", args->quiet, "no progress output");
  add_read_flags(cmd, args->read, args->in_format);
  add_fit_flags(cmd, args->fit);
  cmd->callback([args] {
    const pipeline::FitOptions options = resolve_fit_options(args->fit);
    if (std::filesystem::exists(args->out) && !args->force)
      throw InputError("output " + args->out + " exists; use --force to replace it");
    Dataset data = read_input(args->in, args->read, args->in_format);
    print_warnings(data);
    std::unique_ptr<Dataset> validation;
    if (!args->validation.empty()) {
      validation = std::make_unique<Dataset>(
          read_input(args->validation, args->read, args->in_format));
      print_warnings(*validation);
    }
    TrainingProgress progress(args->quiet, TrainingProgress::stderr_is_terminal());
    pipeline::FitResult result =
        pipeline::fit(std::move(data), validation.get(), options, progress.callbacks());
    for (const auto& w : result.warnings) std::cerr << "cellvae: warning: " << w << '\n';
    pipeline::save_model_dir(result.model, args->out, args->force);
    if (!args->quiet) {
      const auto& info = result.model.data_info;
      std::cerr << "fit: " << info["epochs"].get<long long>() << " epochs (best "
                << info["best_epoch"].get<long long>()
                << (result.model.history.stopped_early ? ", stopped early" : "") << ") on "
                << info["n_train"].get<long long>() << " cells x "
                << result.model.options.model.n_genes << " genes in "
                << format_duration(info["seconds"].get<double>()) << " -> " << args->out << '\n';
    }
  });
}

}  // namespace cellvae::cli
