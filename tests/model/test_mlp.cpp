// The encoder/decoder building block: names of its choices, shapes, activation formulas,
// normalisation and dropout modes, covariate injection, checkpoint names, save/load, validation,
// one-hot covariates.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "cellvae/error.hpp"
#include "cellvae/model/layer_kind.hpp"
#include "cellvae/model/mlp.hpp"
#include "test_support.hpp"

namespace cm = cellvae::model;
using cellvae::testing::error_of;
using cm::Activation;
using cm::CovariateInjection;
using cm::Normalization;

namespace {

const std::vector<Activation> kActivations = {
    Activation::relu,    Activation::elu,      Activation::leaky_relu, Activation::tanh,
    Activation::sigmoid, Activation::softplus, Activation::linear};

// An MLP with one square hidden layer whose Linear is the identity (covariate columns, if any,
// zero), in double precision, so that the output is norm/activation applied to x itself.
cm::Mlp identity_mlp(int64_t dim, Activation activation, Normalization norm = Normalization::none,
                     double dropout = 0.0) {
  cm::MlpOptions o;
  o.input_dim = dim;
  o.hidden = {dim};
  o.activation = activation;
  o.norm = norm;
  o.dropout = dropout;
  cm::Mlp mlp(o);
  mlp->to(torch::kDouble);
  torch::NoGradGuard no_grad;
  auto params = mlp->named_parameters();
  params["layers.0.linear.weight"].copy_(torch::eye(dim, torch::kDouble));
  params["layers.0.linear.bias"].zero_();
  return mlp;
}

double formula(Activation a, double x) {
  switch (a) {
    case Activation::relu:
      return x > 0 ? x : 0.0;
    case Activation::elu:
      return x > 0 ? x : std::exp(x) - 1.0;
    case Activation::leaky_relu:
      return x >= 0 ? x : 0.3 * x;
    case Activation::tanh:
      return std::tanh(x);
    case Activation::sigmoid:
      return 1.0 / (1.0 + std::exp(-x));
    case Activation::softplus:
      return std::log1p(std::exp(x));
    case Activation::linear:
      return x;
  }
  return NAN;
}

std::set<std::string> keys_of(const torch::OrderedDict<std::string, torch::Tensor>& dict) {
  std::set<std::string> keys;
  for (const auto& item : dict) keys.insert(item.key());
  return keys;
}

}  // namespace

// ---- names -------------------------------------------------------------------------------

TEST(LayerKindTest, NamesRoundTrip) {
  const std::vector<std::string> activation_names = {"relu",    "elu",      "leaky_relu", "tanh",
                                                     "sigmoid", "softplus", "linear"};
  for (std::size_t i = 0; i < kActivations.size(); ++i) {
    EXPECT_EQ(cm::to_string(kActivations[i]), activation_names[i]);
    EXPECT_EQ(cm::parse_activation(activation_names[i]), kActivations[i]);
  }
  for (auto n : {Normalization::none, Normalization::batch, Normalization::layer})
    EXPECT_EQ(cm::parse_normalization(cm::to_string(n)), n);
  EXPECT_EQ(cm::to_string(Normalization::none), "none");
  EXPECT_EQ(cm::to_string(Normalization::batch), "batch");
  EXPECT_EQ(cm::to_string(Normalization::layer), "layer");
  EXPECT_EQ(cm::to_string(CovariateInjection::first_layer), "first");
  EXPECT_EQ(cm::to_string(CovariateInjection::every_layer), "all");
  for (auto c : {CovariateInjection::first_layer, CovariateInjection::every_layer})
    EXPECT_EQ(cm::parse_covariate_injection(cm::to_string(c)), c);
}

TEST(LayerKindTest, UnknownNamesListValidOnes) {
  std::string msg = error_of([] { cm::parse_activation("gelu"); });
  EXPECT_NE(msg.find("gelu"), std::string::npos) << msg;
  EXPECT_NE(msg.find("leaky_relu"), std::string::npos) << msg;
  EXPECT_NE(msg.find("softplus"), std::string::npos) << msg;
  msg = error_of([] { cm::parse_normalization("group"); });
  EXPECT_NE(msg.find("batch"), std::string::npos) << msg;
  msg = error_of([] { cm::parse_covariate_injection("every_layer"); });
  EXPECT_NE(msg.find("first"), std::string::npos) << msg;
  EXPECT_NE(msg.find("all"), std::string::npos) << msg;
}

