// Training-mode batch normalisation of a minibatch (cells x features) with an optional ReLU, as
// one CPU kernel per direction.
//
// Why: LibTorch 1.13's CPU batch norm takes its generic N x C x spatial path for a 2-D input and
// spends ~0.35 ms forward and ~0.2 ms backward on a 128 x 128 minibatch, about 13% of an scVI
// epoch (bench/bench_train_step --trace); the data fit in L1 cache and need a few microseconds.
#pragma once

#include <torch/torch.h>

namespace cellvae::model {

/// Whether batch_norm_relu_train() runs its own kernel for these tensors: CPU, float32, x 2-D
/// with at least 2 rows, weight and bias defined with x.size(1) entries. Otherwise it falls back
/// to torch::batch_norm (+ torch::relu), with the same results.
bool fused_batch_norm_applies(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias);

/// y = relu?(weight * (x - mean) / sqrt(var + eps) + bias) with the minibatch's per-column mean
/// and biased variance, differentiable w.r.t. x, weight and bias (first derivatives); `relu`
/// false leaves out the ReLU. Updates the running statistics in place as torch::nn::BatchNorm1d
/// does in training mode: running = (1 - momentum) running + momentum batch, with the unbiased
/// variance for running_var (num_batches_tracked is the caller's). Equal to
/// torch::batch_norm(x, weight, bias, running_mean, running_var, true, momentum, eps) followed
/// by torch::relu up to float rounding (tests/model/test_fused_batch_norm.cpp).
torch::Tensor batch_norm_relu_train(const torch::Tensor& x, const torch::Tensor& weight,
                                    const torch::Tensor& bias, torch::Tensor& running_mean,
                                    torch::Tensor& running_var, double momentum, double eps,
                                    bool relu);

}  // namespace cellvae::model
