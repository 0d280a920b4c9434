// A Linear layer whose matrix products are split over LibTorch's intra-op threads.
//
// cellvae runs OpenBLAS single-threaded (threads.hpp: its pool and LibTorch's OpenMP pool fight
// over the cores otherwise), so a plain torch::linear multiplies on one core while the other
// intra-op threads wait. The decoder's output heads (hidden -> genes: the largest products of
// scVI- and VAExprs-like models) are split by output feature here, forward and backward, each
// part a single-threaded BLAS call on its own thread.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace cellvae::model {

/// Products smaller than this many multiply-adds (rows x in x out) are not split.
inline constexpr std::int64_t kParallelLinearMinWork = 1 << 20;

/// torch::nn::functional::linear(x, weight, bias) (x: rows x in, weight: out x in, bias: out or
/// undefined), with y, the weight gradient and the input gradient computed in column blocks on
/// LibTorch's intra-op threads. Differentiable w.r.t. x, weight and bias (first derivatives
/// only). Equal to torch's linear up to float rounding (identical blocks of the same products).
/// Falls back to torch's linear for other devices or dtypes, other than 2-D inputs, one thread,
/// less work than kParallelLinearMinWork, or a build without OpenMP (see
/// src/model/kernel_support.hpp).
torch::Tensor parallel_linear(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias);

}  // namespace cellvae::model
