// Tensor comparison shared by the kernel tests (a fused kernel against LibTorch's operations).
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <string>

namespace cellvae::testing {

/// Same shape, and max |a - b| <= tol * max(1, max |b|): an error relative to the tensor's
/// largest entry, as float rounding of a kernel is. `what` names the tensor in the message.
inline void expect_close_to_scale(const torch::Tensor& a, const torch::Tensor& b, double tol,
                                  const std::string& what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  const double scale = std::max(1.0, b.abs().max().item<double>());
  EXPECT_LE((a - b).abs().max().item<double>(), tol * scale) << what;
}

}  // namespace cellvae::testing
