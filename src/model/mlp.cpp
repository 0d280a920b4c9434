#include "cellvae/model/mlp.hpp"

#include <stdexcept>
#include <string>
#include <utility>

#include "cellvae/error.hpp"
#include "cellvae/model/fused_batch_norm.hpp"
#include "cellvae/model/parallel_linear.hpp"
#include "cellvae/model/sparse_linear.hpp"

namespace cellvae::model {

namespace detail {

// One hidden layer: Linear -> norm -> activation -> dropout. Children "linear" and, for batch
// norm, "norm" (layer norm has no parameters but is registered under the same name).
class MlpLayerImpl : public torch::nn::Module {
 public:
  MlpLayerImpl(int64_t in, int64_t out, Activation activation, Normalization norm, double dropout)
      : activation_(activation), dropout_(dropout) {
    linear_ = register_module("linear", torch::nn::Linear(in, out));
    if (norm == Normalization::batch) {
      batch_norm_ = register_module(
          "norm",
          torch::nn::BatchNorm1d(torch::nn::BatchNorm1dOptions(out).momentum(0.01).eps(1e-3)));
    } else if (norm == Normalization::layer) {
      layer_norm_ = register_module(
          "norm", torch::nn::LayerNorm(
                      torch::nn::LayerNormOptions({out}).elementwise_affine(false).eps(1e-5)));
    }
  }

  torch::Tensor forward(const torch::Tensor& input) {
    return after_linear(parallel_linear(input, linear_->weight, linear_->bias));
  }

  torch::nn::Linear& linear() { return linear_; }

  // Normalisation, activation and dropout of the Linear's output h.
  torch::Tensor after_linear(torch::Tensor h) {
    bool activated = false;
    if (batch_norm_ && is_training()) {
      // BatchNorm1d (+ ReLU) in training mode, in one kernel where it applies (it falls back to
      // LibTorch's batch norm itself).
      const auto& o = batch_norm_->options;
      activated = activation_ == Activation::relu;
      h = batch_norm_relu_train(h, batch_norm_->weight, batch_norm_->bias,
                                batch_norm_->running_mean, batch_norm_->running_var,
                                o.momentum().value(), o.eps(), activated);
      torch::NoGradGuard no_grad;
      batch_norm_->num_batches_tracked.add_(1);
    } else if (batch_norm_) {
      h = batch_norm_->forward(h);
    }
    if (layer_norm_) h = layer_norm_->forward(h);
    if (!activated) h = activate(h);
    if (dropout_ > 0.0) h = torch::dropout(h, dropout_, is_training());
    return h;
  }

 private:
  torch::Tensor activate(torch::Tensor h) const {
    switch (activation_) {
      case Activation::relu:
        h = torch::relu(h);
        break;
      case Activation::elu:
        h = torch::elu(h);
        break;
      case Activation::leaky_relu:
        h = torch::leaky_relu(h, kLeakyReluSlope);
        break;
      case Activation::tanh:
        h = torch::tanh(h);
        break;
      case Activation::sigmoid:
        h = torch::sigmoid(h);
        break;
      case Activation::softplus:
        h = torch::softplus(h);
        break;
      case Activation::linear:
        break;
    }
    return h;
  }

  Activation activation_;
  double dropout_;
  torch::nn::Linear linear_{nullptr};
  torch::nn::BatchNorm1d batch_norm_{nullptr};
  torch::nn::LayerNorm layer_norm_{nullptr};
};

}  // namespace detail

namespace {

std::string shape_of(const torch::Tensor& t) {
  std::string s;
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? " x " : "") + std::to_string(t.size(d));
  return s.empty() ? "a scalar" : s;
}

}  // namespace

void validate(const MlpOptions& options) {
  if (options.input_dim <= 0)
    throw InputError("MlpOptions.input_dim must be > 0 (got " + std::to_string(options.input_dim) +
                     ")");
  for (std::size_t i = 0; i < options.hidden.size(); ++i)
    if (options.hidden[i] <= 0)
      throw InputError("MlpOptions.hidden[" + std::to_string(i) + "] must be > 0 (got " +
                       std::to_string(options.hidden[i]) + ")");
  if (!(options.dropout >= 0.0 && options.dropout < 1.0))
    throw InputError("MlpOptions.dropout must be in [0, 1) (got " +
                     std::to_string(options.dropout) + ")");
  if (options.covariate_dim < 0)
    throw InputError("MlpOptions.covariate_dim must be >= 0 (got " +
                     std::to_string(options.covariate_dim) + ")");
}