// ---- shapes ------------------------------------------------------------------------------

TEST(MlpTest, OutputShapesForEachConfiguration) {
  torch::manual_seed(1);
  const std::vector<std::vector<int64_t>> hiddens = {{}, {5}, {8, 4}, {3, 6, 2}};
  for (const auto& hidden : hiddens)
    for (auto norm : {Normalization::none, Normalization::batch, Normalization::layer})
      for (auto injection : {CovariateInjection::first_layer, CovariateInjection::every_layer})
        for (int64_t k : {0, 3}) {
          cm::MlpOptions o;
          o.input_dim = 7;
          o.hidden = hidden;
          o.norm = norm;
          o.covariate_dim = k;
          o.injection = injection;
          o.dropout = 0.2;
          cm::Mlp mlp(o);
          const torch::Tensor x = torch::randn({6, 7});
          torch::Tensor c;
          if (k > 0)
            c = cm::one_hot_covariates(torch::tensor({0, 1, 2, 0, 1, 2}).view({6, 1}), {3});
          const torch::Tensor y = mlp->forward(x, c);
          const int64_t out = hidden.empty() ? 7 : hidden.back();
          EXPECT_EQ(mlp->output_dim(), out);
          ASSERT_EQ(y.sizes(), (std::vector<int64_t>{6, out}));
          EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
          auto params = mlp->named_parameters();
          for (std::size_t i = 0; i < hidden.size(); ++i) {
            const auto& w = params["layers." + std::to_string(i) + ".linear.weight"];
            EXPECT_EQ(w.size(0), hidden[i]);
            EXPECT_EQ(w.size(1), cm::linear_input_dim(o, i));
            const int64_t prev = i == 0 ? 7 : hidden[i - 1];
            const bool inj = i == 0 || injection == CovariateInjection::every_layer;
            EXPECT_EQ(w.size(1), prev + (inj ? k : 0));
          }
          mlp->eval();
          EXPECT_EQ(mlp->forward(x, c).sizes(), (std::vector<int64_t>{6, out}));
        }
}

TEST(MlpTest, EmptyHiddenIsIdentity) {
  cm::MlpOptions o;
  o.input_dim = 4;
  cm::Mlp mlp(o);
  const torch::Tensor x = torch::randn({3, 4});
  EXPECT_TRUE(torch::equal(mlp->forward(x), x));
  EXPECT_TRUE(mlp->named_parameters().is_empty());
}

// ---- activations and normalisation -------------------------------------------------------

TEST(MlpTest, EveryActivationMatchesItsFormula) {
  const std::vector<double> values = {-25.0, -3.0, -1.0, -0.5, -1e-3, 0.0,
                                      1e-3,  0.5,  1.0,  3.0,  19.0,  30.0};
  const auto n = static_cast<int64_t>(values.size());
  const torch::Tensor x = torch::tensor(values, torch::kDouble).view({1, n});
  for (Activation a : kActivations) {
    cm::Mlp mlp = identity_mlp(n, a);
    const torch::Tensor y = mlp->forward(x);
    for (int64_t j = 0; j < n; ++j)
      EXPECT_NEAR(y[0][j].item<double>(), formula(a, values[j]),
                  1e-12 * std::max(1.0, std::abs(values[j])))
          << cm::to_string(a) << " at " << values[j];
  }
  // The documented leaky slope is keras's 0.3, not torch's 0.01.
  EXPECT_DOUBLE_EQ(cm::kLeakyReluSlope, 0.3);
  const torch::Tensor y =
      identity_mlp(1, Activation::leaky_relu)->forward(torch::full({1, 1}, -2.0, torch::kDouble));
  EXPECT_DOUBLE_EQ(y.item<double>(), -0.6);
}

