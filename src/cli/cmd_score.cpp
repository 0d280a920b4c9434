// `cellvae score MODEL_DIR DATA`: held-out ELBO terms and the importance-sampled marginal
// log-likelihood per cell, the numbers models and likelihoods are compared by.
#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cellvae/atomic_output.hpp"
#include "cellvae/error.hpp"
#include "cellvae/pipeline/model_dir.hpp"
#include "cellvae/threads.hpp"
#include "cellvae/train/trainer.hpp"
#include "cli_common.hpp"
#include "commands.hpp"

namespace cellvae::cli {

void add_score_command(CLI::App& app) {
  struct Args {
    std::string model, in, in_format, out;
    ReadOptions read;
    std::int64_t samples = 100, batch_size = 256;
    std::uint64_t seed = 0;
    std::optional<int> threads;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "score", "Held-out ELBO and importance-sampled log-likelihood per cell (JSON)");
  cmd->footer(
      "Scores cells the model did not train on: mean ELBO, reconstruction error and KL per cell, "
      "and log p(x) estimated with --samples importance samples: how models and likelihoods "
      "are compared.");
  cmd->add_option("MODEL_DIR", args->model, "model directory written by 'cellvae fit'")
      ->required();
  cmd->add_option("DATA", args->in, "cells to score (any input format)")->required();
  cmd->add_option("-o,--output", args->out, "also write the JSON here");
  cmd->add_option("--samples", args->samples,
                  "importance samples per cell for the log-likelihood (0 = skip it)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch-size", args->batch_size, "cells per pass")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--seed", args->seed, "seed of the latent draws")->capture_default_str();
  cmd->add_option("--threads", args->threads, "CPU threads (default: all cores)");
  add_read_flags(cmd, args->read, args->in_format);
  cmd->callback([args] {
    const auto started = std::chrono::steady_clock::now();
    if (args->threads) configure_threads(*args->threads);
    pipeline::TrainedModel m = pipeline::load_model_dir(args->model);
    const Dataset ds = read_input(args->in, args->read, args->in_format);
    print_warnings(ds);
    const data::CellData cells = pipeline::cell_data_for(m, ds);
    std::vector<std::int64_t> rows(static_cast<std::size_t>(cells.counts.n_rows));
    for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<std::int64_t>(i);

    torch::Generator gen = at::detail::createCPUGenerator(args->seed);
    const train::LossSummary s =
        train::evaluate_loss(m.module, cells, rows, args->batch_size, 1.0, gen);
    nlohmann::json out{{"model", args->model},
                       {"data", args->in},
                       {"n_cells", rows.size()},
                       {"elbo", s.elbo()},
                       {"reconstruction_error", s.reconstruction},
                       {"kl_z", s.kl_z},
                       {"kl_library", s.kl_library}};
    if (args->samples > 0) {
      torch::NoGradGuard no_grad;
      double total = 0;
      for (std::size_t b = 0; b < rows.size(); b += static_cast<std::size_t>(args->batch_size)) {
        std::vector<std::int64_t> chunk(
            rows.begin() + b,
            rows.begin() + std::min(rows.size(), b + static_cast<std::size_t>(args->batch_size)));
        total += m.module->marginal_log_likelihood(data::make_batch(cells, chunk), args->samples,
                                                   gen)
                     .log_likelihood.sum()
                     .item<double>();
      }
      out["marginal_log_likelihood"] = total / static_cast<double>(rows.size());
      out["importance_samples"] = args->samples;
    }
    out["seconds"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const std::string text = out.dump(2);
    std::cout << text << '\n';
    if (!args->out.empty()) {
      AtomicOutput file(args->out);
      std::ofstream(file.temp_path()) << text << '\n';
      file.commit();
    }
  });
}

}  // namespace cellvae::cli