int64_t linear_input_dim(const MlpOptions& options, std::size_t layer) {
  const int64_t previous = layer == 0 ? options.input_dim : options.hidden.at(layer - 1);
  const bool injected = layer == 0 || options.injection == CovariateInjection::every_layer;
  return previous + (injected ? options.covariate_dim : 0);
}

MlpImpl::MlpImpl(MlpOptions options) : options_(std::move(options)) {
  validate(options_);
  layers_ = register_module("layers", torch::nn::ModuleList());
  for (std::size_t i = 0; i < options_.hidden.size(); ++i) {
    auto layer = std::make_shared<detail::MlpLayerImpl>(linear_input_dim(options_, i),
                                                        options_.hidden[i], options_.activation,
                                                        options_.norm, options_.dropout);
    layers_->push_back(layer);
    layer_ptrs_.push_back(std::move(layer));
  }
}

int64_t MlpImpl::output_dim() const {
  return options_.hidden.empty() ? options_.input_dim : options_.hidden.back();
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x, const torch::Tensor& covariates) {
  if (!x.defined() || x.dim() != 2 || x.size(1) != options_.input_dim)
    throw InputError("MLP input must be cells x " + std::to_string(options_.input_dim) +
                     " (MlpOptions.input_dim), got " +
                     (x.defined() ? shape_of(x) : std::string("an undefined tensor")));
  const int64_t k = options_.covariate_dim;
  const bool has_covariates = covariates.defined() && covariates.numel() > 0;
  if (k == 0 && has_covariates)
    throw InputError("MLP got covariates (" + shape_of(covariates) +
                     ") but MlpOptions.covariate_dim is 0");
  torch::Tensor c;
  if (k > 0) {
    if (!covariates.defined())
      throw InputError("MLP needs cells x " + std::to_string(k) +
                       " covariates (MlpOptions.covariate_dim), got an undefined tensor");
    if (covariates.dim() != 2 || covariates.size(0) != x.size(0) || covariates.size(1) != k)
      throw InputError("MLP covariates must be " + std::to_string(x.size(0)) + " x " +
                       std::to_string(k) + " (cells x MlpOptions.covariate_dim), got " +
                       shape_of(covariates));
    c = covariates.to(x.options());
  }
  torch::Tensor h = x;
  for (std::size_t i = 0; i < layer_ptrs_.size(); ++i) {
    const bool injected = i == 0 || options_.injection == CovariateInjection::every_layer;
    if (k > 0 && injected) h = torch::cat({h, c}, 1);
    h = layer_ptrs_[i]->forward(h);
  }
  return h;
}

torch::Tensor MlpImpl::forward_sparse(const CsrRows& x, const torch::Tensor& covariate_columns) {
  if (layer_ptrs_.empty())
    throw std::logic_error("Mlp::forward_sparse: the MLP has no hidden layer");
  if (!x.defined() || x.n_cols != options_.input_dim)
    throw InputError("MLP sparse input must be cells x " + std::to_string(options_.input_dim) +
                     " (MlpOptions.input_dim), got " +
                     (x.defined() ? std::to_string(x.rows()) + " x " + std::to_string(x.n_cols)
                                  : std::string("an undefined matrix")));
  const int64_t k = options_.covariate_dim;
  const bool has_covariates = covariate_columns.defined() && covariate_columns.numel() > 0;
  if (k == 0 && has_covariates)
    throw InputError("MLP got covariates but MlpOptions.covariate_dim is 0");
  if (k > 0 && (!has_covariates || covariate_columns.dim() != 2 ||
                covariate_columns.size(0) != x.rows()))
    throw InputError("MLP needs the covariate columns of its " + std::to_string(x.rows()) +
                     " cells (MlpOptions.covariate_dim " + std::to_string(k) + ")");
  detail::MlpLayerImpl& first = *layer_ptrs_[0];
  torch::Tensor h = first.after_linear(
      sparse_linear(x, first.linear()->weight, first.linear()->bias,
                    k > 0 ? covariate_columns : torch::Tensor()));
  torch::Tensor c;
  if (k > 0 && options_.injection == CovariateInjection::every_layer && layer_ptrs_.size() > 1) {
    // The later layers read the covariates as one-hot columns, as forward() does.
    c = torch::zeros({x.rows(), k}, h.options())
            .scatter_(1, covariate_columns - options_.input_dim, 1.0);
  }
  for (std::size_t i = 1; i < layer_ptrs_.size(); ++i) {
    if (c.defined()) h = torch::cat({h, c}, 1);
    h = layer_ptrs_[i]->forward(h);
  }
  return h;
}

