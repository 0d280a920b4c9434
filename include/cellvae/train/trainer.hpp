// Training as a state object that is stepped one epoch at a time: the CLI draws progress and
// decides when to stop printing, tests step it, bindings can too. The library never prints.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "cellvae/data/cell_data.hpp"
#include "cellvae/model/vae.hpp"
#include "cellvae/train/history.hpp"
#include "cellvae/train/train_options.hpp"

namespace cellvae::train {

/// Called after every minibatch of an epoch: 0-based batch index, number of batches, running
/// mean training loss of the epoch so far.
using BatchCallback =
    std::function<void(std::int64_t batch, std::int64_t n_batches, double running_loss)>;

/// The device a DeviceKind resolves to here (CUDA means device 0). Throws InputError for cuda
/// when this LibTorch has no CUDA or no device is present ("--device cuda: this LibTorch was
/// built without CUDA").
torch::Device resolve_device(DeviceKind kind);

/// A fresh random generator on `device` seeded with `seed` (a CPU generator, or a clone of the
/// device's default CUDA generator), for VaeImpl::loss and evaluate_loss, whose draws must use
/// a generator on the tensors' device.
torch::Generator make_generator(torch::Device device, std::uint64_t seed);

/// Trains `model` on data rows `train_rows`, monitoring `validation_rows` (may be empty).
/// The module is trained in place (Vae is a handle: the caller's module holds the result).
/// `data` is kept by reference and must outlive the Trainer.
///
/// Each epoch mirrors scvi-tools' loop: shuffled minibatches of batch_size training cells
/// (a last one smaller than min_batch_cells is skipped), loss = mean over the batch's cells of
/// LossTerms::loss at the epoch's KL weight, zero_grad / backward / [clip] / step.
///
/// Monitored loss (early stopping, reduce-LR, best epoch): reconstruction + kl_library +
/// kl_weight * kl_z of the validation summary (the training summary without validation cells)
/// at the full λ = options.kl_weight, so that a KL warm-up does not read as a worsening. An
/// epoch improves when it is below the best so far minus min_delta. The validation pass draws
/// z with the same fresh generator every epoch, so epochs differ by their weights only.
///
/// Reproducibility: the constructor seeds torch's global generator (dropout) and the trainer's
/// own generators (shuffling, reparameterisation, validation draws) with independent seeds
/// derived from options.seed; with equal seeds, data, options and thread count, the weights
/// after each epoch are bit-identical. Sets the thread count (configure_threads) when
/// options.threads is given.
/// For LibraryKind::latent the constructor sets the model's library prior from the training
/// rows (data::library_prior).
class Trainer {
 public:
  /// validate()s options, moves the model to the resolved device, builds the optimizer.
  /// Throws InputError for empty train_rows, rows out of range, or label/batch codes missing
  /// from `data` while the model needs them.
  Trainer(model::Vae model, const data::CellData& data, std::vector<std::int64_t> train_rows,
          std::vector<std::int64_t> validation_rows, TrainOptions options);
  ~Trainer();
  Trainer(Trainer&&) noexcept;

  /// Runs one epoch over shuffled training rows (train mode), then the validation pass (eval
  /// mode), updates early stopping and reduce-LR state, and returns the epoch's record.
  /// Throws InputError when a loss is not finite, naming the epoch and batch and suggesting a
  /// lower learning rate. Must not be called when done().
  const EpochRecord& run_epoch(const BatchCallback& on_batch = {});

  /// True once all epochs ran or early stopping triggered.
  bool done() const;
  /// Number of epochs training will run at most (options.epochs or the default rule).
  std::int64_t max_epochs() const;
  /// Restores the best weights (options.restore_best: parameters and buffers such as
  /// batch-norm running statistics), puts the model in eval mode and returns the history.
  /// Call once, after the last run_epoch (later calls return the same history).
  History finish();
  /// The history so far; before finish(), best_epoch is the best monitored epoch so far.
  const History& history() const;
  const TrainOptions& options() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// Mean loss terms over `rows` in eval mode without gradient, in minibatches of batch_size,
/// one z draw per cell from `generator` (on the module's device; restores the module's mode).
/// Covariates the module does not use are ignored. Throws InputError for empty rows.
LossSummary evaluate_loss(model::Vae& model, const data::CellData& data,
                          const std::vector<std::int64_t>& rows, std::int64_t batch_size,
                          double kl_weight, torch::Generator& generator);

}  // namespace cellvae::train
