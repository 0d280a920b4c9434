// Outputs that appear complete or not at all.
#pragma once

#include <filesystem>

namespace cellvae {

/// A temporary path next to `target` (same directory, so the final rename is atomic) that
/// replaces `target` on commit() and is removed if the object dies uncommitted (an exception
/// unwound past it). Works for files and for directories (10x matrix folders): an existing
/// directory target is moved aside, replaced, then removed.
class AtomicOutput {
 public:
  explicit AtomicOutput(std::filesystem::path target);
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  /// Where to write.
  const std::filesystem::path& temp_path() const { return temp_; }
  /// Moves the temporary over the target. Throws InputError if that fails.
  void commit();

 private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  bool committed_ = false;
};

}  // namespace cellvae