torch::Tensor one_hot_covariates(const torch::Tensor& codes,
                                 const std::vector<int64_t>& n_categories, torch::Dtype dtype) {
  if (n_categories.empty()) {
    if (codes.defined() && codes.dim() == 2 && codes.size(1) != 0)
      throw InputError("one_hot_covariates: codes have " + std::to_string(codes.size(1)) +
                       " covariates but n_categories is empty");
    return {};
  }
  const auto n_cov = static_cast<int64_t>(n_categories.size());
  if (!codes.defined() || codes.dim() != 2 || codes.size(1) != n_cov)
    throw InputError("one_hot_covariates: codes must be cells x " + std::to_string(n_cov) +
                     " (one column per covariate), got " +
                     (codes.defined() ? shape_of(codes) : std::string("an undefined tensor")));
  if (codes.is_floating_point() || codes.is_complex())
    throw InputError("one_hot_covariates: codes must be integers");
  const torch::Tensor cpu = codes.to(torch::kCPU, torch::kLong).contiguous();
  const auto acc = cpu.accessor<int64_t, 2>();
  const int64_t cells = cpu.size(0);
  int64_t width = 0;
  for (int64_t j = 0; j < n_cov; ++j) {
    if (n_categories[j] <= 0)
      throw InputError("one_hot_covariates: covariate " + std::to_string(j) +
                       " must have at least one category (n_categories[" + std::to_string(j) +
                       "] = " + std::to_string(n_categories[j]) + ")");
    width += n_categories[j];
  }
  torch::Tensor out = torch::zeros({cells, width}, torch::TensorOptions().dtype(dtype));
  std::vector<int64_t> rows;
  std::vector<int64_t> cols;
  rows.reserve(static_cast<std::size_t>(cells * n_cov));
  cols.reserve(static_cast<std::size_t>(cells * n_cov));
  int64_t offset = 0;
  for (int64_t j = 0; j < n_cov; ++j) {
    for (int64_t i = 0; i < cells; ++i) {
      const int64_t code = acc[i][j];
      if (code < 0 || code >= n_categories[j])
        throw InputError("one_hot_covariates: covariate " + std::to_string(j) + ", cell " +
                         std::to_string(i) + ": " +
                         (code == -1 ? std::string("missing code (-1)")
                                     : "code " + std::to_string(code) + " outside [0, " +
                                           std::to_string(n_categories[j]) + ")"));
      rows.push_back(i);
      cols.push_back(offset + code);
    }
    offset += n_categories[j];
  }
  if (cells > 0)
    out.index_put_({torch::tensor(rows), torch::tensor(cols)},
                   torch::ones({1}, torch::TensorOptions().dtype(dtype)));
  return out.to(codes.device());
}

torch::Tensor one_hot_covariates(const std::vector<std::vector<int32_t>>& codes_per_covariate,
                                 const std::vector<int64_t>& n_categories, torch::Dtype dtype) {
  if (codes_per_covariate.size() != n_categories.size())
    throw InputError("one_hot_covariates: " + std::to_string(codes_per_covariate.size()) +
                     " code vectors but " + std::to_string(n_categories.size()) +
                     " category counts");
  if (codes_per_covariate.empty()) return {};
  const std::size_t cells = codes_per_covariate[0].size();
  torch::Tensor codes =
      torch::empty({static_cast<int64_t>(cells), static_cast<int64_t>(codes_per_covariate.size())},
                   torch::kLong);
  auto acc = codes.accessor<int64_t, 2>();
  for (std::size_t j = 0; j < codes_per_covariate.size(); ++j) {
    if (codes_per_covariate[j].size() != cells)
      throw InputError("one_hot_covariates: covariate " + std::to_string(j) + " has " +
                       std::to_string(codes_per_covariate[j].size()) + " codes, covariate 0 has " +
                       std::to_string(cells));
    for (std::size_t i = 0; i < cells; ++i)
      acc[static_cast<int64_t>(i)][static_cast<int64_t>(j)] = codes_per_covariate[j][i];
  }
  return one_hot_covariates(codes, n_categories, dtype);
}

}  // namespace cellvae::model
