// The configurable fully connected block that every encoder and decoder is made of, with
// categorical covariates (CVAE labels, scVI batches) injected as one-hot columns. It mirrors
// scVI's FCLayers: per hidden layer Linear -> normalisation -> activation -> dropout.
//
// Orientation: rows are cells. Inputs are floating tensors (float or double) on one device.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "cellvae/model/layer_kind.hpp"
#include "cellvae/model/sparse_linear.hpp"

namespace cellvae::model {

/// Architecture of one MLP. Fields are checked when the module is built (validate()).
struct MlpOptions {
  /// Width of the input x (genes for an encoder, latent dimension for a decoder). > 0.
  int64_t input_dim = 0;
  /// Widths of the hidden layers, first to last; each > 0. Empty: the MLP is the identity on x
  /// (covariates are then ignored), so a linear decoder head can sit directly on z.
  std::vector<int64_t> hidden;
  /// Nonlinearity after each hidden layer (see Activation for formulas).
  Activation activation = Activation::relu;
  /// Normalisation between each Linear and its activation.
  Normalization norm = Normalization::none;
  /// Probability of zeroing a unit after each activation in training mode (inverted dropout:
  /// kept units are scaled by 1 / (1 - dropout)); no effect in eval mode. In [0, 1).
  double dropout = 0.0;
  /// Total one-hot width of all categorical covariates (sum of their category counts, see
  /// one_hot_covariates); 0 for none. >= 0.
  int64_t covariate_dim = 0;
  /// Which Linear layers see the covariates; irrelevant when covariate_dim is 0.
  CovariateInjection injection = CovariateInjection::first_layer;
};

/// Throws InputError naming the first invalid field ("MlpOptions.hidden[1] must be > 0 ...").
void validate(const MlpOptions& options);

/// Input width of hidden layer `layer` (0-based): the previous width (input_dim for layer 0)
/// plus covariate_dim if the covariates are injected there.
int64_t linear_input_dim(const MlpOptions& options, std::size_t layer);

namespace detail {
class MlpLayerImpl;
}

/// The MLP as a LibTorch module.
///
/// Registered names (the checkpoint format; keep them stable), for hidden layer i = 0, 1, ...:
///
/// | name                            | what                                              |
/// |---------------------------------|---------------------------------------------------|
/// | `layers.i.linear.weight`        | hidden[i] x linear_input_dim(options, i)          |
/// | `layers.i.linear.bias`          | hidden[i]                                         |
/// | `layers.i.norm.weight`, `.bias` | hidden[i]; Normalization::batch only              |
/// | `layers.i.norm.running_mean`,   | buffers, hidden[i] (num_batches_tracked scalar);  |
/// | `.running_var`, `.num_batches_tracked` | Normalization::batch only                  |
///
/// Layer norm has no parameters (as scVI) and dropout none, so neither appears. When covariates
/// are injected into a Linear they are its last covariate_dim input columns: the layer computes
/// W [input, one-hot] + b.
///
/// Weights start with LibTorch's default Linear initialisation (Kaiming-uniform, as PyTorch and
/// so scVI), drawn from LibTorch's global generator: seed it (torch::manual_seed) before
/// constructing for reproducible weights.
///
/// Saving: torch::save(mlp, path) / torch::load(mlp, path) into an Mlp built from the same
/// options restores parameters and batch-norm buffers exactly.
class MlpImpl : public torch::nn::Module {
 public:
  /// Builds the layers; throws InputError (validate()) on invalid options.
  explicit MlpImpl(MlpOptions options);

  /// Runs the layers on x (cells x input_dim); each Linear is parallel_linear (torch's linear
  /// with its products split over the intra-op threads when large). `covariates` is the
  /// cells x covariate_dim one-hot (one_hot_covariates), converted to x's dtype and device; it
  /// may be undefined (or have 0 columns) only when covariate_dim is 0. Returns cells x
  /// output_dim(). Throws InputError when the shapes do not match the options.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& covariates = {});

  /// forward() for an input given by its nonzeros (CPU): the first Linear is sparse_linear
  /// (sparse_linear.hpp), so its cost scales with the stored entries instead of cells x
  /// input_dim; the rest is as forward(). `covariate_columns` replaces the one-hot covariates:
  /// int64, cells x (number of covariates), each cell's one-hot column within the covariate
  /// block, offset by input_dim (so in [input_dim, input_dim + covariate_dim)); undefined when
  /// covariate_dim is 0. Equals forward(csr_to_dense(x), one-hot) up to float rounding.
  /// Throws InputError for mismatched shapes, std::logic_error without hidden layers.
  torch::Tensor forward_sparse(const CsrRows& x, const torch::Tensor& covariate_columns = {});

  /// Width of forward's result: hidden.back(), or input_dim when hidden is empty.
  int64_t output_dim() const;
  const MlpOptions& options() const { return options_; }

 private:
  MlpOptions options_;
  torch::nn::ModuleList layers_;
  std::vector<std::shared_ptr<detail::MlpLayerImpl>> layer_ptrs_;
};
TORCH_MODULE(Mlp);

/// Concatenated one-hot encoding of several categorical covariates: cells x sum(n_categories),
/// covariate 0's columns first. `codes` is cells x covariates, integral, code c of covariate j
/// in [0, n_categories[j]). A missing code (-1) or any code out of range throws InputError
/// naming the covariate and cell. Returns an undefined tensor when there are no covariates.
torch::Tensor one_hot_covariates(const torch::Tensor& codes,
                                 const std::vector<int64_t>& n_categories,
                                 torch::Dtype dtype = torch::kFloat32);

/// Same, from one code vector per covariate (all of one length: the number of cells).
torch::Tensor one_hot_covariates(const std::vector<std::vector<int32_t>>& codes_per_covariate,
                                 const std::vector<int64_t>& n_categories,
                                 torch::Dtype dtype = torch::kFloat32);

}  // namespace cellvae::model
