// The fused Adam/AdamW equal LibTorch's torch::optim::Adam/AdamW step by step (float and
// double, with and without weight decay, several learning rates), including the steps where a
// parameter's gradient was cleared to undefined (clear_gradients) rather than zeroed.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "cellvae/train/fused_adam.hpp"

namespace ct = cellvae::train;

namespace {

// Parameters of mixed sizes (one large enough to be split over threads) and matching
// gradients for each of `steps` steps; parameter 2 gets no gradient on odd steps.
struct Problem {
  std::vector<torch::Tensor> start;
  std::vector<std::vector<torch::Tensor>> grads;  // [step][param]
};

Problem make_problem(torch::Dtype dtype, int steps) {
  torch::manual_seed(3);
  const auto opt = torch::TensorOptions().dtype(dtype);
  Problem pr;
  pr.start = {torch::randn({70000}, opt), torch::randn({13, 7}, opt), torch::randn({5}, opt)};
  for (int s = 0; s < steps; ++s) {
    std::vector<torch::Tensor> g;
    for (const auto& p : pr.start) g.push_back(torch::randn(p.sizes(), opt) * (s + 1) * 0.3);
    pr.grads.push_back(g);
  }
  return pr;
}

// Runs `steps` steps of `make(params)` with the problem's gradients; `clear` sets gradients
// to undefined between steps (the fused optimizer's way), otherwise zero_grad() zeroes them.
template <class Make>
std::vector<torch::Tensor> run(const Problem& pr, Make make, bool clear) {
  std::vector<torch::Tensor> params;
  for (const auto& p : pr.start) params.push_back(p.clone().requires_grad_(true));
  auto opt = make(params);
  for (std::size_t s = 0; s < pr.grads.size(); ++s) {
    if (clear)
      ct::clear_gradients(params);
    else
      opt->zero_grad();
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (i == 2 && s % 2 == 1) {
        // No gradient this step: LibTorch's zero_grad leaves zeros (after the first step).
        continue;
      }
      if (params[i].grad().defined())
        params[i].mutable_grad().copy_(pr.grads[s][i]);
      else
        params[i].mutable_grad() = pr.grads[s][i].clone();
    }
    opt->step();
  }
  std::vector<torch::Tensor> out;
  for (const auto& p : params) out.push_back(p.detach().clone());
  return out;
}

void expect_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b,
                  double rtol, double atol, const std::string& what) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(torch::allclose(a[i], b[i], rtol, atol))
        << what << " parameter " << i << ": max |diff| "
        << (a[i] - b[i]).abs().max().item<double>();
}

}  // namespace

TEST(FusedAdam, EqualsTorchAdamOverSeveralSteps) {
  for (auto dtype : {torch::kFloat, torch::kDouble})
    for (double wd : {0.0, 1e-6, 0.05})
      for (double eps : {1e-8, 0.01}) {
        const Problem pr = make_problem(dtype, 7);
        auto options = torch::optim::AdamOptions(3e-3).eps(eps).weight_decay(wd);
        const auto fused = run(
            pr, [&](auto& p) { return std::make_unique<ct::FusedAdam>(p, options); }, true);
        const auto torch_adam = run(
            pr, [&](auto& p) { return std::make_unique<torch::optim::Adam>(p, options); },
            false);
        const std::string what = std::string(dtype == torch::kFloat ? "float" : "double") +
                                 " wd " + std::to_string(wd) + " eps " + std::to_string(eps);
        const double tol = dtype == torch::kFloat ? 1e-6 : 1e-13;
        expect_equal(fused, torch_adam, tol, tol, what);
      }
}

TEST(FusedAdam, AdamWEqualsTorchAdamWOverSeveralSteps) {
  for (auto dtype : {torch::kFloat, torch::kDouble})
    for (double wd : {0.0, 0.01, 0.3}) {
      const Problem pr = make_problem(dtype, 6);
      auto options = torch::optim::AdamWOptions(1e-2).eps(1e-7).weight_decay(wd).betas(
          std::make_tuple(0.8, 0.99));
      const auto fused = run(
          pr, [&](auto& p) { return std::make_unique<ct::FusedAdamW>(p, options); }, true);
      const auto torch_adamw = run(
          pr, [&](auto& p) { return std::make_unique<torch::optim::AdamW>(p, options); }, false);
      const double tol = dtype == torch::kFloat ? 1e-6 : 1e-13;
      expect_equal(fused, torch_adamw, tol, tol, "adamw wd " + std::to_string(wd));
    }
}

TEST(FusedAdam, LearningRateChangesAndStateAreTorchs) {
  const Problem pr = make_problem(torch::kFloat, 4);
  std::vector<torch::Tensor> a, b;
  for (const auto& p : pr.start) {
    a.push_back(p.clone().requires_grad_(true));
    b.push_back(p.clone().requires_grad_(true));
  }
  ct::FusedAdam fused(a, torch::optim::AdamOptions(1e-3));
  torch::optim::Adam plain(b, torch::optim::AdamOptions(1e-3));
  for (std::size_t s = 0; s < pr.grads.size(); ++s) {
    if (s == 2) {
      for (auto& g : fused.param_groups()) g.options().set_lr(0.1);
      for (auto& g : plain.param_groups()) g.options().set_lr(0.1);
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
      a[i].mutable_grad() = pr.grads[s][i].clone();
      b[i].mutable_grad() = pr.grads[s][i].clone();
    }
    fused.step();
    plain.step();
  }
  expect_equal(a, b, 1e-6, 1e-6, "after a learning-rate change");
  // The state is torch's AdamParamState: same step count and moments.
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::string ka = c10::guts::to_string(a[i].unsafeGetTensorImpl());
    const std::string kb = c10::guts::to_string(b[i].unsafeGetTensorImpl());
    const auto& sa = static_cast<torch::optim::AdamParamState&>(*fused.state().at(ka));
    const auto& sb = static_cast<torch::optim::AdamParamState&>(*plain.state().at(kb));
    EXPECT_EQ(sa.step(), sb.step());
    EXPECT_TRUE(torch::allclose(sa.exp_avg(), sb.exp_avg(), 1e-6, 1e-7));
    EXPECT_TRUE(torch::allclose(sa.exp_avg_sq(), sb.exp_avg_sq(), 1e-6, 1e-9));
  }
}

TEST(FusedAdam, FallsBackToTorchForAmsgrad) {
  const Problem pr = make_problem(torch::kFloat, 3);
  auto options = torch::optim::AdamOptions(1e-2).amsgrad(true);
  const auto fused =
      run(pr, [&](auto& p) { return std::make_unique<ct::FusedAdam>(p, options); }, false);
  const auto plain =
      run(pr, [&](auto& p) { return std::make_unique<torch::optim::Adam>(p, options); }, false);
  expect_equal(fused, plain, 0, 0, "amsgrad");
}

TEST(ClearGradients, LeavesEveryGradientUndefined) {
  std::vector<torch::Tensor> p = {torch::ones({3}, torch::requires_grad()),
                                  torch::ones({2}, torch::requires_grad())};
  (p[0].sum() + p[1].sum()).backward();
  ASSERT_TRUE(p[0].grad().defined());
  ct::clear_gradients(p);
  EXPECT_FALSE(p[0].grad().defined());
  EXPECT_FALSE(p[1].grad().defined());
}
