#include "latent_cli.hpp"

#include <filesystem>
#include <unordered_map>

#include "cellvae/error.hpp"
#include "cellvae/threads.hpp"
#include "cli_common.hpp"

namespace cellvae::cli {

void add_model_data_args(CLI::App* cmd, ModelDataArgs& args) {
  cmd->add_option("MODEL_DIR", args.model, "model directory written by 'cellvae fit'")->required();
  cmd->add_option("DATA", args.in,
                  "cells to apply the model to (any input format; must contain the model's "
                  "genes, matched by name)")
      ->required();
  cmd->add_option("--batch-size", args.batch_size,
                  "cells per pass (memory and speed; results change only by float rounding)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--threads", args.threads, "CPU threads (default: all cores)");
  cmd->add_flag("--force", args.force, "replace existing output files");
  add_read_flags(cmd, args.read, args.in_format);
}

void check_output_free(const std::string& path, bool force) {
  if (!force && std::filesystem::exists(path))
    throw InputError("output " + path + " exists; use --force to replace it");
}

pipeline::TrainedModel load_model(const ModelDataArgs& args) {
  if (args.threads) configure_threads(*args.threads);
  return pipeline::load_model_dir(args.model);
}

Dataset read_data(const ModelDataArgs& args) {
  return read_input(args.in, args.read, args.in_format);
}

DataFrame model_gene_var(const pipeline::TrainedModel& model, const Dataset& data) {
  std::unordered_map<std::string, std::int64_t> position;
  for (std::size_t i = 0; i < data.var.index.size(); ++i)
    position.emplace(data.var.index[i], static_cast<std::int64_t>(i));
  std::vector<std::int64_t> rows;
  rows.reserve(model.preprocess.genes.size());
  for (const auto& g : model.preprocess.genes) {
    const auto it = position.find(g);
    if (it == position.end())
      throw InputError("gene '" + g + "' of the model is not in " + data.source);
    rows.push_back(it->second);
  }
  return data.var.take(rows);
}

}  // namespace cellvae::cli
