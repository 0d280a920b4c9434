#include "cellvae/preprocess/split.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "cellvae/error.hpp"
#include "cellvae/random.hpp"

namespace cellvae {

SplitResult split_cells(std::int64_t n_cells, const SplitOptions& options) {
  if (n_cells <= 0) throw InputError("cannot split: there are no cells");
  const double f = options.validation_fraction;
  if (!(std::isfinite(f) && f >= 0 && f < 1))
    throw InputError("validation_fraction must be in [0, 1) (got " + std::to_string(f) + ")");
  const auto& strata = options.strata;
  if (!strata.empty() && static_cast<std::int64_t>(strata.size()) != n_cells)
    throw InputError("strata has " + std::to_string(strata.size()) + " codes but there are " +
                     std::to_string(n_cells) + " cells");

  std::vector<std::vector<std::int64_t>> members;
  if (strata.empty()) {
    members.resize(1);
    for (std::int64_t i = 0; i < n_cells; ++i) members[0].push_back(i);
  } else {
    for (std::size_t i = 0; i < strata.size(); ++i) {
      if (strata[i] < 0)
        throw InputError("stratum code of cell " + std::to_string(i) + " is " +
                         std::to_string(strata[i]) + "; codes must be >= 0");
      if (static_cast<std::size_t>(strata[i]) >= members.size())
        members.resize(static_cast<std::size_t>(strata[i]) + 1);
      members[static_cast<std::size_t>(strata[i])].push_back(static_cast<std::int64_t>(i));
    }
  }

  Rng rng(options.seed);
  SplitResult result;
  for (auto& cells : members) {
    if (cells.empty()) continue;
    const std::int64_t n = static_cast<std::int64_t>(cells.size());
    // std::llround rounds halves away from zero; cap so the stratum keeps a training cell.
    const std::int64_t k = std::min<std::int64_t>(std::llround(f * static_cast<double>(n)), n - 1);
    rng.shuffle(cells);
    result.validation.insert(result.validation.end(), cells.begin(), cells.begin() + k);
    result.train.insert(result.train.end(), cells.begin() + k, cells.end());
  }
  std::sort(result.train.begin(), result.train.end());
  std::sort(result.validation.begin(), result.validation.end());
  return result;
}

}  // namespace cellvae
