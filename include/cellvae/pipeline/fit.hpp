// The whole `cellvae fit` job as one library call: preprocess, split, build the model, train,
// summarise the training cells. The CLI only fills FitOptions and prints progress.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cellvae/dataset.hpp"
#include "cellvae/pipeline/fit_options.hpp"
#include "cellvae/pipeline/model_dir.hpp"
#include "cellvae/train/trainer.hpp"

namespace cellvae::pipeline {

/// Progress hooks (all optional). on_start gets the number of epochs training will run at most
/// and the numbers of training and validation cells; on_epoch each finished epoch; on_batch
/// (see train::BatchCallback) each minibatch.
struct FitCallbacks {
  std::function<void(std::int64_t max_epochs, std::int64_t n_train, std::int64_t n_validation)>
      on_start;
  std::function<void(const train::EpochRecord&, std::int64_t max_epochs)> on_epoch;
  train::BatchCallback on_batch;
};

struct FitResult {
  TrainedModel model;
  std::vector<std::int64_t> train_cells;       ///< row indices into the input data (after
  std::vector<std::int64_t> validation_cells;  ///< preprocessing filters; see `kept_cells`)
  std::vector<std::int64_t> kept_cells;        ///< input rows that survived preprocessing
  std::vector<std::string> warnings;           ///< for the CLI to print
};

/// Fits a model to `data` (cells x genes counts). `validation`, when non-null, is a separate
/// data set for validation (prepared with the fitted preprocessing state; no split then).
/// Throws InputError for invalid options (validate()), a label/batch key missing from obs,
/// values a count likelihood cannot model, and a non-finite loss.
/// `data` is taken by value: pass std::move(data) when the caller no longer needs it, so that
/// preprocessing and training reuse its counts instead of copying them (preprocess()).
FitResult fit(Dataset data, const Dataset* validation, const FitOptions& options,
              const FitCallbacks& callbacks = {});

/// The TrainingCells record of `rows` of `data`: posterior means (in chunks, on the module's
/// device), label and batch codes (-1 when the vectors are empty), total counts.
TrainingCells summarize_training_cells(model::Vae& module, const data::CellData& data,
                                       const std::vector<std::int64_t>& rows,
                                       const std::vector<std::int32_t>& label_codes,
                                       const std::vector<std::int32_t>& batch_codes);

}  // namespace cellvae::pipeline
