// Input checks shared by the latent-space analyses (k-means, Gaussian mixtures).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "cellvae/error.hpp"

namespace cellvae::analysis::detail {

/// "(3 x 4)", or "undefined".
inline std::string shape_text(const torch::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::string s = "(";
  for (std::int64_t i = 0; i < t.dim(); ++i) s += (i ? " x " : "") + std::to_string(t.size(i));
  return s + ")";
}

/// x as a contiguous float64 matrix. Throws InputError prefixed by `what` unless x is 2-D with
/// at least one column and `min_rows` rows, floating point and finite.
inline torch::Tensor checked_matrix(const torch::Tensor& x, const char* what,
                                    std::int64_t min_rows) {
  if (!x.defined() || x.dim() != 2 || x.size(1) < 1)
    throw InputError(std::string(what) + ": the data must be a matrix (rows x columns); got " +
                     shape_text(x));
  if (x.size(0) < min_rows)
    throw InputError(std::string(what) + ": needs at least " + std::to_string(min_rows) +
                     " rows; got " + std::to_string(x.size(0)));
  if (!x.is_floating_point())
    throw InputError(std::string(what) + ": the data must be floating point");
  torch::Tensor xd = x.to(torch::kFloat64).contiguous();
  if (!torch::isfinite(xd).all().item<bool>())
    throw InputError(std::string(what) + ": the data contain NaN or infinite values");
  return xd;
}

}  // namespace cellvae::analysis::detail
