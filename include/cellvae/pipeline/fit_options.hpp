// Everything `cellvae fit` decides, as one plain struct, and the named presets that fill it with
// the published configurations (VAExprs, scVI, scVAE's GMVAE). Torch-free.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "cellvae/model/model_config.hpp"
#include "cellvae/preprocess/preprocess_state.hpp"
#include "cellvae/train/train_options.hpp"

namespace cellvae::pipeline {

enum class Preset {
  /// VAExprs (fit_vae): log-normalize + per-gene min-max to [0, 1], binary cross-entropy
  /// (n_genes x mean BCE), encoder [256] relu, decoder [256], latent 2, λ = 1, no norm, no
  /// dropout, Adam (lr 1e-3, eps 1e-7 as keras), batch 32. Labels, when given, condition the
  /// encoder and decoder (CVAE).
  vaexprs,
  /// scVI (Lopez et al. 2018; scvi-tools 0.6 recipe as ../shared/bench/ref_torch.py): log1p
  /// input, ZINB with per-gene dispersion, observed library, encoder/decoder [128] with batch
  /// norm, dropout 0.1 (encoder), latent 10, Adam (lr 1e-3, eps 0.01, weight decay 1e-6),
  /// batch 128, linear KL warm-up over 400 epochs. Batches enter the decoder; labels, when
  /// given, condition encoder and decoder.
  scvi,
  /// GMVAE (scVAE): NB, observed library, a Gaussian-mixture prior with K components (K = the
  /// number of labels when a label key is given, else --components, default 10), encoder and
  /// decoder [128, 128], batch norm, latent 10, Adam. Labels are NOT covariates: the mixture
  /// is meant to find them.
  gmvae,
};
/// "vaexprs", "scvi", "gmvae".
std::string_view to_string(Preset preset);
Preset parse_preset(std::string_view name);

/// The options of fit() (fit.hpp).
struct FitOptions {
  /// Filters, HVGs, label_key and batch_key. The model's genes are those kept here.
  PreprocessOptions preprocess;
  /// The architecture. n_genes, n_labels and n_batches are filled by fit() from the data.
  model::ModelConfig model;
  train::TrainOptions train;
  /// Condition the model on the labels of preprocess.label_key (CVAE). False: labels are only
  /// recorded (for GMVAE's K and for generation by label from the aggregate posterior).
  bool condition_on_labels = true;
  /// Use the batch key as a model covariate (scVI's s). False: batches are only recorded.
  bool use_batches = true;
  /// Mixture prior: set K (model.components) to the number of label categories when a label
  /// key is given (gmvae preset); false, or no label key: model.components as set.
  bool components_from_labels = false;
  /// Fraction of cells held out for validation (early stopping, validation loss), stratified
  /// by label (else batch). Ignored when fit() is given validation data. [0, 1).
  double validation_fraction = 0.1;
  /// Accept non-integer values in X (only for bernoulli/gaussian likelihoods).
  bool allow_non_integer = false;
  /// The preset these options started from (recorded in the model directory).
  std::optional<Preset> preset;
};

/// The options of a preset: everything a preset sets; the rest keeps FitOptions' defaults.
FitOptions preset_options(Preset preset);

/// JSON of every field (for model.json and `--config`).
nlohmann::json fit_options_to_json(const FitOptions& options);
/// Applies the keys present in `json` on top of `base` (a --config file overrides a preset;
/// flags given on the command line override both). Keys: "preset" is not read here;
/// "model": {ModelConfig keys}, "training": {TrainOptions keys}, "preprocess": {n_top_genes,
/// label_key, batch_key, min_cells, min_genes, ...}, "condition_on_labels", "use_batches",
/// "components_from_labels", "validation_fraction", "allow_non_integer". Unknown keys are an InputError naming them
/// (a typo must not be silently ignored).
FitOptions apply_fit_json(FitOptions base, const nlohmann::json& json);

}  // namespace cellvae::pipeline
