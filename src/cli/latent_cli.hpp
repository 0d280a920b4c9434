// Flags and steps shared by `cellvae embed`, `denoise` and `cluster`: a model directory and the
// cells to apply it to.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "cellvae/dataset.hpp"
#include "cellvae/io.hpp"
#include "cellvae/pipeline/model_dir.hpp"

namespace cellvae::cli {

struct ModelDataArgs {
  std::string model, in, in_format;
  ReadOptions read;
  std::int64_t batch_size = 1024;
  std::optional<int> threads;
  bool force = false;
};

/// MODEL_DIR, DATA, the read flags, --batch-size, --threads and --force.
void add_model_data_args(CLI::App* cmd, ModelDataArgs& args);

/// Throws InputError when `path` exists and !force (checked before any work is done).
void check_output_free(const std::string& path, bool force);

/// Sets the threads and loads the model directory.
pipeline::TrainedModel load_model(const ModelDataArgs& args);

/// Reads DATA with the read flags.
Dataset read_data(const ModelDataArgs& args);

/// The var rows of `data` for the model's genes, in the model's order (names as the model has
/// them; the data contain them all once cell_data_for succeeded).
DataFrame model_gene_var(const pipeline::TrainedModel& model, const Dataset& data);

}  // namespace cellvae::cli
