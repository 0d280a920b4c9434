#include "cellvae/atomic_output.hpp"

#include <atomic>
#include <chrono>
#include <string>

#include <unistd.h>

#include "cellvae/error.hpp"

namespace fs = std::filesystem;

namespace cellvae {

namespace {
std::string unique_suffix() {
  static std::atomic<unsigned> counter{0};
  const auto t = std::chrono::steady_clock::now().time_since_epoch().count();
  return std::to_string(::getpid()) + "-" + std::to_string(t % 1000000007) + "-" +
         std::to_string(counter++);
}
}  // namespace

AtomicOutput::AtomicOutput(fs::path target) : target_(std::move(target)) {
  if (target_.has_filename() == false) target_ = target_.parent_path();  // "dir/" -> "dir"
  const fs::path parent = target_.parent_path().empty() ? fs::path(".") : target_.parent_path();
  if (!fs::is_directory(parent))
    throw InputError("cannot write " + target_.string() + ": folder " + parent.string() +
                     " does not exist");
  temp_ = parent / ("." + target_.filename().string() + ".tmp-" + unique_suffix());
}

AtomicOutput::~AtomicOutput() {
  if (!committed_) {
    std::error_code ec;
    fs::remove_all(temp_, ec);
  }
}

void AtomicOutput::commit() {
  std::error_code ec;
  if (fs::is_directory(temp_) && fs::exists(target_)) {
    // rename() cannot replace a non-empty directory: move the old one aside first, so that a
    // failure at any point leaves either the old or the new output in place.
    const fs::path aside = temp_.string() + ".old";
    fs::rename(target_, aside, ec);
    if (ec) throw InputError("cannot replace " + target_.string() + ": " + ec.message());
    fs::rename(temp_, target_, ec);
    if (ec) {
      std::error_code ignored;
      fs::rename(aside, target_, ignored);
      throw InputError("cannot write " + target_.string() + ": " + ec.message());
    }
    fs::remove_all(aside, ec);
  } else {
    if (fs::is_directory(target_) && !fs::is_directory(temp_))
      throw InputError("cannot write file " + target_.string() + ": a folder of that name exists");
    fs::rename(temp_, target_, ec);
    if (ec) throw InputError("cannot write " + target_.string() + ": " + ec.message());
  }
  committed_ = true;
}

}  // namespace cellvae
