// Gradient check shared by the model tests: autograd against central finite differences.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace cellvae::testing {

/// For every entry of every input (double tensors with requires_grad), compares d loss / d entry
/// from autograd with a central difference (step 1e-6 relative), within
/// `tolerance * max(1, |fd|)`. `label` prefixes failure messages.
inline void expect_gradients_match_finite_differences(const std::function<torch::Tensor()>& loss,
                                                      const std::vector<torch::Tensor>& inputs,
                                                      double tolerance, const std::string& label) {
  const auto grads = torch::autograd::grad({loss()}, inputs);
  torch::NoGradGuard no_grad;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    torch::Tensor flat = inputs[k].view(-1);
    const torch::Tensor g = grads[k].reshape(-1);
    ASSERT_EQ(g.numel(), flat.numel());
    for (std::int64_t i = 0; i < flat.numel(); ++i) {
      const double v = flat[i].item<double>();
      const double h = 1e-6 * std::max(1.0, std::abs(v));
      flat[i] = v + h;
      const double up = loss().item<double>();
      flat[i] = v - h;
      const double down = loss().item<double>();
      flat[i] = v;
      const double fd = (up - down) / (2 * h);
      EXPECT_NEAR(g[i].item<double>(), fd, tolerance * std::max(1.0, std::abs(fd)))
          << label << " input " << k << " entry " << i;
    }
  }
}

}  // namespace cellvae::testing
