// Checks that a matrix holds what a count model needs.
#pragma once

#include "cellvae/dataset.hpp"

namespace cellvae {

struct CountCheckOptions {
  bool allow_non_integer = false;  ///< accept fractional values (e.g. RPKM, for Gaussian/BCE models)
};

/// Throws InputError naming the first offending entry (cell name, gene name, value) when a
/// value is negative, NaN or infinite, or (unless allowed) not a whole number; and when the
/// matrix has no cells or no genes. `what` names the file in the message.
void check_counts(const Dataset& ds, const CountCheckOptions& options = {});

}  // namespace cellvae
