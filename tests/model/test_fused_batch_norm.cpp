// batch_norm_relu_train (one-kernel training-mode batch norm + ReLU) equals LibTorch's
// BatchNorm1d followed by relu: output, gradients of input, weight and bias, and the running
// statistics, for minibatch shapes from 2 rows up, with and without the ReLU; other dtypes take
// LibTorch's path. And an MLP with batch norm trains to the same output with either path.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/Parallel.h>

#include <string>
#include <vector>

#include "cellvae/model/fused_batch_norm.hpp"
#include "tensor_compare.hpp"

namespace cm = cellvae::model;
using cellvae::testing::expect_close_to_scale;

namespace {

struct Result {
  torch::Tensor y, dx, dweight, dbias, running_mean, running_var;
};

Result run(bool fused, const torch::Tensor& x0, const torch::Tensor& up, bool relu) {
  const std::int64_t cols = x0.size(1);
  torch::manual_seed(3);
  torch::nn::BatchNorm1d bn(torch::nn::BatchNorm1dOptions(cols).momentum(0.01).eps(1e-3));
  {
    torch::NoGradGuard no_grad;  // non-trivial affine parameters and running statistics
    bn->weight.uniform_(0.5, 1.5);
    bn->bias.uniform_(-0.5, 0.5);
    bn->running_mean.uniform_(-1.0, 1.0);
    bn->running_var.uniform_(0.5, 2.0);
  }
  bn->to(x0.scalar_type());
  torch::Tensor x = x0.clone().requires_grad_(true);
  torch::Tensor y;
  if (fused) {
    y = cm::batch_norm_relu_train(x, bn->weight, bn->bias, bn->running_mean, bn->running_var,
                                  0.01, 1e-3, relu);
  } else {
    bn->train();
    y = bn->forward(x);
    if (relu) y = torch::relu(y);
  }
  (y * up).sum().backward();
  return {y.detach(), x.grad(), bn->weight.grad(), bn->bias.grad(), bn->running_mean.clone(),
          bn->running_var.clone()};
}


}  // namespace

TEST(FusedBatchNorm, EqualsTorchBatchNormAndRelu) {
  const int threads = at::get_num_threads();
  at::set_num_threads(std::max(2, threads));
  for (auto dtype : {torch::kFloat, torch::kDouble})
    for (bool relu : {true, false})
      for (auto [rows, cols] : std::vector<std::pair<int, int>>{{128, 128}, {2, 7}, {3, 37},
                                                                {513, 20}, {64, 300}}) {
        const std::string what = std::string(dtype == torch::kFloat ? "float" : "double") +
                                 (relu ? " relu " : " ") + std::to_string(rows) + " x " +
                                 std::to_string(cols);
        torch::manual_seed(rows + cols);
        const auto opt = torch::TensorOptions().dtype(dtype);
        // Shifted and scaled columns, as a Linear's outputs are.
        const torch::Tensor x0 =
            torch::randn({rows, cols}, opt) * torch::rand({cols}, opt) * 3 + torch::randn({cols}, opt);
        const torch::Tensor up = torch::randn({rows, cols}, opt);
        const Result f = run(true, x0, up, relu), t = run(false, x0, up, relu);
        const double tol = dtype == torch::kFloat ? 2e-5 : 1e-12;
        expect_close_to_scale(f.y, t.y, tol, what + " y");
        expect_close_to_scale(f.dx, t.dx, tol * 10, what + " dx");  // rows = 2 amplifies rounding
        expect_close_to_scale(f.dweight, t.dweight, tol * 10, what + " dweight");
        expect_close_to_scale(f.dbias, t.dbias, tol * 10, what + " dbias");
        expect_close_to_scale(f.running_mean, t.running_mean, tol, what + " running_mean");
        expect_close_to_scale(f.running_var, t.running_var, tol, what + " running_var");
      }
  at::set_num_threads(threads);
}

TEST(FusedBatchNorm, AppliesOnlyToCpuFloatMinibatchesOfTwoOrMoreRows) {
  const torch::Tensor w = torch::ones({4}), b = torch::zeros({4});
  EXPECT_TRUE(cm::fused_batch_norm_applies(torch::zeros({2, 4}), w, b));
  EXPECT_FALSE(cm::fused_batch_norm_applies(torch::zeros({1, 4}), w, b));
  EXPECT_FALSE(cm::fused_batch_norm_applies(torch::zeros({2, 4}, torch::kDouble), w, b));
  EXPECT_FALSE(cm::fused_batch_norm_applies(torch::zeros({2, 5}), w, b));
  EXPECT_FALSE(cm::fused_batch_norm_applies(torch::zeros({2, 4, 1}), w, b));
  EXPECT_FALSE(cm::fused_batch_norm_applies(torch::zeros({2, 4}), torch::Tensor(), b));
}

// Gradient check of the kernel itself in float against central differences of its own loss
// (independent of LibTorch's batch norm).
TEST(FusedBatchNorm, GradientMatchesFiniteDifferences) {
  torch::manual_seed(9);
  const torch::Tensor x0 = torch::randn({6, 5}) * 2 + 1;
  const torch::Tensor up = torch::randn({6, 5});
  const torch::Tensor w = torch::rand({5}) + 0.5, b = torch::randn({5}) * 0.1;
  auto loss = [&](const torch::Tensor& x, bool grad) {
    torch::Tensor rm = torch::zeros({5}), rv = torch::ones({5});
    torch::Tensor xx = x.clone().requires_grad_(grad);
    torch::Tensor l = (cm::batch_norm_relu_train(xx, w, b, rm, rv, 0.1, 1e-3, true) * up).sum();
    if (grad) l.backward();
    return std::make_pair(l.item<double>(), grad ? xx.grad() : torch::Tensor());
  };
  const torch::Tensor dx = loss(x0, true).second;
  const double h = 1e-2;
  for (std::int64_t i = 0; i < x0.numel(); ++i) {
    torch::Tensor xp = x0.clone(), xm = x0.clone();
    xp.view(-1)[i] += h;
    xm.view(-1)[i] -= h;
    const double numeric = (loss(xp, false).first - loss(xm, false).first) / (2 * h);
    EXPECT_NEAR(dx.view(-1)[i].item<double>(), numeric, 2e-2 * std::max(1.0, std::abs(numeric)))
        << "entry " << i;
  }
}
