// Drawing new cells from a trained model, chunk by chunk, so that a million cells never sit in
// memory at once. The CLI (`cellvae generate`, `cellvae augment`) writes each chunk as it comes.
//
// Per cell: a label (exact counts or training frequencies), a batch (fixed, or drawn with the
// training frequencies within the label), a latent point (GenerateOptions::sampler), a library
// size, then the decoder's likelihood gives counts (a draw) or expected values.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cellvae/analysis/gaussian_mixture.hpp"
#include "cellvae/csr_matrix.hpp"
#include "cellvae/data/cell_data.hpp"
#include "cellvae/generate/generate_options.hpp"
#include "cellvae/pipeline/model_dir.hpp"
#include "cellvae/random.hpp"

namespace cellvae::generate {

/// One chunk of generated cells.
struct GeneratedChunk {
  CsrMatrix values;                   ///< cells x the model's genes
  std::vector<std::int32_t> labels;   ///< label code per cell; empty without labels
  std::vector<std::int32_t> batches;  ///< batch code per cell; empty without batches
  std::vector<double> library;        ///< library size each cell was decoded at (NaN: none)
  /// Posterior sampler: the row of the given real cells each cell was drawn around.
  std::vector<std::int64_t> source_cells;
};

class CellGenerator {
 public:
  /// Prepares the plan (labels, batches) and the sampler (for gmm: fits the mixtures, which is
  /// where the time goes before the first chunk). `from`: the real cells of the posterior
  /// sampler (cell_data_for the model; labels/batches as the model needs), required by it and
  /// rejected otherwise. Throws InputError for options the model cannot honour, naming the
  /// flag: unknown label or batch names (listing the known ones), labels on a model without a
  /// label key, counts not summing to n_cells, a component out of range, `counts` on a count
  /// likelihood.
  CellGenerator(const pipeline::TrainedModel& model, const GenerateOptions& options,
                const data::CellData* from = nullptr);

  /// Cells still to come.
  std::int64_t remaining() const { return n_total_ - n_done_; }
  std::int64_t n_cells() const { return n_total_; }

  /// The next up to `max_cells` cells (>= 1; fewer at the end); an empty chunk when done.
  /// The cells depend only on the seed and the chunk sizes asked for.
  GeneratedChunk next(std::int64_t max_cells = 4096);

  /// What was done, for the output's uns and the log: sampler, seed, and per label the chosen
  /// mixture (components, covariance type, BIC, cells fitted).
  const nlohmann::json& provenance() const { return provenance_; }

  /// The sampler actually used (options.sampler or the default for the model).
  SamplerKind sampler() const { return sampler_; }

 private:
  void plan_labels_and_batches(const GenerateOptions& options);
  void fit_mixtures(const GenerateOptions& options);
  void tie_components_to_labels();
  torch::Tensor sample_latent(std::int64_t begin, std::int64_t end,
                              std::vector<std::int64_t>& sources);
  // The cells' log library as the decoder takes it (cells x 1), and each library in `library`
  // (NaN where the model has none).
  torch::Tensor log_library(std::int64_t begin, std::int64_t end,
                            const std::vector<std::int64_t>& sources, std::vector<double>& library);
  CsrMatrix output_values(const model::LikelihoodParams& params,
                          const std::vector<double>& library);
  std::string values_description() const;

  const pipeline::TrainedModel& model_;
  model::Vae module_;  // a handle on model_.module (non-const calls)
  const data::CellData* from_ = nullptr;
  SamplerKind sampler_ = SamplerKind::gmm;
  GenerateOptions options_;
  std::int64_t n_total_ = 0;
  std::int64_t n_done_ = 0;

  // The plan: per generated cell, label and batch codes (-1: none).
  std::vector<std::int32_t> labels_;
  std::vector<std::int32_t> batches_;
  // Training cells grouped by (label, batch) and by label, for library sizes and batches.
  std::map<std::pair<std::int32_t, std::int32_t>, std::vector<std::int64_t>> by_label_batch_;
  std::map<std::int32_t, std::vector<std::int64_t>> by_label_;
  std::vector<std::int64_t> all_training_;
  // gmm sampler: one mixture per label code (-1: all cells).
  std::map<std::int32_t, analysis::GaussianMixture> mixtures_;
  // LibrarySource::regression: per label code, the least-squares coefficients of log library
  // on [z, 1] ((D + 1), double) and the residual sd; the current chunk's draws of log l.
  struct LibraryRegression {
    torch::Tensor coefficients;
    double residual_sd = 0;
  };
  bool library_given_z_ = false;
  std::map<std::int32_t, LibraryRegression> library_regression_;
  std::vector<double> chunk_log_library_;
  // prior sampler of a mixture-prior model with labels: p(component | label) per label code.
  std::map<std::int32_t, torch::Tensor> component_given_label_;

  Rng rng_;
  torch::Generator generator_;
  nlohmann::json provenance_;
};

}  // namespace cellvae::generate
