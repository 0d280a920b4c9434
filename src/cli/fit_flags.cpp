#include "fit_flags.hpp"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cellvae/error.hpp"

namespace cellvae::cli {
namespace {

// Runs a name parser, prefixing its error with the flag ("--likelihood: unknown ...").
template <class Parse>
auto parse_flag(const char* flag, const std::string& value, Parse parse) {
  try {
    return parse(value);
  } catch (const InputError& e) {
    throw InputError(std::string(flag) + ": " + e.what());
  }
}

std::vector<std::int64_t> parse_widths(const char* flag, const std::string& text) {
  std::vector<std::int64_t> widths;
  if (text.empty() || text == "none") return widths;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || item.empty() || v <= 0)
      throw InputError(std::string(flag) + " takes positive layer widths separated by commas, "
                       "e.g. 256,128 (got '" + text + "')");
    widths.push_back(v);
  }
  return widths;
}

nlohmann::json read_config(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw InputError("--config: cannot read " + path);
  try {
    return nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    throw InputError("--config: " + path + " is not valid JSON: " + e.what());
  }
}

}  // namespace

void add_fit_flags(CLI::App* cmd, FitFlags& f) {
  cmd->add_option("--preset", f.preset, "vaexprs | scvi | gmvae: the published configurations")
      ->capture_default_str();
  cmd->add_option("--config", f.config,
                  "JSON file with options (keys as in MODEL_DIR/model.json 'fit'); flags win");
  cmd->add_option("--label-key", f.label_key,
                  "obs column with cell labels: a conditional VAE (CVAE), generation by label");
  cmd->add_option("--batch-key", f.batch_key, "obs column with batches (scVI's covariate)");
  cmd->add_flag("--no-batch-covariate", f.no_batch_covariate,
                "record batches but do not use them as a model covariate");
  cmd->add_option("--n-top-genes", f.n_top_genes, "train on the N most variable genes");
  cmd->add_option("--min-cells", f.min_cells, "keep genes detected in >= N cells (default 1)");
  cmd->add_option("--min-genes", f.min_genes, "keep cells with >= N detected genes");
  cmd->add_option("--min-counts", f.min_counts, "keep cells with >= N counts (default 1)");
  cmd->add_flag("--allow-non-integer", f.allow_non_integer,
                "accept non-integer values (bernoulli/gaussian likelihoods only)");

  cmd->add_option("--likelihood", f.likelihood, "bernoulli | gaussian | poisson | nb | zip | zinb");
  cmd->add_option("--dispersion", f.dispersion, "gene | gene-batch | gene-label | cell");
  cmd->add_flag("--zi-expected-library", f.zi_expected_library,
                "zip/zinb: scale the mean so that the expected total count is the library size");
  cmd->add_option("--library", f.library, "none | observed | latent library size");
  cmd->add_option("--input", f.input, "log1p | identity (what the encoder sees)");
  cmd->add_option("--prior", f.prior, "normal | gmm (Gaussian-mixture VAE)");
  cmd->add_option("--components", f.components, "mixture components of the gmm prior");
  cmd->add_option("--latent-dim", f.latent_dim, "latent dimension");
  cmd->add_option("--hidden", f.hidden, "encoder layer widths, e.g. 256,128 (decoder mirrors)");
  cmd->add_option("--decoder-hidden", f.decoder_hidden, "decoder layer widths (default: mirror)");
  cmd->add_option("--activation", f.activation,
                  "relu | elu | leaky_relu | tanh | sigmoid | softplus | linear");
  cmd->add_option("--norm", f.norm, "batch | layer | none");
  cmd->add_option("--dropout", f.dropout, "encoder dropout rate");
  cmd->add_option("--inject", f.injection, "covariates into the decoder's first | all layers");

  cmd->add_option("--kl-weight", f.kl_weight, "λ: weight of the KL term (VAExprs regularization)");
  cmd->add_option("--kl-warmup", f.kl_warmup, "epochs of linear KL warm-up (0 = none)");
  cmd->add_option("--epochs", f.epochs, "training epochs (default: from the number of cells)");
  cmd->add_option("--batch-size", f.batch_size, "cells per minibatch");
  cmd->add_option("--lr", f.lr, "learning rate");
  cmd->add_option("--optimizer", f.optimizer, "adam | adamw | sgd | rmsprop");
  cmd->add_option("--weight-decay", f.weight_decay, "weight decay");
  cmd->add_option("--validation-split", f.validation_split,
                  "fraction of cells held out for validation (default 0.1)");
  cmd->add_option("--patience", f.patience, "early stopping: epochs without improvement");
  cmd->add_option("--min-delta", f.min_delta, "early stopping: smallest improvement that counts");
  cmd->add_flag("--no-restore-best", f.no_restore_best,
                "keep the last epoch's weights instead of the best epoch's");
  cmd->add_option("--lr-patience", f.lr_patience,
                  "reduce the learning rate after N epochs without improvement");
  cmd->add_option("--lr-factor", f.lr_factor,
                  "factor the learning rate is multiplied by on a plateau (default 0.1)");
  cmd->add_option("--clip", f.clip, "clip the gradient norm to this value");
  cmd->add_option("--seed", f.seed, "random seed (weights, split, shuffling, sampling)");
  cmd->add_option("--threads", f.threads, "CPU threads (default: all cores)");
  cmd->add_option("--device", f.device, "cpu | cuda | auto");
  cmd->add_option("--sparse-input", f.sparse_input,
                  "auto | dense | sparse: how the first layer reads a minibatch (same result)");
  cmd->add_flag("--plain-kernels", f.plain_kernels,
                "plain LibTorch likelihood, count mean and optimizer instead of the fused "
                "kernels (slower, same result to rounding; for checking)");
}

