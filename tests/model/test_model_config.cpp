// ModelConfig: the name tables of InputKind and LibraryKind, validate()'s rules and their
// messages (spelled as the CLI flags), and the JSON round trip with its error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "cellvae/error.hpp"
#include "cellvae/model/model_config.hpp"
#include "test_support.hpp"

namespace cvt = cellvae::testing;
namespace cm = cellvae::model;
using nlohmann::json;

namespace {

// A config that passes validate(): the defaults with a gene count.
cm::ModelConfig valid() {
  cm::ModelConfig c;
  c.n_genes = 20;
  return c;
}

// Every field away from its default.
cm::ModelConfig non_default() {
  cm::ModelConfig c;
  c.n_genes = 321;
  c.n_labels = 4;
  c.n_batches = 3;
  c.labels_in_encoder = false;
  c.batches_in_encoder = true;
  c.input = cm::InputKind::log1p;
  c.encoder_hidden = {64, 32};
  c.decoder_hidden = {};
  c.activation = cm::Activation::leaky_relu;
  c.norm = cm::Normalization::layer;
  c.dropout = 0.25;
  c.decoder_injection = cm::CovariateInjection::every_layer;
  c.latent_dim = 7;
  c.variance_epsilon = 1e-3;
  c.prior = cm::PriorKind::gaussian_mixture;
  c.components = 5;
  c.learn_component_weights = true;
  c.library = cm::LibraryKind::latent;
  c.likelihood = cm::LikelihoodKind::nb;
  c.dispersion = cm::DispersionKind::gene_batch;
  c.fused_likelihood = false;
  c.zi_expected_library = true;
  c.sparse_input = cm::SparseInput::dense;
  c.seed = std::numeric_limits<std::uint64_t>::max() - 5;  // beyond int64
  return c;
}

void expect_same(const cm::ModelConfig& a, const cm::ModelConfig& b) {
  EXPECT_EQ(a.n_genes, b.n_genes);
  EXPECT_EQ(a.n_labels, b.n_labels);
  EXPECT_EQ(a.n_batches, b.n_batches);
  EXPECT_EQ(a.labels_in_encoder, b.labels_in_encoder);
  EXPECT_EQ(a.batches_in_encoder, b.batches_in_encoder);
  EXPECT_EQ(a.input, b.input);
  EXPECT_EQ(a.encoder_hidden, b.encoder_hidden);
  EXPECT_EQ(a.decoder_hidden, b.decoder_hidden);
  EXPECT_EQ(a.activation, b.activation);
  EXPECT_EQ(a.norm, b.norm);
  EXPECT_EQ(a.dropout, b.dropout);
  EXPECT_EQ(a.decoder_injection, b.decoder_injection);
  EXPECT_EQ(a.latent_dim, b.latent_dim);
  EXPECT_EQ(a.variance_epsilon, b.variance_epsilon);
  EXPECT_EQ(a.prior, b.prior);
  EXPECT_EQ(a.components, b.components);
  EXPECT_EQ(a.learn_component_weights, b.learn_component_weights);
  EXPECT_EQ(a.library, b.library);
  EXPECT_EQ(a.likelihood, b.likelihood);
  EXPECT_EQ(a.dispersion, b.dispersion);
  EXPECT_EQ(a.fused_likelihood, b.fused_likelihood);
  EXPECT_EQ(a.zi_expected_library, b.zi_expected_library);
  EXPECT_EQ(a.sparse_input, b.sparse_input);
  EXPECT_EQ(a.seed, b.seed);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The validate() message for `c`, "" (and a failure) when it passes.
std::string validate_error(const cm::ModelConfig& c) {
  return cvt::error_of([&] { cm::validate(c); });
}

std::string from_json_error(const json& j) {
  return cvt::error_of([&] { cm::model_config_from_json(j); });
}

}  // namespace

// ---- names
// ---------------------------------------------------------------------------------------

TEST(ModelConfigNames, InputAndLibraryRoundTrip) {
  for (auto k : {cm::InputKind::log1p, cm::InputKind::identity})
    EXPECT_EQ(cm::parse_input_kind(cm::to_string(k)), k);
  EXPECT_EQ(cm::to_string(cm::InputKind::log1p), "log1p");
  EXPECT_EQ(cm::to_string(cm::InputKind::identity), "identity");
  for (auto k : {cm::LibraryKind::none, cm::LibraryKind::observed, cm::LibraryKind::latent})
    EXPECT_EQ(cm::parse_library_kind(cm::to_string(k)), k);
  EXPECT_EQ(cm::to_string(cm::LibraryKind::none), "none");
  EXPECT_EQ(cm::to_string(cm::LibraryKind::observed), "observed");
  EXPECT_EQ(cm::to_string(cm::LibraryKind::latent), "latent");
}

TEST(ModelConfigNames, SparseInputRoundTripAndDefault) {
  for (auto k : {cm::SparseInput::auto_, cm::SparseInput::dense, cm::SparseInput::sparse})
    EXPECT_EQ(cm::parse_sparse_input(cm::to_string(k)), k);
  EXPECT_EQ(cm::to_string(cm::SparseInput::auto_), "auto");
  EXPECT_EQ(cm::ModelConfig{}.sparse_input, cm::SparseInput::auto_);
  const std::string bad = cvt::error_of([] { cm::parse_sparse_input("csr"); });
  EXPECT_TRUE(contains(bad, "auto, dense, sparse")) << bad;
  // A model.json written before the field existed loads with the default.
  nlohmann::json old = cm::model_config_to_json(cm::ModelConfig{});
  old.erase("sparse_input");
  EXPECT_EQ(cm::model_config_from_json(old).sparse_input, cm::SparseInput::auto_);
  EXPECT_TRUE(contains(from_json_error(json{{"sparse_input", "csr"}}), "key 'sparse_input'"));
}

// The auto rule: sparse below a density that grows with the minibatch size.
TEST(ModelConfigNames, SparseInputRuleDependsOnDensityAndMinibatchSize) {
  EXPECT_TRUE(cm::prefer_sparse_input(0.05, 128));
  EXPECT_TRUE(cm::prefer_sparse_input(0.2, 128));
  EXPECT_FALSE(cm::prefer_sparse_input(0.5, 128));
  EXPECT_FALSE(cm::prefer_sparse_input(0.2, 32));  // small minibatches: the fixed cost dominates
  EXPECT_TRUE(cm::prefer_sparse_input(0.01, 32));
  EXPECT_FALSE(cm::prefer_sparse_input(0.0, 0));
  for (std::int64_t cells : {16, 32, 128, 1024})  // monotone in the density
    for (double d = 0.0; d < 0.6; d += 0.05)
      if (cm::prefer_sparse_input(d + 0.05, cells)) {
        EXPECT_TRUE(cm::prefer_sparse_input(d, cells));
      }
}

TEST(ModelConfigNames, UnknownNamesListTheKnownOnes) {
  const std::string input = cvt::error_of([] { cm::parse_input_kind("log"); });
  EXPECT_TRUE(contains(input, "unknown input 'log'")) << input;
  EXPECT_TRUE(contains(input, "log1p, identity")) << input;
  const std::string library = cvt::error_of([] { cm::parse_library_kind("Observed"); });
  EXPECT_TRUE(contains(library, "unknown library 'Observed'")) << library;
  EXPECT_TRUE(contains(library, "none, observed, latent")) << library;
}

// ---- validate
// ------------------------------------------------------------------------------------

TEST(ModelConfigValidate, DefaultsAndPresetLikeConfigsPass) {
  EXPECT_NO_THROW(cm::validate(valid()));
  EXPECT_NO_THROW(cm::validate(non_default()));
  cm::ModelConfig vaexprs = valid();
  vaexprs.input = cm::InputKind::identity;
  vaexprs.likelihood = cm::LikelihoodKind::bernoulli;
  vaexprs.library = cm::LibraryKind::none;
  vaexprs.encoder_hidden = {};
  vaexprs.decoder_hidden = {};
  vaexprs.variance_epsilon = 0;
  EXPECT_NO_THROW(cm::validate(vaexprs));
  cm::ModelConfig gaussian = valid();
  gaussian.likelihood = cm::LikelihoodKind::gaussian;
  gaussian.library = cm::LibraryKind::none;
  EXPECT_NO_THROW(cm::validate(gaussian));  // log1p or identity input both allowed
  gaussian.input = cm::InputKind::identity;
  EXPECT_NO_THROW(cm::validate(gaussian));
}

TEST(ModelConfigValidate, RangesOfSingleFields) {
  cm::ModelConfig c = valid();
  c.n_genes = 0;
  EXPECT_TRUE(contains(validate_error(c), "n_genes")) << validate_error(c);

  c = valid();
  c.latent_dim = 0;
  EXPECT_EQ(validate_error(c), "--latent-dim must be >= 1 (got 0)");

  c = valid();
  c.encoder_hidden = {64, 0};
  EXPECT_EQ(validate_error(c), "--hidden widths must be > 0 (got 0 for layer 2)");
  c = valid();
  c.decoder_hidden = {-3};
  EXPECT_EQ(validate_error(c), "--decoder-hidden widths must be > 0 (got -3 for layer 1)");

  c = valid();
  c.dropout = 1.0;
  EXPECT_EQ(validate_error(c), "--dropout must be in [0, 1) (got 1)");
  c.dropout = -0.5;
  EXPECT_EQ(validate_error(c), "--dropout must be in [0, 1) (got -0.5)");
  c.dropout = std::nan("");
  EXPECT_TRUE(contains(validate_error(c), "--dropout")) << validate_error(c);

  c = valid();
  c.variance_epsilon = -1e-4;
  EXPECT_TRUE(contains(validate_error(c), "variance_epsilon must be >= 0")) << validate_error(c);

  c = valid();
  c.n_labels = -1;
  EXPECT_TRUE(contains(validate_error(c), "n_labels")) << validate_error(c);
  c = valid();
  c.n_batches = -2;
  EXPECT_TRUE(contains(validate_error(c), "n_batches")) << validate_error(c);
}

TEST(ModelConfigValidate, ComponentsCountOnlyForTheMixturePrior) {
  cm::ModelConfig c = valid();
  c.components = 0;
  EXPECT_NO_THROW(cm::validate(c));  // standard normal prior: unused
  c.prior = cm::PriorKind::gaussian_mixture;
  EXPECT_EQ(validate_error(c), "--components must be >= 1 (got 0)");
  c.components = 1;
  EXPECT_NO_THROW(cm::validate(c));
}

TEST(ModelConfigValidate, LikelihoodLibraryAndInputCombinations) {
  cm::ModelConfig c = valid();
  c.likelihood = cm::LikelihoodKind::bernoulli;
  c.input = cm::InputKind::identity;
  EXPECT_EQ(validate_error(c),
            "--likelihood 'bernoulli' needs --library 'none' (got 'observed'): a library size "
            "scales count means only");
  c.likelihood = cm::LikelihoodKind::gaussian;
  c.library = cm::LibraryKind::latent;
  EXPECT_TRUE(contains(validate_error(c),
                       "--likelihood 'gaussian' needs --library 'none' (got "
                       "'latent')"))
      << validate_error(c);

  c = valid();
  c.input = cm::InputKind::identity;
  EXPECT_EQ(validate_error(c),
            "--likelihood 'zinb' models raw counts: use --input log1p (got 'identity')");
  for (auto k : {cm::LikelihoodKind::poisson, cm::LikelihoodKind::nb, cm::LikelihoodKind::zip}) {
    c.likelihood = k;
    EXPECT_TRUE(contains(validate_error(c), "use --input log1p")) << cm::to_string(k);
    c.library = cm::LibraryKind::none;  // the library does not matter
    EXPECT_TRUE(contains(validate_error(c), "use --input log1p")) << cm::to_string(k);
    c.library = cm::LibraryKind::observed;
  }

  c = valid();
  c.likelihood = cm::LikelihoodKind::bernoulli;
  c.library = cm::LibraryKind::none;
  EXPECT_EQ(validate_error(c),
            "--likelihood 'bernoulli' models values scaled to [0, 1]: use --input identity (got "
            "'log1p')");
}

TEST(ModelConfigValidate, DispersionTablesNeedTheirCovariate) {
  cm::ModelConfig c = valid();
  c.dispersion = cm::DispersionKind::gene_batch;
  EXPECT_EQ(validate_error(c), "--dispersion 'gene-batch' needs batches: give --batch-key");
  c.n_batches = 2;
  EXPECT_NO_THROW(cm::validate(c));

  c = valid();
  c.dispersion = cm::DispersionKind::gene_label;
  EXPECT_EQ(validate_error(c), "--dispersion 'gene-label' needs labels: give --label-key");
  c.n_labels = 3;
  EXPECT_NO_THROW(cm::validate(c));

  // Gaussian reads the dispersion kind for its scale; Poisson and ZIP ignore it.
  c = valid();
  c.likelihood = cm::LikelihoodKind::gaussian;
  c.library = cm::LibraryKind::none;
  c.dispersion = cm::DispersionKind::gene_batch;
  EXPECT_TRUE(contains(validate_error(c), "--batch-key")) << validate_error(c);
  c.likelihood = cm::LikelihoodKind::poisson;
  EXPECT_NO_THROW(cm::validate(c));
  c.likelihood = cm::LikelihoodKind::zip;
  EXPECT_NO_THROW(cm::validate(c));
}

TEST(ModelConfigValidate, TemplatesSkipOnlyTheDataDependentRules) {
  cm::ModelConfig c;  // n_genes == 0: the model part of fit options before the data are read
  c.dispersion = cm::DispersionKind::gene_label;
  EXPECT_NO_THROW(cm::validate_template(c));
  EXPECT_TRUE(contains(validate_error(c), "n_genes"));
  c.latent_dim = 0;
  EXPECT_EQ(cvt::error_of([&] { cm::validate_template(c); }), "--latent-dim must be >= 1 (got 0)");
  c.latent_dim = 3;
  c.n_genes = 10;  // resolved: the full rules apply
  EXPECT_EQ(cvt::error_of([&] { cm::validate_template(c); }),
            "--dispersion 'gene-label' needs labels: give --label-key");
}

// ---- JSON
// ----------------------------------------------------------------------------------------

TEST(ModelConfigJson, RoundTripOfANonDefaultConfigIsExact) {
  const cm::ModelConfig c = non_default();
  const json j = cm::model_config_to_json(c);
  // Through text, as the model directory stores it.
  const cm::ModelConfig back = cm::model_config_from_json(json::parse(j.dump()));
  expect_same(back, c);
  EXPECT_EQ(cm::model_config_to_json(back), j);
  // Enums by name, widths as arrays.
  EXPECT_EQ(j.at("prior"), "gmm");
  EXPECT_EQ(j.at("dispersion"), "gene-batch");
  EXPECT_EQ(j.at("decoder_injection"), "all");
  EXPECT_EQ(j.at("input"), "log1p");
  EXPECT_EQ(j.at("library"), "latent");
  EXPECT_EQ(j.at("encoder_hidden"), json::array({64, 32}));
  EXPECT_EQ(j.at("decoder_hidden"), json::array());
  EXPECT_EQ(j.at("sparse_input"), "dense");
  EXPECT_EQ(j.size(), 24u);  // every field
}

TEST(ModelConfigJson, MissingKeysKeepTheirDefaults) {
  const cm::ModelConfig c =
      cm::model_config_from_json(json{{"n_genes", 50}, {"latent_dim", 4}, {"likelihood", "nb"}});
  cm::ModelConfig expected;
  expected.n_genes = 50;
  expected.latent_dim = 4;
  expected.likelihood = cm::LikelihoodKind::nb;
  expect_same(c, expected);
  // An empty object is the default template.
  expect_same(cm::model_config_from_json(json::object()), cm::ModelConfig{});
}

TEST(ModelConfigJson, MistypedValuesNameTheKey) {
  EXPECT_EQ(from_json_error(json{{"latent_dim", "ten"}}),
            "model config: key 'latent_dim' must be an integer");
  EXPECT_EQ(from_json_error(json{{"latent_dim", 2.5}}),
            "model config: key 'latent_dim' must be an integer");
  EXPECT_EQ(from_json_error(json{{"dropout", true}}),
            "model config: key 'dropout' must be a number");
  EXPECT_EQ(from_json_error(json{{"fused_likelihood", 1}}),
            "model config: key 'fused_likelihood' must be true or false");
  EXPECT_EQ(from_json_error(json{{"encoder_hidden", json::array({128, "64"})}}),
            "model config: key 'encoder_hidden' must be an array of integers");
  EXPECT_EQ(from_json_error(json{{"decoder_hidden", 128}}),
            "model config: key 'decoder_hidden' must be an array of integers");
  EXPECT_EQ(from_json_error(json{{"seed", -1}}),
            "model config: key 'seed' must be a non-negative integer");
  EXPECT_EQ(from_json_error(json{{"prior", 1}}), "model config: key 'prior' must be a string");
  EXPECT_EQ(from_json_error(json::array()), "model config must be a JSON object");
}

TEST(ModelConfigJson, UnknownEnumNamesAndKeysAreNamed) {
  const std::string prior = from_json_error(json{{"prior", "gauss"}});
  EXPECT_EQ(prior, "model config: key 'prior': unknown prior 'gauss'; known: normal, gmm");
  const std::string dispersion = from_json_error(json{{"dispersion", "gene_batch"}});
  EXPECT_TRUE(contains(dispersion, "key 'dispersion': unknown dispersion 'gene_batch'"))
      << dispersion;
  EXPECT_TRUE(contains(from_json_error(json{{"library", "latnt"}}), "key 'library'"));
  EXPECT_TRUE(contains(from_json_error(json{{"input", "log"}}), "key 'input'"));
  EXPECT_TRUE(contains(from_json_error(json{{"norm", "group"}}), "key 'norm'"));
  EXPECT_TRUE(contains(from_json_error(json{{"activation", "gelu"}}), "key 'activation'"));
  EXPECT_TRUE(contains(from_json_error(json{{"likelihood", "zinbb"}}), "key 'likelihood'"));
  EXPECT_TRUE(
      contains(from_json_error(json{{"decoder_injection", "every"}}), "key 'decoder_injection'"));
  const std::string key = from_json_error(json{{"latentdim", 3}});
  EXPECT_TRUE(
      contains(key, "model config: unknown key 'latentdim'; known: activation, batches_in_encoder"))
      << key;
}

TEST(ModelConfigJson, ValidatesAfterReading) {
  // A resolved config (as in a model directory) gets every rule ...
  EXPECT_EQ(from_json_error(json{{"n_genes", 10}, {"dispersion", "gene-batch"}}),
            "--dispersion 'gene-batch' needs batches: give --batch-key");
  EXPECT_EQ(from_json_error(json{{"n_genes", 10}, {"dropout", 1.5}}),
            "--dropout must be in [0, 1) (got 1.5)");
  // ... a template only the data-independent ones.
  EXPECT_NO_THROW(cm::model_config_from_json(json{{"dispersion", "gene-batch"}}));
  EXPECT_EQ(from_json_error(json{{"likelihood", "bernoulli"}, {"input", "identity"}}),
            "--likelihood 'bernoulli' needs --library 'none' (got 'observed'): a library size "
            "scales count means only");
}
