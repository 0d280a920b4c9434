// The per-epoch record of training, written next to the weights as CSV and JSON.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace cellvae::train {

/// Means over cells of the loss terms (model::LossTerms) in one pass over a cell set.
struct LossSummary {
  double loss = 0;            ///< reconstruction + kl_library + kl_weight * kl_z
  double reconstruction = 0;  ///< -log p(x|z)
  double kl_z = 0;
  double kl_library = 0;
  /// Negative ELBO, reconstruction + kl_library + kl_z (the loss without λ or warm-up).
  double elbo() const { return -(reconstruction + kl_library + kl_z); }
};

struct EpochRecord {
  std::int64_t epoch = 0;            ///< 1-based
  LossSummary train;                 ///< averaged over the epoch's minibatches (train mode)
  std::optional<LossSummary> validation;  ///< eval mode, after the epoch
  double kl_weight = 0;              ///< the KL(z) weight used in this epoch (λ · warm-up)
  double learning_rate = 0;          ///< at the start of the epoch
  double seconds = 0;                ///< wall time of the training steps of this epoch
};

struct History {
  std::vector<EpochRecord> epochs;
  /// 1-based epoch whose weights the model holds at the end (the best one with restore_best).
  std::int64_t best_epoch = 0;
  bool stopped_early = false;
};

/// CSV with one row per epoch and the header
/// epoch,train_loss,train_reconstruction,train_kl_z,train_kl_library,validation_loss,
/// validation_reconstruction,validation_kl_z,validation_kl_library,kl_weight,learning_rate,seconds
/// (validation columns empty without validation data). Written atomically.
void write_history_csv(const History& history, const std::filesystem::path& path);
nlohmann::json history_to_json(const History& history);
History history_from_json(const nlohmann::json& json);

}  // namespace cellvae::train
