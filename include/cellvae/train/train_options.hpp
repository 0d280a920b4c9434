// How a model is trained, as a plain torch-free options struct (the CLI and JSON fill it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace cellvae::train {

enum class OptimizerKind { adam, adamw, sgd, rmsprop };
/// "adam", "adamw", "sgd", "rmsprop".
std::string_view to_string(OptimizerKind kind);
OptimizerKind parse_optimizer_kind(std::string_view name);

/// Where tensors live. auto = CUDA when this LibTorch has it and a device is present, else CPU.
enum class DeviceKind { cpu, cuda, auto_ };
/// "cpu", "cuda", "auto".
std::string_view to_string(DeviceKind kind);
DeviceKind parse_device_kind(std::string_view name);

struct TrainOptions {
  OptimizerKind optimizer = OptimizerKind::adam;
  double learning_rate = 1e-3;
  double weight_decay = 0.0;  ///< L2 (adam, sgd, rmsprop) or decoupled (adamw); >= 0
  double adam_epsilon = 1e-8;  ///< eps of adam/adamw/rmsprop; > 0 (scVI recipe: 0.01)
  double momentum = 0.0;       ///< sgd and rmsprop momentum, [0, 1)
  std::int64_t batch_size = 128;  ///< cells per minibatch, >= 2 with batch norm
  /// Epochs; empty = chosen from the number of training cells (scvi-tools' rule:
  /// min(400, round(20000 / cells * 400)), at least 1), reported in TrainResult.
  std::optional<std::int64_t> epochs;
  /// λ: weight of KL(z) in the loss, >= 0 (VAExprs's `regularization`).
  double kl_weight = 1.0;
  /// Linear KL(z) warm-up: the weight in epoch e (0-based) is kl_weight * min(1, e /
  /// kl_warmup_epochs); 0 = none.
  double kl_warmup_epochs = 0;
  /// Minibatches with fewer cells are skipped (batch norm needs >= 2; scVI skips < 3).
  std::int64_t min_batch_cells = 3;

  /// Early stopping on the monitored loss (validation mean loss when there is validation data,
  /// else the training mean loss): stop after `patience` epochs without an improvement larger
  /// than min_delta; empty = never stop early.
  std::optional<std::int64_t> patience;
  double min_delta = 0.0;
  /// At the end of training (early stop or last epoch), put back the weights of the epoch with
  /// the best monitored loss.
  bool restore_best = true;
  /// Reduce-LR-on-plateau: multiply the learning rate by lr_factor after lr_patience epochs
  /// without improvement of the monitored loss; empty = off.
  std::optional<std::int64_t> lr_patience;
  double lr_factor = 0.1;  ///< (0, 1)
  double min_learning_rate = 0.0;
  /// Clip the gradients' global L2 norm to this value; empty = no clipping. > 0.
  std::optional<double> gradient_clip;

  /// adam and adamw on the CPU: update each parameter in one multi-threaded pass
  /// (train::FusedAdam / FusedAdamW, equal to LibTorch's Adam/AdamW to float rounding) and clear
  /// gradients to undefined between steps instead of zeroing them; false =
  /// torch::optim::Adam/AdamW with zero_grad() (the reference). Other optimizers and devices
  /// ignore it.
  bool fused_optimizer = true;

  std::uint64_t seed = 0;  ///< shuffling and reparameterisation draws
  /// Intra-op threads (configure_threads); empty = all cores.
  std::optional<int> threads;
  DeviceKind device = DeviceKind::cpu;
};

/// Throws InputError naming the first invalid field as the CLI spells it ("--lr must be > 0").
void validate(const TrainOptions& options);

nlohmann::json train_options_to_json(const TrainOptions& options);
/// Missing keys keep defaults; throws InputError for mistyped keys or names, then validate()s.
TrainOptions train_options_from_json(const nlohmann::json& json);

/// The default epoch rule (see TrainOptions::epochs).
std::int64_t default_epochs(std::int64_t n_train_cells);

}  // namespace cellvae::train
