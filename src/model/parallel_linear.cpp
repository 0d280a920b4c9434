#include "cellvae/model/parallel_linear.hpp"

#include <ATen/Parallel.h>

#include <algorithm>

#include "kernel_support.hpp"

namespace cellvae::model {
namespace {

using kernels::block_range;
using kernels::for_blocks;

struct ParallelLinearFunction : public torch::autograd::Function<ParallelLinearFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x_in,
                               const torch::Tensor& weight_in, const torch::Tensor& bias_in,
                               bool has_bias) {
    const torch::Tensor x = x_in.detach().contiguous();
    const torch::Tensor w = weight_in.detach().contiguous();
    const std::int64_t out = w.size(0);
    const std::int64_t blocks = std::min<std::int64_t>(at::get_num_threads(), out);
    torch::Tensor y = torch::empty({x.size(0), out}, x.options());
    for_blocks(blocks, [&](std::int64_t b) {
      const auto [o0, o1] = block_range(out, blocks, b);
      torch::Tensor yb = y.narrow(1, o0, o1 - o0);
      const torch::Tensor wb = w.narrow(0, o0, o1 - o0);
      if (has_bias)
        at::addmm_out(yb, bias_in.detach().narrow(0, o0, o1 - o0), x, wb.t());
      else
        at::mm_out(yb, x, wb.t());
    });
    ctx->save_for_backward({x, w});
    ctx->saved_data["has_bias"] = has_bias;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& w = saved[1];
    const torch::Tensor dy = grad_outputs[0].contiguous();
    const std::int64_t out = w.size(0), in = w.size(1);
    const std::int64_t threads = at::get_num_threads();
    torch::Tensor dx, dw;
    if (ctx->needs_input_grad(0)) {
      // dx = dy w, in blocks of input columns: dx[:, c] = dy w[:, c].
      dx = torch::empty({x.size(0), in}, dy.options());
      const std::int64_t blocks = std::min(threads, in);
      for_blocks(blocks, [&](std::int64_t b) {
        const auto [c0, c1] = block_range(in, blocks, b);
        torch::Tensor dxb = dx.narrow(1, c0, c1 - c0);
        at::mm_out(dxb, dy, w.narrow(1, c0, c1 - c0));
      });
    }
    if (ctx->needs_input_grad(1)) {
      // dw = dyᵀ x, in blocks of output rows.
      dw = torch::empty({out, in}, dy.options());
      const std::int64_t blocks = std::min(threads, out);
      for_blocks(blocks, [&](std::int64_t b) {
        const auto [o0, o1] = block_range(out, blocks, b);
        torch::Tensor dwb = dw.narrow(0, o0, o1 - o0);
        at::mm_out(dwb, dy.narrow(1, o0, o1 - o0).t(), x);
      });
    }
    torch::Tensor db;
    if (ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(2)) db = dy.sum(0);
    return {dx, dw, db, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor parallel_linear(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias) {
  const bool plain =
      !x.defined() || !weight.defined() || x.dim() != 2 || weight.dim() != 2 ||
      !x.device().is_cpu() || !weight.device().is_cpu() ||
      (x.scalar_type() != torch::kFloat && x.scalar_type() != torch::kDouble) ||
      x.scalar_type() != weight.scalar_type() || x.size(1) != weight.size(1) ||
      (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0) ||
                          bias.scalar_type() != weight.scalar_type())) ||
      at::get_num_threads() < 2 || at::in_parallel_region() ||
      x.size(0) * weight.size(0) * weight.size(1) < kParallelLinearMinWork;
  // Without OpenMP at::parallel_for is serial (kernel_support.hpp): the blocks would only run
  // one after the other.
  constexpr bool serial_build =
#if defined(_OPENMP)
      false;
#else
      true;
#endif
  if (plain || serial_build) return torch::nn::functional::linear(x, weight, bias);
  return ParallelLinearFunction::apply(x, weight,
                                       bias.defined() ? bias : torch::empty({0}, weight.options()),
                                       bias.defined());
}

}  // namespace cellvae::model