pipeline::FitOptions resolve_fit_options(const FitFlags& f) {
  pipeline::FitOptions o =
      pipeline::preset_options(parse_flag("--preset", f.preset, pipeline::parse_preset));
  if (!f.config.empty()) o = pipeline::apply_fit_json(std::move(o), read_config(f.config));

  PreprocessOptions& p = o.preprocess;
  if (f.label_key) p.label_key = *f.label_key;
  if (f.batch_key) p.batch_key = *f.batch_key;
  if (f.no_batch_covariate) o.use_batches = false;
  if (f.n_top_genes) p.n_top_genes = *f.n_top_genes;
  if (f.min_cells) p.filter.min_cells_per_gene = *f.min_cells;
  if (f.min_genes) p.filter.min_genes_per_cell = *f.min_genes;
  if (f.min_counts) p.filter.min_counts_per_cell = *f.min_counts;
  if (f.allow_non_integer) o.allow_non_integer = true;

  model::ModelConfig& m = o.model;
  if (f.likelihood) m.likelihood = parse_flag("--likelihood", *f.likelihood, model::parse_likelihood_kind);
  if (f.dispersion) m.dispersion = parse_flag("--dispersion", *f.dispersion, model::parse_dispersion_kind);
  if (f.library) m.library = parse_flag("--library", *f.library, model::parse_library_kind);
  if (f.input) m.input = parse_flag("--input", *f.input, model::parse_input_kind);
  if (f.prior) m.prior = parse_flag("--prior", *f.prior, model::parse_prior_kind);
  if (f.components) {
    m.components = *f.components;
    o.components_from_labels = false;
  }
  if (f.latent_dim) m.latent_dim = *f.latent_dim;
  if (f.hidden) {
    m.encoder_hidden = parse_widths("--hidden", *f.hidden);
    m.decoder_hidden.assign(m.encoder_hidden.rbegin(), m.encoder_hidden.rend());
  }
  if (f.decoder_hidden) m.decoder_hidden = parse_widths("--decoder-hidden", *f.decoder_hidden);
  if (f.activation) m.activation = parse_flag("--activation", *f.activation, model::parse_activation);
  if (f.norm) m.norm = parse_flag("--norm", *f.norm, model::parse_normalization);
  if (f.dropout) m.dropout = *f.dropout;
  if (f.injection)
    m.decoder_injection = parse_flag("--inject", *f.injection, model::parse_covariate_injection);
  if (f.seed) m.seed = *f.seed;
  if (f.sparse_input)
    m.sparse_input = parse_flag("--sparse-input", *f.sparse_input, model::parse_sparse_input);
  if (f.plain_kernels) m.fused_likelihood = false;
  if (f.zi_expected_library) m.zi_expected_library = true;

  train::TrainOptions& t = o.train;
  if (f.kl_weight) t.kl_weight = *f.kl_weight;
  if (f.kl_warmup) t.kl_warmup_epochs = *f.kl_warmup;
  if (f.epochs) t.epochs = *f.epochs;
  if (f.batch_size) t.batch_size = *f.batch_size;
  if (f.lr) t.learning_rate = *f.lr;
  if (f.optimizer) t.optimizer = parse_flag("--optimizer", *f.optimizer, train::parse_optimizer_kind);
  if (f.weight_decay) t.weight_decay = *f.weight_decay;
  if (f.validation_split) o.validation_fraction = *f.validation_split;
  if (f.patience) t.patience = *f.patience;
  if (f.min_delta) t.min_delta = *f.min_delta;
  if (f.no_restore_best) t.restore_best = false;
  if (f.lr_patience) t.lr_patience = *f.lr_patience;
  if (f.lr_factor) t.lr_factor = *f.lr_factor;
  if (f.clip) t.gradient_clip = *f.clip;
  if (f.seed) t.seed = *f.seed;
  if (f.threads) t.threads = *f.threads;
  if (f.device) t.device = parse_flag("--device", *f.device, train::parse_device_kind);
  if (f.plain_kernels) t.fused_optimizer = false;
  return o;
}

}  // namespace cellvae::cli
