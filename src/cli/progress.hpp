// Training progress on stderr: a redrawn bar with ETA and the running loss when stderr is a
// terminal, one line per epoch otherwise (logs, CI), nothing when quiet.
#pragma once

#include <chrono>
#include <cstdint>

#include "cellvae/pipeline/fit.hpp"

namespace cellvae::cli {

class TrainingProgress {
 public:
  /// `terminal`: draw the bar (isatty(stderr) by default).
  explicit TrainingProgress(bool quiet, bool terminal);
  static bool stderr_is_terminal();

  /// Hooks for pipeline::fit.
  pipeline::FitCallbacks callbacks();

 private:
  void start(std::int64_t max_epochs, std::int64_t n_train, std::int64_t n_validation);
  void batch(std::int64_t batch, std::int64_t n_batches, double running_loss);
  void epoch(const train::EpochRecord& record, std::int64_t max_epochs);
  double eta_seconds(double fraction_of_epoch) const;

  bool quiet_;
  bool terminal_;
  std::int64_t max_epochs_ = 0;
  std::int64_t epochs_done_ = 0;
  double seconds_done_ = 0;  // wall time of finished epochs (training + validation)
  std::chrono::steady_clock::time_point epoch_start_, last_draw_;
};

/// "3.2 s", "4 min 05 s", "1 h 02 min".
std::string format_duration(double seconds);

}  // namespace cellvae::cli
