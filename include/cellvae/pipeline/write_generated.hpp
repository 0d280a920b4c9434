// Streaming generated cells (and optionally the real cells they augment) into one output file,
// with the annotations a user needs to tell them apart: `cellvae generate` and `cellvae augment`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cellvae/dataset.hpp"
#include "cellvae/dataset_writer.hpp"
#include "cellvae/generate/cell_generator.hpp"
#include "cellvae/pipeline/model_dir.hpp"

namespace cellvae::pipeline {

struct GeneratedOutputOptions {
  DatasetWriterOptions writer;
  /// Real cells written first, with origin "real" (VAExprs returns real and generated
  /// together). Any genes: the model's genes are selected by name; their label/batch columns
  /// are carried over when present. nullptr: generated cells only.
  const Dataset* real = nullptr;
  /// Generated cells are named prefix + 1-based number ("generated_1", ...).
  std::string cell_prefix = "generated_";
  /// Cells decoded and written at a time: memory is proportional to this, not to the total.
  std::int64_t chunk_cells = 4096;
  /// Extra uns entries (e.g. the model path).
  std::map<std::string, UnsValue> uns;
  /// Called after each written chunk with the generated cells done and the total.
  std::function<void(std::int64_t done, std::int64_t total)> on_progress;
  /// Ensembles (several generators): one name per generator (e.g. its model directory), written
  /// as the categorical obs column "ensemble_member"; ignored for a single generator.
  std::vector<std::string> member_names;
};

/// Writes every cell of `generator` to `path` (format from the path, see DatasetWriter).
/// obs: the model's label key and batch key columns (categorical, the model's categories),
/// "origin" (categorical: real, generated), "library_size" (what each generated cell was
/// decoded at; the real cells' totals over the model's genes). uns: "cellvae_generate" (the
/// generator's provenance as a JSON string), "cellvae_sampler", "cellvae_seed" and
/// options.uns. Formats without obs (CSV, 10x folder) get the obs table beside the output as
/// `<output without extension>_obs.csv` (cell names first), written atomically too.
/// Returns the number of cells written. Throws InputError as DatasetWriter and
/// apply_preprocess_state (real cells lacking model genes).
std::int64_t write_generated(generate::CellGenerator& generator, const TrainedModel& model,
                             const std::filesystem::path& path,
                             const GeneratedOutputOptions& options = {});

/// The same for an ensemble (generate/ensemble.hpp): every cell of each generator in turn,
/// all decoded by models that check_ensemble accepted (`model`: any of them, for genes and
/// categories). With two or more, obs also has "ensemble_member" (options.member_names, one
/// per generator) and uns "cellvae_generate" is {"members": [each generator's provenance]};
/// "cellvae_sampler" and "cellvae_seed" are the first generator's.
std::int64_t write_generated(const std::vector<generate::CellGenerator*>& generators,
                             const TrainedModel& model, const std::filesystem::path& path,
                             const GeneratedOutputOptions& options = {});

/// The sidecar obs table path for formats that cannot hold obs: "out/gen.csv" ->
/// "out/gen_obs.csv", "out/gen_10x" -> "out/gen_10x_obs.csv".
std::filesystem::path obs_sidecar_path(const std::filesystem::path& output);

}  // namespace cellvae::pipeline
