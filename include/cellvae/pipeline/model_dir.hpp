// A trained model and its directory on disk: what `cellvae fit` writes and every later command
// (score, generate, embed, denoise, cluster) reads.
//
// MODEL_DIR/
//   model.json        {"format": "cellvae-model", "version": 1, "cellvae_version",
//                      "fit": fit_options_to_json (preprocessing, training and model options,
//                             the model resolved: n_genes/n_labels/n_batches, epochs),
//                      "data": {"source", "n_cells", "n_train", "n_validation", "epochs",
//                               "best_epoch", "stopped_early", "seconds", "threads", ...}}
//   preprocess.json   the PreprocessState: gene names in column order, label/batch categories,
//                     the VAExprs input transform
//   weights.pt        the module's parameters and buffers (torch::save)
//   training.pt       per training cell: "latent_mean", "latent_variance" (cells x D), "labels",
//                     "batches" (int64,
//                     -1 when absent), "library" (total counts over the model's genes, float)
//   history.csv, history.json
// The directory is written under a temporary name and renamed at the end; an existing one is
// replaced only with `force`.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "cellvae/data/cell_data.hpp"
#include "cellvae/dataset.hpp"
#include "cellvae/model/vae.hpp"
#include "cellvae/pipeline/fit_options.hpp"
#include "cellvae/preprocess/preprocess_state.hpp"
#include "cellvae/train/history.hpp"

namespace cellvae::pipeline {

/// What generation needs to know about the training cells without the training file.
struct TrainingCells {
  torch::Tensor latent_mean;  ///< cells x D, float, posterior means (VaeImpl::latent_mean)
  /// cells x D, float, posterior variances of z (mixture posterior: the variance of the
  /// q(y|x)-weighted mixture); undefined for model directories that predate it.
  torch::Tensor latent_variance;
  torch::Tensor labels;       ///< int64 codes, or -1 without labels
  torch::Tensor batches;      ///< int64 codes, or -1 without batches
  torch::Tensor library;      ///< float total counts over the model's genes
};

struct TrainedModel {
  FitOptions options;        ///< as resolved by fit(), model config included
  PreprocessState preprocess;
  model::Vae module{nullptr};
  train::History history;
  TrainingCells training;
  nlohmann::json data_info;  ///< the "data" object of model.json
};

/// Model-directory format version written by this code; load rejects newer ones.
inline constexpr int kModelFormatVersion = 1;

/// Writes the directory (see above). Throws InputError when `dir` exists and !force, or when
/// it cannot be written.
void save_model_dir(const TrainedModel& model, const std::filesystem::path& dir, bool force);

/// Reads a directory written by save_model_dir, rebuilding the module from model.json and
/// loading weights.pt (eval mode, CPU). Throws InputError naming the directory and the missing
/// or invalid file ("... is not a cellvae model directory: no model.json").
TrainedModel load_model_dir(const std::filesystem::path& dir);

/// Prepares new data for a trained model: the model's genes by name (apply_preprocess_state),
/// label/batch codes as the model needs them (missing columns allowed when !require_*), the
/// input transform. Throws InputError as apply_preprocess_state and for values a count
/// likelihood cannot model (negative, non-finite, non-integer).
data::CellData cell_data_for(const TrainedModel& model, const Dataset& data,
                             const ApplyStateOptions& options = {});

}  // namespace cellvae::pipeline
