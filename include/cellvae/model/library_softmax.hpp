// The count mean of library-size models, mu = exp(log_library) * softmax(logits) per cell, as
// one CPU kernel per direction.
//
// Why: LibTorch computes it as softmax, exp and a broadcast product, each with its own pass
// over the cells x genes tensor forward and again backward. One kernel per direction takes
// 0.7x the time on 128 x 1,287 and 0.65x on 128 x 20,000 (BM_LibrarySoftmax, one thread); on
// the 20,000-gene data set the decoder's softmax is the largest non-matrix-product cost.
#pragma once

#include <torch/torch.h>

namespace cellvae::model {

/// Whether library_softmax() runs its own kernel for these tensors: CPU, float32, logits 2-D
/// (cells x genes, genes >= 1) and log_library with one value per cell (cells, or cells x 1) of
/// the same dtype and device. Otherwise it computes the same with LibTorch's operations.
bool library_softmax_applies(const torch::Tensor& logits, const torch::Tensor& log_library);

/// exp(log_library) * softmax(logits, 1): cells x genes, each row summing to its library size.
/// Differentiable w.r.t. logits and log_library (first derivatives): with mu the output and g
/// the incoming gradient, d logits = mu (g - Σ g mu / Σ mu) and d log_library = Σ g mu, per
/// row. Equal to torch::exp(log_library.reshape({-1, 1})) * torch::softmax(logits, 1) up to
/// float rounding (tests/model/test_library_softmax.cpp). Throws std::invalid_argument when
/// log_library does not have one value per row.
torch::Tensor library_softmax(const torch::Tensor& logits, const torch::Tensor& log_library);

}  // namespace cellvae::model