TEST(MlpTest, BatchNormUsesBatchStatisticsInTrainingAndRunningOnesInEval) {
  torch::manual_seed(2);
  cm::Mlp mlp = identity_mlp(3, Activation::linear, Normalization::batch);
  const torch::Tensor x = torch::randn({16, 3}, torch::kDouble) * 2.0 + 5.0;
  mlp->train();
  const torch::Tensor train_out = mlp->forward(x);
  const torch::Tensor mean = x.mean(0);
  const torch::Tensor var_biased = x.var(0, /*unbiased=*/false);
  // Training: normalised with the batch's own mean and (biased) variance, eps 1e-3.
  EXPECT_TRUE(torch::allclose(train_out, (x - mean) / torch::sqrt(var_biased + 1e-3), 1e-9, 1e-9));
  // Running statistics moved by momentum 0.01 from (0, 1) (the running variance is unbiased).
  auto buffers = mlp->named_buffers();
  EXPECT_TRUE(torch::allclose(buffers["layers.0.norm.running_mean"], 0.01 * mean, 1e-12, 1e-12));
  EXPECT_TRUE(
      torch::allclose(buffers["layers.0.norm.running_var"], 0.99 + 0.01 * x.var(0), 1e-12, 1e-12));
  mlp->eval();
  const torch::Tensor eval_out = mlp->forward(x);
  EXPECT_TRUE(torch::allclose(eval_out,
                              (x - buffers["layers.0.norm.running_mean"]) /
                                  torch::sqrt(buffers["layers.0.norm.running_var"] + 1e-3),
                              1e-9, 1e-9));
  EXPECT_FALSE(torch::allclose(train_out, eval_out));
}

TEST(MlpTest, LayerNormNormalisesEachCellInBothModes) {
  torch::manual_seed(3);
  cm::Mlp mlp = identity_mlp(6, Activation::linear, Normalization::layer);
  const torch::Tensor x = torch::randn({5, 6}, torch::kDouble) * 3.0 + 2.0;
  const torch::Tensor y = mlp->forward(x);
  EXPECT_TRUE(torch::allclose(y.mean(1), torch::zeros({5}, torch::kDouble), 0, 1e-12));
  const torch::Tensor expected_var = x.var(1, false) / (x.var(1, false) + 1e-5);
  EXPECT_TRUE(torch::allclose(y.var(1, false), expected_var, 1e-10, 1e-10));
  mlp->eval();
  EXPECT_TRUE(torch::equal(mlp->forward(x), y));
  EXPECT_TRUE(mlp->named_parameters().contains("layers.0.linear.weight"));
  EXPECT_FALSE(mlp->named_parameters().contains("layers.0.norm.weight"));
}

TEST(MlpTest, DropoutOnlyInTraining) {
  torch::manual_seed(4);
  cm::Mlp mlp = identity_mlp(200, Activation::linear, Normalization::none, 0.5);
  const torch::Tensor x = torch::rand({4, 200}, torch::kDouble) + 1.0;  // all > 0
  mlp->train();
  const torch::Tensor a = mlp->forward(x);
  const torch::Tensor b = mlp->forward(x);
  EXPECT_FALSE(torch::equal(a, b));
  const double zero_fraction = (a == 0).to(torch::kDouble).mean().item<double>();
  EXPECT_GT(zero_fraction, 0.35);
  EXPECT_LT(zero_fraction, 0.65);
  // Kept units are scaled by 1 / (1 - p).
  const torch::Tensor kept = a != 0;
  EXPECT_TRUE(torch::allclose(a.masked_select(kept), 2.0 * x.masked_select(kept), 1e-12, 1e-12));
  mlp->eval();
  EXPECT_TRUE(torch::equal(mlp->forward(x), x));
  EXPECT_TRUE(torch::equal(mlp->forward(x), mlp->forward(x)));
}

// ---- covariates --------------------------------------------------------------------------

TEST(MlpTest, CovariatesChangeTheOutput) {
  for (auto injection : {CovariateInjection::first_layer, CovariateInjection::every_layer}) {
    torch::manual_seed(5);
    cm::MlpOptions o;
    o.input_dim = 4;
    o.hidden = {8, 8, 3};
    o.activation = Activation::tanh;
    o.covariate_dim = 5;  // a 2-level and a 3-level covariate
    o.injection = injection;
    cm::Mlp mlp(o);
    mlp->eval();
    const torch::Tensor x = torch::randn({1, 4}).expand({2, 4});
    const torch::Tensor c = cm::one_hot_covariates(
        std::vector<std::vector<int32_t>>{{0, 1}, {2, 2}}, std::vector<int64_t>{2, 3});
    torch::Tensor y = mlp->forward(x, c);
    EXPECT_FALSE(torch::allclose(y[0], y[1])) << cm::to_string(injection);

    // Zero the covariate columns of the first Linear: only every_layer still responds.
    {
      torch::NoGradGuard no_grad;
      mlp->named_parameters()["layers.0.linear.weight"].narrow(1, 4, 5).zero_();
    }
    y = mlp->forward(x, c);
    if (injection == CovariateInjection::first_layer)
      EXPECT_TRUE(torch::allclose(y[0], y[1], 1e-6, 1e-7));
    else
      EXPECT_FALSE(torch::allclose(y[0], y[1]));
  }
}

