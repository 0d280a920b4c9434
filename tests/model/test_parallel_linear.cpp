// parallel_linear (products split over the intra-op threads) equals torch's linear: output and
// the gradients of input, weight and bias, float and double, with and without bias, above and
// below the size where it splits.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/Parallel.h>

#include <string>

#include "cellvae/model/parallel_linear.hpp"

namespace cm = cellvae::model;

TEST(ParallelLinear, EqualsTorchLinearWithGradients) {
  const int threads = at::get_num_threads();
  at::set_num_threads(std::max(2, threads));  // the split needs two threads
  for (auto dtype : {torch::kFloat, torch::kDouble})
    for (bool with_bias : {true, false})
      for (std::int64_t rows : {3, 128}) {  // 3 x 130 x 1287 is below kParallelLinearMinWork
        const std::string what = std::string(dtype == torch::kFloat ? "float" : "double") +
                                 (with_bias ? " bias" : "") + " rows " + std::to_string(rows);
        torch::manual_seed(6);
        const auto opt = torch::TensorOptions().dtype(dtype);
        const torch::Tensor x0 = torch::randn({rows, 130}, opt);
        const torch::Tensor w0 = torch::randn({1287, 130}, opt) * 0.1;
        const torch::Tensor b0 = torch::randn({1287}, opt);
        const torch::Tensor up = torch::randn({rows, 1287}, opt);
        auto run = [&](bool parallel) {
          torch::Tensor x = x0.clone().requires_grad_(true);
          torch::Tensor w = w0.clone().requires_grad_(true);
          torch::Tensor b = with_bias ? b0.clone().requires_grad_(true) : torch::Tensor();
          torch::Tensor y = parallel ? cm::parallel_linear(x, w, b)
                                     : torch::nn::functional::linear(x, w, b);
          (y * up).sum().backward();
          return std::vector<torch::Tensor>{y.detach(), x.grad(), w.grad(),
                                            with_bias ? b.grad() : torch::zeros({1})};
        };
        const auto p = run(true), t = run(false);
        const double tol = dtype == torch::kFloat ? 1e-4 : 1e-11;
        for (std::size_t i = 0; i < p.size(); ++i)
          EXPECT_TRUE(torch::allclose(p[i], t[i], tol, tol))
              << what << " output " << i << ": max |diff| "
              << (p[i] - t[i]).abs().max().item<double>();
      }
  // Without an input gradient (a first layer reading data).
  torch::Tensor w = torch::randn({1287, 128}).requires_grad_(true);
  torch::Tensor y = cm::parallel_linear(torch::randn({128, 128}), w, torch::Tensor());
  y.sum().backward();
  EXPECT_TRUE(w.grad().defined());
  at::set_num_threads(threads);
}
