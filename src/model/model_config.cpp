#include "cellvae/model/model_config.hpp"

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cellvae/enum_names.hpp"
#include "cellvae/error.hpp"
#include "cellvae/json_fields.hpp"

namespace cellvae::model {
namespace {

using nlohmann::json;

// ---- the one table per enum ------------------------------------------------------------------

constexpr NameTable<InputKind, 2> kInputNames{{
    {InputKind::log1p, "log1p"},
    {InputKind::identity, "identity"},
}};

constexpr NameTable<LibraryKind, 3> kLibraryNames{{
    {LibraryKind::none, "none"},
    {LibraryKind::observed, "observed"},
    {LibraryKind::latent, "latent"},
}};

constexpr NameTable<SparseInput, 3> kSparseInputNames{{
    {SparseInput::auto_, "auto"},
    {SparseInput::dense, "dense"},
    {SparseInput::sparse, "sparse"},
}};

// ---- validation helpers ----------------------------------------------------------------------

std::string quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

void check_widths(const std::vector<std::int64_t>& widths, const char* flag) {
  for (std::size_t i = 0; i < widths.size(); ++i)
    if (widths[i] <= 0)
      throw InputError(std::string(flag) + " widths must be > 0 (got " + std::to_string(widths[i]) +
                       " for layer " + std::to_string(i + 1) + ")");
}

void check_count(std::int64_t value, std::int64_t minimum, const char* flag) {
  if (value < minimum)
    throw InputError(std::string(flag) + " must be >= " + std::to_string(minimum) + " (got " +
                     std::to_string(value) + ")");
}

// The rules that do not depend on the data. `resolved`: n_genes, n_labels and n_batches are
// the data's (see model_config.hpp: a config with n_genes == 0 is a template).
void check(const ModelConfig& c, bool resolved) {
  if (resolved) check_count(c.n_genes, 1, "n_genes (number of genes)");
  check_count(c.n_genes, 0, "n_genes (number of genes)");
  check_count(c.n_labels, 0, "n_labels (number of label categories)");
  check_count(c.n_batches, 0, "n_batches (number of batch categories)");
  check_widths(c.encoder_hidden, "--hidden");
  check_widths(c.decoder_hidden, "--decoder-hidden");
  if (!(c.dropout >= 0.0 && c.dropout < 1.0))
    throw InputError("--dropout must be in [0, 1) (got " + format_number(c.dropout) + ")");
  check_count(c.latent_dim, 1, "--latent-dim");
  if (!(std::isfinite(c.variance_epsilon) && c.variance_epsilon >= 0.0))
    throw InputError("variance_epsilon must be >= 0 (got " + format_number(c.variance_epsilon) + ")");
  if (c.prior == PriorKind::gaussian_mixture) check_count(c.components, 1, "--components");

  const std::string likelihood = quoted(to_string(c.likelihood));
  const bool counts = is_count_likelihood(c.likelihood);
  if (!counts && c.library != LibraryKind::none)
    throw InputError("--likelihood " + likelihood + " needs --library 'none' (got " +
                     quoted(to_string(c.library)) + "): a library size scales count means only");
  if (counts && c.input == InputKind::identity)
    throw InputError("--likelihood " + likelihood +
                     " models raw counts: use --input log1p (got 'identity')");
  if (c.likelihood == LikelihoodKind::bernoulli && c.input != InputKind::identity)
    throw InputError(
        "--likelihood 'bernoulli' models values scaled to [0, 1]: use --input "
        "identity (got " +
        quoted(to_string(c.input)) + ")");

  const bool uses_dispersion =
      has_dispersion(c.likelihood) || c.likelihood == LikelihoodKind::gaussian;
  if (resolved && uses_dispersion) {
    if (c.dispersion == DispersionKind::gene_batch && c.n_batches == 0)
      throw InputError("--dispersion 'gene-batch' needs batches: give --batch-key");
    if (c.dispersion == DispersionKind::gene_label && c.n_labels == 0)
      throw InputError("--dispersion 'gene-label' needs labels: give --label-key");
  }
}

// ---- JSON reading ------------------------------------------------------------------------------

constexpr const char* kWhat = "model config";

}  // namespace

std::string_view to_string(InputKind kind) { return name_of(kInputNames, kind); }
InputKind parse_input_kind(std::string_view name) { return parse_name(kInputNames, name, "input"); }

std::string_view to_string(LibraryKind kind) { return name_of(kLibraryNames, kind); }
LibraryKind parse_library_kind(std::string_view name) {
  return parse_name(kLibraryNames, name, "library");
}

std::string_view to_string(SparseInput kind) { return name_of(kSparseInputNames, kind); }
SparseInput parse_sparse_input(std::string_view name) {
  return parse_name(kSparseInputNames, name, "sparse input");
}

bool prefer_sparse_input(double density, std::int64_t cells) {
  // Break-even densities of the sparse first layer against the dense one (log1p +
  // parallel_linear), forward + backward, from bench/micro_kernels.cpp (BM_FirstLayer: 1,287
  // genes, 2 threads, AVX2, fastest of 5 repetitions; bench/results/micro_kernels_*.json):
  // about 40% at 128 cells x 128 hidden units, 42% at 512 cells, 15% at 32 cells x 256 hidden
  // units. The rule below gives 37%, 43% and 14%.
  constexpr double max_density = 0.45;
  constexpr double cell_cost = 10.0;
  if (cells <= 0) return false;
  return density <= max_density - cell_cost / static_cast<double>(cells);
}

void validate(const ModelConfig& config) { check(config, /*resolved=*/true); }

void validate_template(const ModelConfig& config) { check(config, config.n_genes > 0); }

json model_config_to_json(const ModelConfig& c) {
  return json{{"n_genes", c.n_genes},
              {"n_labels", c.n_labels},
              {"n_batches", c.n_batches},
              {"labels_in_encoder", c.labels_in_encoder},
              {"batches_in_encoder", c.batches_in_encoder},
              {"input", std::string(to_string(c.input))},
              {"encoder_hidden", c.encoder_hidden},
              {"decoder_hidden", c.decoder_hidden},
              {"activation", std::string(to_string(c.activation))},
              {"norm", std::string(to_string(c.norm))},
              {"dropout", c.dropout},
              {"decoder_injection", std::string(to_string(c.decoder_injection))},
              {"latent_dim", c.latent_dim},
              {"variance_epsilon", c.variance_epsilon},
              {"prior", std::string(to_string(c.prior))},
              {"components", c.components},
              {"learn_component_weights", c.learn_component_weights},
              {"library", std::string(to_string(c.library))},
              {"likelihood", std::string(to_string(c.likelihood))},
              {"dispersion", std::string(to_string(c.dispersion))},
              {"zi_expected_library", c.zi_expected_library},
              {"fused_likelihood", c.fused_likelihood},
              {"sparse_input", std::string(to_string(c.sparse_input))},
              {"seed", c.seed}};
}

ModelConfig model_config_from_json(const json& j) {
  const JsonFields r(j, kWhat);
  r.require_known_keys(model_config_to_json(ModelConfig{}));
  ModelConfig c;
  r.integer("n_genes", c.n_genes);
  r.integer("n_labels", c.n_labels);
  r.integer("n_batches", c.n_batches);
  r.boolean("labels_in_encoder", c.labels_in_encoder);
  r.boolean("batches_in_encoder", c.batches_in_encoder);
  r.name("input", parse_input_kind, c.input);
  r.integers("encoder_hidden", c.encoder_hidden);
  r.integers("decoder_hidden", c.decoder_hidden);
  r.name("activation", parse_activation, c.activation);
  r.name("norm", parse_normalization, c.norm);
  r.number("dropout", c.dropout);
  r.name("decoder_injection", parse_covariate_injection, c.decoder_injection);
  r.integer("latent_dim", c.latent_dim);
  r.number("variance_epsilon", c.variance_epsilon);
  r.name("prior", parse_prior_kind, c.prior);
  r.integer("components", c.components);
  r.boolean("learn_component_weights", c.learn_component_weights);
  r.name("library", parse_library_kind, c.library);
  r.name("likelihood", parse_likelihood_kind, c.likelihood);
  r.name("dispersion", parse_dispersion_kind, c.dispersion);
  r.boolean("zi_expected_library", c.zi_expected_library);
  r.boolean("fused_likelihood", c.fused_likelihood);
  r.name("sparse_input", parse_sparse_input, c.sparse_input);
  r.seed("seed", c.seed);
  validate_template(c);
  return c;
}

}  // namespace cellvae::model
