#include "progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>

namespace cellvae::cli {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

std::string format_duration(double s) {
  char buf[64];
  if (!(s >= 0) || !std::isfinite(s)) return "?";
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1f s", s);
  } else if (s < 3600) {
    const int total = static_cast<int>(std::lround(s));
    std::snprintf(buf, sizeof buf, "%d min %02d s", total / 60, total % 60);
  } else {
    const int total = static_cast<int>(std::lround(s / 60));
    std::snprintf(buf, sizeof buf, "%d h %02d min", total / 60, total % 60);
  }
  return buf;
}

TrainingProgress::TrainingProgress(bool quiet, bool terminal)
    : quiet_(quiet), terminal_(terminal) {}

bool TrainingProgress::stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

pipeline::FitCallbacks TrainingProgress::callbacks() {
  pipeline::FitCallbacks c;
  if (quiet_) return c;
  c.on_start = [this](std::int64_t e, std::int64_t t, std::int64_t v) { start(e, t, v); };
  c.on_epoch = [this](const train::EpochRecord& r, std::int64_t e) { epoch(r, e); };
  if (terminal_)
    c.on_batch = [this](std::int64_t b, std::int64_t n, double l) { batch(b, n, l); };
  return c;
}

void TrainingProgress::start(std::int64_t max_epochs, std::int64_t n_train,
                             std::int64_t n_validation) {
  max_epochs_ = max_epochs;
  std::fprintf(stderr, "training on %lld cells (%lld for validation), up to %lld epochs\n",
               static_cast<long long>(n_train), static_cast<long long>(n_validation),
               static_cast<long long>(max_epochs));
  epoch_start_ = Clock::now();
}

double TrainingProgress::eta_seconds(double fraction_of_epoch) const {
  const double done = static_cast<double>(epochs_done_) + fraction_of_epoch;
  if (done <= 0) return NAN;
  const double per_epoch = (seconds_done_ + since(epoch_start_)) / done;
  return per_epoch * (static_cast<double>(max_epochs_) - done);
}

void TrainingProgress::batch(std::int64_t batch, std::int64_t n_batches, double running_loss) {
  // Redraw at most 10 times a second: printing is not free and terminals flicker.
  if (batch + 1 < n_batches && since(last_draw_) < 0.1) return;
  last_draw_ = Clock::now();
  const double fraction = n_batches > 0 ? static_cast<double>(batch + 1) / n_batches : 1.0;
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(filled, '#');
  bar.append(kWidth - filled, '.');
  std::fprintf(stderr, "\r\033[Kepoch %lld/%lld [%s] %3d%%  loss %.4g  ETA %s",
               static_cast<long long>(epochs_done_ + 1), static_cast<long long>(max_epochs_),
               bar.c_str(), static_cast<int>(fraction * 100), running_loss,
               format_duration(eta_seconds(fraction)).c_str());
  std::fflush(stderr);
}

void TrainingProgress::epoch(const train::EpochRecord& r, std::int64_t max_epochs) {
  max_epochs_ = max_epochs;
  ++epochs_done_;
  seconds_done_ += since(epoch_start_);
  epoch_start_ = Clock::now();
  if (terminal_) std::fputs("\r\033[K", stderr);
  std::string val;
  if (r.validation) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "  validation %.6g", r.validation->loss);
    val = buf;
  }
  std::fprintf(stderr,
               "epoch %lld/%lld  loss %.6g (reconstruction %.6g, kl %.4g)%s  %.2f s  ETA %s\n",
               static_cast<long long>(r.epoch), static_cast<long long>(max_epochs_), r.train.loss,
               r.train.reconstruction, r.train.kl_z + r.train.kl_library, val.c_str(), r.seconds,
               format_duration(eta_seconds(0)).c_str());
  std::fflush(stderr);
}

}  // namespace cellvae::cli