TEST(MlpTest, CovariatesAreTheLastInputColumns) {
  cm::MlpOptions o;
  o.input_dim = 2;
  o.hidden = {1};
  o.activation = Activation::linear;
  o.covariate_dim = 3;
  cm::Mlp mlp(o);
  {
    torch::NoGradGuard no_grad;
    auto p = mlp->named_parameters();
    p["layers.0.linear.weight"].copy_(torch::tensor({{1.0F, 10.0F, 100.0F, 1000.0F, 10000.0F}}));
    p["layers.0.linear.bias"].zero_();
  }
  const torch::Tensor x = torch::tensor({{1.0F, 1.0F}, {0.0F, 0.0F}});
  const torch::Tensor c = cm::one_hot_covariates(torch::tensor({{2}, {0}}), {3});
  const torch::Tensor y = mlp->forward(x, c);
  EXPECT_FLOAT_EQ(y[0][0].item<float>(), 11.0F + 10000.0F);
  EXPECT_FLOAT_EQ(y[1][0].item<float>(), 100.0F);
}

TEST(MlpTest, OneHotCovariates) {
  const torch::Tensor c = cm::one_hot_covariates(
      std::vector<std::vector<int32_t>>{{0, 1, 1}, {2, 0, 1}}, std::vector<int64_t>{2, 3});
  const torch::Tensor expected = torch::tensor({{1.0F, 0.0F, 0.0F, 0.0F, 1.0F},
                                                {0.0F, 1.0F, 1.0F, 0.0F, 0.0F},
                                                {0.0F, 1.0F, 0.0F, 1.0F, 0.0F}});
  EXPECT_TRUE(torch::equal(c, expected));
  EXPECT_EQ(cm::one_hot_covariates(torch::tensor({{1}}), {2}, torch::kDouble).scalar_type(),
            torch::kDouble);
  EXPECT_FALSE(cm::one_hot_covariates(std::vector<std::vector<int32_t>>{}, {}).defined());

  std::string msg = error_of([] {
    cm::one_hot_covariates(std::vector<std::vector<int32_t>>{{0, 1}, {0, -1}},
                           std::vector<int64_t>{2, 2});
  });
  EXPECT_NE(msg.find("-1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("covariate 1, cell 1"), std::string::npos) << msg;
  msg = error_of([] { cm::one_hot_covariates(torch::tensor({{3}}), {3}); });
  EXPECT_NE(msg.find("code 3"), std::string::npos) << msg;
  msg = error_of([] {
    cm::one_hot_covariates(std::vector<std::vector<int32_t>>{{0, 1}, {0}},
                           std::vector<int64_t>{2, 2});
  });
  EXPECT_NE(msg.find("covariate 1"), std::string::npos) << msg;
  msg = error_of([] { cm::one_hot_covariates(torch::tensor({{0.5}}), {2}); });
  EXPECT_NE(msg.find("integers"), std::string::npos) << msg;
}

// ---- checkpoint names and save/load ------------------------------------------------------

TEST(MlpTest, ParameterNamesAreTheDocumentedOnes) {
  cm::MlpOptions o;
  o.input_dim = 5;
  o.hidden = {4, 3};
  o.norm = Normalization::batch;
  o.dropout = 0.1;
  o.covariate_dim = 2;
  cm::Mlp mlp(o);
  EXPECT_EQ(keys_of(mlp->named_parameters()),
            (std::set<std::string>{"layers.0.linear.weight", "layers.0.linear.bias",
                                   "layers.0.norm.weight", "layers.0.norm.bias",
                                   "layers.1.linear.weight", "layers.1.linear.bias",
                                   "layers.1.norm.weight", "layers.1.norm.bias"}));
  EXPECT_EQ(
      keys_of(mlp->named_buffers()),
      (std::set<std::string>{"layers.0.norm.running_mean", "layers.0.norm.running_var",
                             "layers.0.norm.num_batches_tracked", "layers.1.norm.running_mean",
                             "layers.1.norm.running_var", "layers.1.norm.num_batches_tracked"}));
  o.norm = Normalization::none;
  EXPECT_EQ(keys_of(cm::Mlp(o)->named_parameters()),
            (std::set<std::string>{"layers.0.linear.weight", "layers.0.linear.bias",
                                   "layers.1.linear.weight", "layers.1.linear.bias"}));
}

TEST(MlpTest, SaveLoadGivesBitIdenticalOutputs) {
  cellvae::testing::ScratchDir dir;
  cm::MlpOptions o;
  o.input_dim = 6;
  o.hidden = {5, 4};
  o.activation = Activation::elu;
  o.norm = Normalization::batch;
  o.dropout = 0.3;
  o.covariate_dim = 2;
  o.injection = CovariateInjection::every_layer;
  torch::manual_seed(6);
  cm::Mlp mlp(o);
  const torch::Tensor x = torch::randn({10, 6});
  const torch::Tensor c = cm::one_hot_covariates(torch::randint(0, 2, {10, 1}), {2});
  mlp->train();
  mlp->forward(x, c);  // moves the batch-norm running statistics away from (0, 1)
  mlp->eval();
  const torch::Tensor before = mlp->forward(x, c);
  const std::string path = (dir / "mlp.pt").string();
  torch::save(mlp, path);

  torch::manual_seed(7);
  cm::Mlp loaded(o);
  loaded->eval();
  EXPECT_FALSE(torch::equal(loaded->forward(x, c), before));
  torch::load(loaded, path);
  loaded->eval();
  EXPECT_TRUE(torch::equal(loaded->forward(x, c), before));
}

// ---- validation --------------------------------------------------------------------------

TEST(MlpTest, BadOptionsNameTheField) {
  auto build_error = [](auto edit) {
    cm::MlpOptions o;
    o.input_dim = 3;
    o.hidden = {4, 2};
    edit(o);
    return error_of([&] { cm::Mlp mlp(o); });
  };
  std::string msg = build_error([](cm::MlpOptions& o) { o.input_dim = 0; });
  EXPECT_NE(msg.find("input_dim"), std::string::npos) << msg;
  msg = build_error([](cm::MlpOptions& o) { o.hidden[1] = 0; });
  EXPECT_NE(msg.find("hidden[1]"), std::string::npos) << msg;
  msg = build_error([](cm::MlpOptions& o) { o.dropout = 1.0; });
  EXPECT_NE(msg.find("dropout"), std::string::npos) << msg;
  msg = build_error([](cm::MlpOptions& o) { o.dropout = -0.1; });
  EXPECT_NE(msg.find("dropout"), std::string::npos) << msg;
  msg = build_error([](cm::MlpOptions& o) { o.dropout = NAN; });
  EXPECT_NE(msg.find("dropout"), std::string::npos) << msg;
  msg = build_error([](cm::MlpOptions& o) { o.covariate_dim = -1; });
  EXPECT_NE(msg.find("covariate_dim"), std::string::npos) << msg;
}

TEST(MlpTest, BadInputsNameTheField) {
  cm::MlpOptions o;
  o.input_dim = 3;
  o.hidden = {4};
  o.covariate_dim = 2;
  cm::Mlp mlp(o);
  const torch::Tensor x = torch::randn({5, 3});
  std::string msg = error_of([&] { mlp->forward(x, torch::zeros({5, 3})); });
  EXPECT_NE(msg.find("covariate_dim"), std::string::npos) << msg;
  msg = error_of([&] { mlp->forward(x, torch::zeros({4, 2})); });
  EXPECT_NE(msg.find("covariate_dim"), std::string::npos) << msg;
  msg = error_of([&] { mlp->forward(x); });
  EXPECT_NE(msg.find("covariate_dim"), std::string::npos) << msg;
  msg = error_of([&] { mlp->forward(torch::randn({5, 4}), torch::zeros({5, 2})); });
  EXPECT_NE(msg.find("input_dim"), std::string::npos) << msg;

  o.covariate_dim = 0;
  cm::Mlp plain(o);
  EXPECT_EQ(plain->forward(x, torch::Tensor()).sizes(), (std::vector<int64_t>{5, 4}));
  msg = error_of([&] { plain->forward(x, torch::zeros({5, 2})); });
  EXPECT_NE(msg.find("covariate_dim"), std::string::npos) << msg;
}
