// Adam and AdamW whose update of a parameter is one multi-threaded pass over it (gradient,
// both moments and the weight read and written once), instead of LibTorch's eight tensor
// operations and three temporaries per parameter. Drop-in subclasses of torch::optim::Adam and
// AdamW: same options, same per-parameter state (AdamParamState), same save/load format.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace cellvae::train {

/// torch::optim::Adam with a fused step for dense CPU float/double parameters. Semantics are
/// LibTorch 1.13's Adam::step, per parameter p with gradient g at step t (1-based):
///   g <- g + weight_decay * p                  (L2 penalty, when weight_decay != 0)
///   m <- beta1 m + (1 - beta1) g,   v <- beta2 v + (1 - beta2) g^2
///   p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
/// computed in the parameter's dtype, so results equal torch's to rounding (a few ulps).
/// A parameter whose gradient is undefined but that has state (it had a gradient before: see
/// clear_gradients) is stepped with g = 0, as LibTorch's zero_grad() would have left it.
/// Falls back to torch::optim::Adam::step for amsgrad, sparse or non-CPU tensors and other
/// dtypes.
class FusedAdam : public torch::optim::Adam {
 public:
  FusedAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options);
  torch::Tensor step(LossClosure closure = nullptr) override;
};

/// torch::optim::AdamW with the same fused step; decoupled weight decay first
/// (p <- p (1 - lr weight_decay)), then the update above without the L2 term.
class FusedAdamW : public torch::optim::AdamW {
 public:
  FusedAdamW(std::vector<torch::Tensor> params, torch::optim::AdamWOptions options);
  torch::Tensor step(LossClosure closure = nullptr) override;
};

/// Sets the gradient of every tensor in `params` to undefined (PyTorch's
/// zero_grad(set_to_none=True)): the next backward then stores its gradients instead of
/// adding them to zeroed buffers (two passes over every gradient saved). Use with FusedAdam /
/// FusedAdamW, which step such parameters as LibTorch's zero_grad() would have.
void clear_gradients(const std::vector<torch::Tensor>& params);

}  // namespace cellvae::train
