// library_softmax (the library-scaled softmax mean as one kernel) equals LibTorch's
// exp(log_library) * softmax(logits): output and the gradients of logits and log_library, for
// shapes across the vector-lane and thread-split boundaries; other dtypes take LibTorch's path;
// and its gradient matches central differences of its own output.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/Parallel.h>

#include <string>
#include <utility>
#include <vector>

#include "cellvae/model/library_softmax.hpp"
#include "tensor_compare.hpp"

namespace cm = cellvae::model;
using cellvae::testing::expect_close_to_scale;

namespace {

struct Result {
  torch::Tensor mu, d_logits, d_log_library;
};

Result run(bool fused, const torch::Tensor& logits0, const torch::Tensor& log_library0,
           const torch::Tensor& up) {
  torch::Tensor logits = logits0.clone().requires_grad_(true);
  torch::Tensor log_library = log_library0.clone().requires_grad_(true);
  torch::Tensor mu = fused ? cm::library_softmax(logits, log_library)
                           : torch::exp(log_library.reshape({-1, 1})) * torch::softmax(logits, 1);
  (mu * up).sum().backward();
  return {mu.detach(), logits.grad(), log_library.grad()};
}


}  // namespace

TEST(LibrarySoftmax, EqualsTorchSoftmaxTimesLibrary) {
  const int threads = at::get_num_threads();
  at::set_num_threads(std::max(2, threads));
  // 1 x 1 up to 129 x 1287 (kang's genes; above the threading threshold) and 3 x 20000.
  for (auto [rows, cols] : std::vector<std::pair<int, int>>{
           {1, 1}, {2, 7}, {5, 8}, {3, 37}, {129, 1287}, {3, 20000}, {64, 300}}) {
    for (bool column_library : {false, true}) {
      const std::string what = std::to_string(rows) + " x " + std::to_string(cols) +
                               (column_library ? " (cells x 1 library)" : "");
      torch::manual_seed(rows * 31 + cols);
      // Logits spread like a decoder's (some genes far below the row maximum), libraries of
      // 10..1e5 counts.
      const torch::Tensor logits = torch::randn({rows, cols}) * 4 - 2;
      torch::Tensor log_library = torch::rand({rows}) * std::log(1e4) + std::log(10.0);
      if (column_library) log_library = log_library.reshape({rows, 1});
      const torch::Tensor up = torch::randn({rows, cols});
      const Result f = run(true, logits, log_library, up);
      const Result t = run(false, logits, log_library, up);
      expect_close_to_scale(f.mu, t.mu, 2e-6, what + " mu");
      // Every row sums to its library.
      expect_close_to_scale(f.mu.sum(1).log(), log_library.reshape({-1}), 1e-5, what + " row sums");
      expect_close_to_scale(f.d_logits, t.d_logits, 2e-5, what + " d logits");
      expect_close_to_scale(f.d_log_library, t.d_log_library, 2e-5, what + " d log_library");
      EXPECT_EQ(f.d_log_library.sizes(), log_library.sizes()) << what;
    }
  }
  at::set_num_threads(threads);
}

TEST(LibrarySoftmax, AppliesOnlyToCpuFloatWithOneLibraryPerRow) {
  const torch::Tensor h = torch::zeros({3, 4}), l = torch::zeros({3});
  EXPECT_TRUE(cm::library_softmax_applies(h, l));
  EXPECT_TRUE(cm::library_softmax_applies(h, l.reshape({3, 1})));
  EXPECT_FALSE(cm::library_softmax_applies(h.to(torch::kDouble), l.to(torch::kDouble)));
  EXPECT_FALSE(cm::library_softmax_applies(h, torch::zeros({4})));
  EXPECT_FALSE(cm::library_softmax_applies(h, torch::zeros({1, 3})));
  EXPECT_THROW(cm::library_softmax(h, torch::zeros({4})), std::invalid_argument);
  // Double inputs take LibTorch's path and give the same values.
  const torch::Tensor hd = torch::randn({3, 4}, torch::kDouble), ld = torch::rand({3}, torch::kDouble);
  EXPECT_TRUE(torch::allclose(cm::library_softmax(hd, ld),
                              torch::exp(ld.reshape({-1, 1})) * torch::softmax(hd, 1)));
}

// Gradient check of the kernel itself in float against central differences of its own output
// (independent of LibTorch's softmax).
TEST(LibrarySoftmax, GradientMatchesFiniteDifferences) {
  torch::manual_seed(11);
  const torch::Tensor h0 = torch::randn({4, 13});
  const torch::Tensor l0 = torch::rand({4}) * 3;
  const torch::Tensor up = torch::randn({4, 13});
  auto loss = [&](const torch::Tensor& h, const torch::Tensor& l) {
    return (cm::library_softmax(h, l) * up).sum().item<double>();
  };
  const Result r = run(true, h0, l0, up);
  const double eps = 1e-2;
  for (std::int64_t i = 0; i < h0.numel(); ++i) {
    torch::Tensor hp = h0.clone(), hm = h0.clone();
    hp.view(-1)[i] += eps;
    hm.view(-1)[i] -= eps;
    const double numeric = (loss(hp, l0) - loss(hm, l0)) / (2 * eps);
    EXPECT_NEAR(r.d_logits.view(-1)[i].item<double>(), numeric,
                2e-2 * std::max(1.0, std::abs(numeric)))
        << "logit " << i;
  }
  for (std::int64_t i = 0; i < l0.numel(); ++i) {
    torch::Tensor lp = l0.clone(), lm = l0.clone();
    lp[i] += eps;
    lm[i] -= eps;
    const double numeric = (loss(h0, lp) - loss(h0, lm)) / (2 * eps);
    EXPECT_NEAR(r.d_log_library[i].item<double>(), numeric,
                2e-2 * std::max(1.0, std::abs(numeric)))
        << "library " << i;
  }
}
