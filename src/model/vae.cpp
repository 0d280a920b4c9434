#include "cellvae/model/vae.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cellvae/error.hpp"
#include "cellvae/model/library_softmax.hpp"
#include "cellvae/model/parallel_linear.hpp"

namespace cellvae::model {
namespace {

// Floor of the latent library prior's variance in the KL (see set_library_prior).
constexpr double kLibraryVarianceFloor = 1e-4;
// Importance sampling decodes about this many rows (cells x samples) at a time.
constexpr std::int64_t kImportanceRows = 4096;

// Puts a module back into its previous train/eval mode when it goes out of scope.
class EvalModeGuard {
 public:
  explicit EvalModeGuard(torch::nn::Module& module)
      : module_(module), training_(module.is_training()) {
    module_.eval();
  }
  ~EvalModeGuard() { module_.train(training_); }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  torch::nn::Module& module_;
  bool training_;
};

std::string shape_of(const torch::Tensor& t) {
  if (!t.defined()) return "an undefined tensor";
  std::string s;
  for (std::int64_t d : t.sizes()) s += (s.empty() ? "" : " x ") + std::to_string(d);
  return s.empty() ? "a scalar" : s;
}

// The width of a head on top of an MLP: its output, plus the covariates when the MLP has no
// hidden layer (they then enter the head, see vae.hpp).
std::int64_t head_input_dim(const MlpOptions& o, std::int64_t covariate_dim) {
  return o.hidden.empty() ? o.input_dim + covariate_dim : o.hidden.back();
}

torch::Tensor run_mlp(Mlp& mlp, const torch::Tensor& input, const torch::Tensor& covariates) {
  if (!mlp->options().hidden.empty()) return mlp->forward(input, covariates);
  return covariates.defined() ? torch::cat({input, covariates}, 1) : input;
}

// log(exp(head) + epsilon), without overflow.
torch::Tensor log_variance_of(const torch::Tensor& head, double epsilon) {
  if (epsilon <= 0) return head;
  return torch::logaddexp(head, torch::scalar_tensor(std::log(epsilon), head.options()));
}

// Validated int64 codes on `device`, length `cells`, each in [0, n); undefined when n == 0.
torch::Tensor codes_of(const torch::Tensor& codes, std::int64_t n, const char* what,
                       std::int64_t cells, torch::Device device) {
  if (n == 0) return {};
  if (!codes.defined())
    throw InputError(std::string("the model has ") + std::to_string(n) + " " + what +
                     " categories but the batch has no " + what + " codes");
  if (codes.is_floating_point() || codes.is_complex())
    throw InputError(std::string(what) + " codes must be integers");
  if (codes.numel() != cells || (codes.dim() != 1 && !(codes.dim() == 2 && codes.size(1) == 1)))
    throw InputError(std::string(what) + " codes must be one per cell (" + std::to_string(cells) +
                     "), got " + shape_of(codes));
  torch::Tensor c = codes.reshape({-1}).to(device, torch::kLong);
  if (cells > 0 && torch::logical_or(c < 0, c >= n).any().item<bool>()) {
    const torch::Tensor bad = torch::nonzero(torch::logical_or(c < 0, c >= n)).flatten();
    const std::int64_t i = bad[0].item<std::int64_t>();
    throw InputError(std::string(what) + " code " + std::to_string(c[i].item<std::int64_t>()) +
                     " of cell " + std::to_string(i) + " outside [0, " + std::to_string(n) + ")");
  }
  return c;
}

torch::Tensor one_hot(const torch::Tensor& codes, std::int64_t n,
                      const torch::TensorOptions& options) {
  return torch::zeros({codes.size(0), n}, options).scatter_(1, codes.unsqueeze(1), 1.0);
}

std::vector<std::int64_t> table_shape(DispersionKind kind, const ModelConfig& c) {
  switch (kind) {
    case DispersionKind::gene:
      return {c.n_genes};
    case DispersionKind::gene_batch:
      return {c.n_batches, c.n_genes};
    case DispersionKind::gene_label:
      return {c.n_labels, c.n_genes};
    case DispersionKind::cell:
      break;
  }
  throw std::logic_error("table_shape: cell dispersion has no table");
}

// Repeats each row of `t` (if defined) `k` times in place: rows c*k .. c*k+k-1 are row c.
torch::Tensor repeat_rows(const torch::Tensor& t, std::int64_t k) {
  return t.defined() ? t.repeat_interleave(k, 0) : t;
}

}  // namespace

// ---- construction ------------------------------------------------------------------------------

VaeImpl::VaeImpl(ModelConfig config) : config_(std::move(config)) {
  validate(config_);
  torch::manual_seed(config_.seed);
  const ModelConfig& c = config_;
  likelihood_ = make_likelihood(c.likelihood, LikelihoodOptions{c.fused_likelihood});

  encoder_covariate_dim_ =
      (c.labels_in_encoder ? c.n_labels : 0) + (c.batches_in_encoder ? c.n_batches : 0);
  decoder_covariate_dim_ = c.n_labels + c.n_batches;

  MlpOptions eo;
  eo.input_dim = c.n_genes;
  eo.hidden = c.encoder_hidden;
  eo.activation = c.activation;
  eo.norm = c.norm;
  eo.dropout = c.dropout;
  eo.covariate_dim = c.encoder_hidden.empty() ? 0 : encoder_covariate_dim_;
  eo.injection = CovariateInjection::first_layer;
  const std::int64_t h_enc = head_input_dim(eo, encoder_covariate_dim_);
  encoder_ = register_module("encoder", Mlp(eo));
  z_mean_ = register_module("z_mean", torch::nn::Linear(h_enc, c.latent_dim));
  z_log_variance_ = register_module("z_log_variance", torch::nn::Linear(h_enc, c.latent_dim));
  if (c.prior == PriorKind::gaussian_mixture) {
    component_logits_ = register_module("component_logits", torch::nn::Linear(h_enc, c.components));
    component_embedding_ =
        register_parameter("component_embedding", torch::zeros({c.components, c.latent_dim}));
    component_log_variance_embedding_ = register_parameter(
        "component_log_variance_embedding", torch::zeros({c.components, c.latent_dim}));
  }

  if (c.library == LibraryKind::latent) {
    library_encoder_ = register_module("library_encoder", Mlp(eo));
    library_mean_ = register_module("library_mean", torch::nn::Linear(h_enc, 1));
    library_log_variance_ = register_module("library_log_variance", torch::nn::Linear(h_enc, 1));
    const std::int64_t n = std::max<std::int64_t>(c.n_batches, 1);
    library_prior_mean_ = register_buffer("library_prior_mean", torch::zeros({n}));
    library_prior_variance_ = register_buffer("library_prior_variance", torch::ones({n}));
  }

  MlpOptions dopt;
  dopt.input_dim = c.latent_dim;
  dopt.hidden = c.decoder_hidden;
  dopt.activation = c.activation;
  dopt.norm = c.norm;
  dopt.dropout = 0.0;
  dopt.covariate_dim = c.decoder_hidden.empty() ? 0 : decoder_covariate_dim_;
  dopt.injection = c.decoder_injection;
  const std::int64_t h_dec = head_input_dim(dopt, decoder_covariate_dim_);
  decoder_ = register_module("decoder", Mlp(dopt));
  mean_head_ = register_module("mean_head", torch::nn::Linear(h_dec, c.n_genes));
  if (has_dispersion(c.likelihood)) {
    if (c.dispersion == DispersionKind::cell)
      dispersion_head_ = register_module("dispersion_head", torch::nn::Linear(h_dec, c.n_genes));
    else
      log_dispersion_ =
          register_parameter("log_dispersion", torch::randn(table_shape(c.dispersion, c)));
  }
  if (is_zero_inflated(c.likelihood))
    zero_head_ = register_module("zero_head", torch::nn::Linear(h_dec, c.n_genes));
  if (c.likelihood == LikelihoodKind::gaussian) {
    if (c.dispersion == DispersionKind::cell)
      log_scale_head_ = register_module("log_scale", torch::nn::Linear(h_dec, c.n_genes));
    else
      log_scale_ = register_parameter("log_scale", torch::zeros(table_shape(c.dispersion, c)));
  }

  PriorOptions po;
  po.kind = c.prior;
  po.latent_dim = c.latent_dim;
  po.components = c.components;
  po.learn_weights = c.learn_component_weights;
  po.seed = c.seed;
  prior_ = register_module("prior", make_prior(po));
}

void VaeImpl::set_library_prior(const torch::Tensor& mean, const torch::Tensor& variance) {
  if (config_.library != LibraryKind::latent)
    throw std::logic_error("set_library_prior: the model's library is '" +
                           std::string(to_string(config_.library)) + "', not 'latent'");
  const std::int64_t n = library_prior_mean_.numel();
  for (const auto& [t, what] : {std::pair{&mean, "mean"}, std::pair{&variance, "variance"}}) {
    if (!t->defined() || !(t->numel() == n || t->numel() == 1))
      throw InputError(std::string("library prior ") + what + " must have " + std::to_string(n) +
                       " entries (one per batch), got " + shape_of(*t));
    if (!torch::isfinite(*t).all().item<bool>())
      throw InputError(std::string("library prior ") + what + " has non-finite values");
  }
  if ((variance < 0).any().item<bool>()) throw InputError("library prior variance must be >= 0");
  torch::NoGradGuard no_grad;
  library_prior_mean_.copy_(mean.reshape({-1}).expand({n}));
  library_prior_variance_.copy_(variance.reshape({-1}).expand({n}));
}

// ---- private helpers ---------------------------------------------------------------------------

torch::TensorOptions VaeImpl::tensor_options() const { return mean_head_->weight.options(); }

torch::Tensor VaeImpl::encoder_input(const torch::Tensor& x) const {
  torch::Tensor v = x.to(tensor_options());
  return config_.input == InputKind::log1p ? torch::log1p(v) : v;
}

bool VaeImpl::reads_sparse(const CellBatch& batch) const {
  const CsrRows& x = batch.x_csr;
  if (!x.defined() || config_.sparse_input == SparseInput::dense) return false;
  if (config_.encoder_hidden.empty() || !mean_head_->weight.device().is_cpu()) return false;
  if (x.rows() != batch.x.size(0) || x.n_cols != config_.n_genes)
    throw InputError("x_csr must be " + std::to_string(batch.x.size(0)) + " x " +
                     std::to_string(config_.n_genes) + " like x, got " +
                     std::to_string(x.rows()) + " x " + std::to_string(x.n_cols));
  return config_.sparse_input == SparseInput::sparse ||
         prefer_sparse_input(x.density(), x.rows());
}

CsrRows VaeImpl::sparse_encoder_input(const CsrRows& x) const {
  CsrRows out = x;
  out.values = x.values.to(tensor_options());
  if (config_.input == InputKind::log1p) out.values = torch::log1p(out.values);
  return out;
}

torch::Tensor VaeImpl::covariate_columns(const torch::Tensor& labels, const torch::Tensor& batches,
                                         bool use_labels, bool use_batches) const {
  std::vector<torch::Tensor> parts;
  std::int64_t offset = config_.n_genes;
  if (use_labels && config_.n_labels > 0) {
    parts.push_back(labels + offset);
    offset += config_.n_labels;
  }
  if (use_batches && config_.n_batches > 0) parts.push_back(batches + offset);
  if (parts.empty()) return {};
  return torch::stack(parts, 1);
}

torch::Tensor VaeImpl::covariates(const torch::Tensor& labels, const torch::Tensor& batches,
                                  bool use_labels, bool use_batches) const {
  const auto options = tensor_options();
  std::vector<torch::Tensor> parts;
  if (use_labels && config_.n_labels > 0)
    parts.push_back(one_hot(labels, config_.n_labels, options));
  if (use_batches && config_.n_batches > 0)
    parts.push_back(one_hot(batches, config_.n_batches, options));
  if (parts.empty()) return {};
  return parts.size() == 1 ? parts[0] : torch::cat(parts, 1);
}

torch::Tensor VaeImpl::observed_log_library(const CellBatch& batch, const torch::Tensor& x) const {
  if (batch.log_library.defined()) {
    if (batch.log_library.numel() != x.size(0))
      throw InputError("log_library must have one value per cell (" + std::to_string(x.size(0)) +
                       "), got " + shape_of(batch.log_library));
    return batch.log_library.reshape({-1, 1}).to(x.options());
  }
  return torch::log(x.sum(1, /*keepdim=*/true).clamp_min(1.0));
}

DiagonalGaussian VaeImpl::library_prior_of(const torch::Tensor& batches, std::int64_t cells) const {
  const torch::Device device = library_prior_mean_.device();
  torch::Tensor index =
      config_.n_batches > 0
          ? codes_of(batches, config_.n_batches, "batch", cells, device)
          : torch::zeros({cells}, torch::TensorOptions(device).dtype(torch::kLong));
  torch::Tensor mean = library_prior_mean_.index_select(0, index).unsqueeze(1);
  torch::Tensor variance =
      library_prior_variance_.index_select(0, index).clamp_min(kLibraryVarianceFloor).unsqueeze(1);
  return {mean, torch::log(variance)};
}

torch::Tensor VaeImpl::gene_rows(const torch::Tensor& table, const torch::Tensor& labels,
                                 const torch::Tensor& batches) const {
  switch (config_.dispersion) {
    case DispersionKind::gene:
      return table.unsqueeze(0);
    case DispersionKind::gene_batch:
      return table.index_select(0, batches);
    case DispersionKind::gene_label:
      return table.index_select(0, labels);
    case DispersionKind::cell:
      break;
  }
  throw std::logic_error("gene_rows: cell dispersion has no table");
}

// ---- encoder and decoder -----------------------------------------------------------------------

Encoding VaeImpl::encode(const CellBatch& batch) {
  const ModelConfig& c = config_;
  if (!batch.x.defined() || batch.x.dim() != 2 || batch.x.size(1) != c.n_genes)
    throw InputError("x must be cells x " + std::to_string(c.n_genes) +
                     " (the model's genes), got " + shape_of(batch.x));
  const std::int64_t cells = batch.x.size(0);
  const torch::Device device = mean_head_->weight.device();
  const bool use_labels = c.labels_in_encoder && c.n_labels > 0;
  const bool use_batches = c.batches_in_encoder && c.n_batches > 0;
  torch::Tensor labels =
      use_labels ? codes_of(batch.labels, c.n_labels, "label", cells, device) : torch::Tensor();
  torch::Tensor batches =
      use_batches ? codes_of(batch.batches, c.n_batches, "batch", cells, device) : torch::Tensor();
  // The encoders' first layers read either the dense input or its nonzeros (same result).
  const bool sparse = reads_sparse(batch);
  torch::Tensor input, cov, cov_columns;
  CsrRows sparse_input;
  if (sparse) {
    sparse_input = sparse_encoder_input(batch.x_csr);
    cov_columns = covariate_columns(labels, batches, use_labels, use_batches);
  } else {
    input = encoder_input(batch.x);
    cov = covariates(labels, batches, use_labels, use_batches);
  }
  auto run_encoder = [&](Mlp& mlp) {
    return sparse ? mlp->forward_sparse(sparse_input, cov_columns) : run_mlp(mlp, input, cov);
  };

  Encoding out;
  torch::Tensor h = run_encoder(encoder_);
  torch::Tensor mean = z_mean_->forward(h);
  torch::Tensor head = z_log_variance_->forward(h);
  if (c.prior == PriorKind::gaussian_mixture) {
    out.z.z.mean = mean.unsqueeze(1) + component_embedding_;
    out.z.z.log_variance =
        log_variance_of(head.unsqueeze(1) + component_log_variance_embedding_, c.variance_epsilon);
    out.z.component_logits = component_logits_->forward(h);
  } else {
    out.z.z.mean = mean;
    out.z.z.log_variance = log_variance_of(head, c.variance_epsilon);
  }
  if (c.library == LibraryKind::latent) {
    torch::Tensor hl = run_encoder(library_encoder_);
    out.library.mean = library_mean_->forward(hl);
    out.library.log_variance =
        log_variance_of(library_log_variance_->forward(hl), c.variance_epsilon);
  }
  return out;
}

LikelihoodParams VaeImpl::decode(const torch::Tensor& z, const torch::Tensor& log_library,
                                 const torch::Tensor& labels, const torch::Tensor& batches) {
  const ModelConfig& c = config_;
  if (!z.defined() || z.dim() != 2 || z.size(1) != c.latent_dim)
    throw InputError("z must be cells x " + std::to_string(c.latent_dim) +
                     " (the latent dimension), got " + shape_of(z));
  const auto options = tensor_options();
  const std::int64_t cells = z.size(0);
  const torch::Device device = options.device();
  torch::Tensor lab = codes_of(labels, c.n_labels, "label", cells, device);
  torch::Tensor bat = codes_of(batches, c.n_batches, "batch", cells, device);
  torch::Tensor h = run_mlp(decoder_, z.to(options), covariates(lab, bat, true, true));
  // The output heads (hidden -> genes) are the largest products: split over the threads.
  auto head_of = [&](torch::nn::Linear& l) { return parallel_linear(h, l->weight, l->bias); };
  torch::Tensor head = head_of(mean_head_);

  LikelihoodParams p;
  if (is_zero_inflated(c.likelihood)) p.zero_logits = head_of(zero_head_);
  switch (c.likelihood) {
    case LikelihoodKind::bernoulli:
      p.mean = torch::sigmoid(head);
      break;
    case LikelihoodKind::gaussian:
      p.mean = head;
      break;
    case LikelihoodKind::poisson:
    case LikelihoodKind::nb:
    case LikelihoodKind::zip:
    case LikelihoodKind::zinb:
      if (c.library == LibraryKind::none) {
        p.mean = torch::exp(head);
      } else {
        if (!log_library.defined() || log_library.numel() != cells)
          throw InputError("decode: library '" + std::string(to_string(c.library)) +
                           "' needs one log library per cell (" + std::to_string(cells) +
                           "), got " + shape_of(log_library));
        torch::Tensor log_lib = log_library.reshape({-1, 1}).to(options);
        p.mean = c.fused_likelihood ? library_softmax(head, log_lib)
                                    : torch::exp(log_lib) * torch::softmax(head, 1);
        // l ρ / Σ (1 − π) ρ = μ l / Σ (1 − π) μ
        if (c.zi_expected_library && is_zero_inflated(c.likelihood))
          p.mean = p.mean * (torch::exp(log_lib) /
                             (torch::sigmoid(-p.zero_logits) * p.mean).sum(1, true));
      }
      break;
  }
  if (has_dispersion(c.likelihood)) {
    p.inverse_dispersion =
        torch::exp(c.dispersion == DispersionKind::cell ? head_of(dispersion_head_)
                                                        : gene_rows(log_dispersion_, lab, bat));
  }
  if (c.likelihood == LikelihoodKind::gaussian)
    p.log_scale = c.dispersion == DispersionKind::cell ? head_of(log_scale_head_)
                                                       : gene_rows(log_scale_, lab, bat);
  return p;
}

// ---- loss
// ----------------------------------------------------------------------------------------

LossTerms VaeImpl::loss(const CellBatch& batch, torch::Generator& generator, double kl_weight) {
  if (!(kl_weight >= 0) || !std::isfinite(kl_weight))
    throw std::invalid_argument("VaeImpl::loss: kl_weight must be finite and >= 0 (got " +
                                std::to_string(kl_weight) + ")");
  const ModelConfig& c = config_;
  Encoding enc = encode(batch);  // checks x's shape
  const torch::Tensor x = batch.x.to(tensor_options());
  const std::int64_t cells = x.size(0);

  torch::Tensor z = reparameterized_sample(enc.z.z, generator);
  torch::Tensor log_lib;
  if (c.library == LibraryKind::observed) log_lib = observed_log_library(batch, x);
  if (c.library == LibraryKind::latent) log_lib = reparameterized_sample(enc.library, generator);

  LossTerms t;
  if (c.prior == PriorKind::gaussian_mixture) {
    // One z_k per component, all decoded at once: row i*K + k is cell i, component k.
    const std::int64_t k = c.components;
    LikelihoodParams p = decode(z.reshape({cells * k, c.latent_dim}), repeat_rows(log_lib, k),
                                repeat_rows(batch.labels, k), repeat_rows(batch.batches, k));
    torch::Tensor per_component =
        -likelihood_->log_prob_per_cell(repeat_rows(x, k), p).reshape({cells, k});
    t.reconstruction = (torch::softmax(enc.z.component_logits, 1) * per_component).sum(1);
  } else {
    LikelihoodParams p = decode(z, log_lib, batch.labels, batch.batches);
    t.reconstruction = -likelihood_->log_prob_per_cell(x, p);
  }
  t.kl_z = prior_->kl(enc.z);
  t.kl_library = c.library == LibraryKind::latent
                     ? kl_diagonal_gaussians(enc.library, library_prior_of(batch.batches, cells))
                     : torch::zeros({cells}, t.reconstruction.options());
  t.loss = t.reconstruction + t.kl_library + kl_weight * t.kl_z;
  return t;
}

// ---- summaries of the posterior
// ------------------------------------------------------------------

torch::Tensor VaeImpl::latent_mean(const CellBatch& batch) {
  EvalModeGuard mode(*this);
  torch::NoGradGuard no_grad;
  Encoding enc = encode(batch);
  if (config_.prior != PriorKind::gaussian_mixture) return enc.z.z.mean;
  torch::Tensor q_y = torch::softmax(enc.z.component_logits, 1);
  return (q_y.unsqueeze(2) * enc.z.z.mean).sum(1);
}

torch::Tensor VaeImpl::component_probabilities(const CellBatch& batch) {
  EvalModeGuard mode(*this);
  torch::NoGradGuard no_grad;
  Encoding enc = encode(batch);
  if (config_.prior != PriorKind::gaussian_mixture)
    return torch::ones({batch.x.size(0), 1}, tensor_options());
  return torch::softmax(enc.z.component_logits, 1);
}

torch::Tensor VaeImpl::log_library(const CellBatch& batch) {
  torch::NoGradGuard no_grad;
  if (!batch.x.defined() || batch.x.dim() != 2 || batch.x.size(1) != config_.n_genes)
    throw InputError("x must be cells x " + std::to_string(config_.n_genes) +
                     " (the model's genes), got " + shape_of(batch.x));
  switch (config_.library) {
    case LibraryKind::none:
      return torch::zeros({batch.x.size(0), 1}, tensor_options());
    case LibraryKind::observed:
      return observed_log_library(batch, batch.x.to(tensor_options()));
    case LibraryKind::latent: {
      EvalModeGuard mode(*this);
      return encode(batch).library.mean;
    }
  }
  throw std::logic_error("log_library: unhandled LibraryKind");
}

// ---- importance sampling
// -------------------------------------------------------------------------

MarginalLikelihood VaeImpl::marginal_log_likelihood(const CellBatch& batch, std::int64_t n_samples,
                                                    torch::Generator& generator) {
  if (n_samples < 1)
    throw InputError("importance samples must be >= 1 (got " + std::to_string(n_samples) + ")");
  EvalModeGuard mode(*this);
  torch::NoGradGuard no_grad;
  const ModelConfig& c = config_;
  const bool mixture = c.prior == PriorKind::gaussian_mixture;
  const std::int64_t d = c.latent_dim;

  Encoding enc = encode(batch);
  const torch::Tensor x = batch.x.to(tensor_options());
  const std::int64_t cells = x.size(0);
  const auto as_double = [](const torch::Tensor& t) { return t.to(torch::kDouble); };

  // The proposal's parameters in double, for the log-densities of the draws.
  const DiagonalGaussian q_z{as_double(enc.z.z.mean), as_double(enc.z.z.log_variance)};
  torch::Tensor log_q_y, q_y;
  if (mixture) {
    log_q_y = torch::log_softmax(as_double(enc.z.component_logits), 1);  // cells x K
    q_y = torch::exp(log_q_y);
  }
  torch::Tensor observed;
  DiagonalGaussian q_l, p_l;
  if (c.library == LibraryKind::observed) observed = observed_log_library(batch, x);
  if (c.library == LibraryKind::latent) {
    q_l = enc.library;
    p_l = library_prior_of(batch.batches, cells);
  }

  const std::int64_t chunk =
      std::clamp<std::int64_t>(kImportanceRows / std::max<std::int64_t>(cells, 1), 1, n_samples);
  std::vector<torch::Tensor> log_weights;  // each m x cells, double
  for (std::int64_t start = 0; start < n_samples; start += chunk) {
    const std::int64_t m = std::min(chunk, n_samples - start);
    // Draws, sample-major: row s * cells + i is draw s of cell i.
    torch::Tensor z, log_q;
    if (mixture) {
      const std::int64_t k = c.components;
      torch::Tensor y =
          torch::multinomial(q_y, m, /*replacement=*/true, generator).t();  // m x cells
      torch::Tensor index =
          y.to(enc.z.z.mean.device()).reshape({m, cells, 1, 1}).expand({m, cells, 1, d});
      auto pick = [&](const torch::Tensor& t) {
        return t.unsqueeze(0).expand({m, cells, k, d}).gather(2, index).squeeze(2);
      };
      z = reparameterized_sample(DiagonalGaussian{pick(enc.z.z.mean), pick(enc.z.z.log_variance)},
                                 generator);
      torch::Tensor zd = as_double(z).unsqueeze(2);  // m x cells x 1 x D
      log_q = torch::logsumexp(log_q_y.unsqueeze(0) + diagonal_gaussian_log_density(zd, q_z), 2);
    } else {
      z = reparameterized_sample(DiagonalGaussian{enc.z.z.mean.unsqueeze(0).expand({m, cells, d}),
                                                  enc.z.z.log_variance.unsqueeze(0)},
                                 generator);
      log_q = diagonal_gaussian_log_density(as_double(z), q_z);
    }
    torch::Tensor z_rows = z.reshape({m * cells, d});
    torch::Tensor log_w =
        as_double(prior_->log_density(as_double(z_rows))).reshape({m, cells}) - log_q;

    torch::Tensor log_lib;
    if (c.library == LibraryKind::observed) log_lib = observed.repeat({m, 1});
    if (c.library == LibraryKind::latent) {
      torch::Tensor l =
          reparameterized_sample(DiagonalGaussian{q_l.mean.unsqueeze(0).expand({m, cells, 1}),
                                                  q_l.log_variance.unsqueeze(0)},
                                 generator);  // m x cells x 1
      const torch::Tensor ld = as_double(l);
      log_w = log_w +
              diagonal_gaussian_log_density(
                  ld, DiagonalGaussian{as_double(p_l.mean), as_double(p_l.log_variance)}) -
              diagonal_gaussian_log_density(
                  ld, DiagonalGaussian{as_double(q_l.mean), as_double(q_l.log_variance)});
      log_lib = l.reshape({m * cells, 1});
    }
    auto repeated = [&](const torch::Tensor& codes) {
      return codes.defined() ? codes.reshape({-1}).repeat({m}) : codes;
    };
    LikelihoodParams p = decode(z_rows, log_lib, repeated(batch.labels), repeated(batch.batches));
    torch::Tensor log_px = likelihood_->log_prob_per_cell(x.repeat({m, 1}), p);
    log_weights.push_back(log_w + as_double(log_px).reshape({m, cells}));
  }
  MarginalLikelihood out;
  out.log_likelihood =
      torch::logsumexp(torch::cat(log_weights, 0), 0) - std::log(static_cast<double>(n_samples));
  return out;
}

}  // namespace cellvae::model
