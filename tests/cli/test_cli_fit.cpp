// `cellvae fit` and `cellvae score` end to end: the model directory, presets, config files,
// reproducibility, and errors that name the option.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <sstream>
#include <vector>

#include "test_support.hpp"

namespace cvt = cellvae::testing;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
using cellvae::testing::contains;
using cellvae::testing::quoted;

/// Simulated counts shared by the tests of this file (written once).
const fs::path& simulated() {
  static cvt::ScratchDir dir;
  static const fs::path path = [] {
    fs::path p = dir / "sim.h5ad";
    auto r = cvt::run_cellvae("simulate -o " + quoted(p) +
                              " --cells 400 --genes 60 --groups 3 --batches 2 --seed 3");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return p;
  }();
  return path;
}

json read_json(const fs::path& p) { return json::parse(cvt::read_text(p)); }

/// Column `name` of history.csv as numbers.
std::vector<double> history_column(const fs::path& model, const std::string& name) {
  std::istringstream in(cvt::read_text(model / "history.csv"));
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  std::stringstream hs(line);
  for (std::string cell; std::getline(hs, cell, ',');) header.push_back(cell);
  const auto col = std::find(header.begin(), header.end(), name) - header.begin();
  std::vector<double> values;
  while (std::getline(in, line)) {
    std::stringstream ls(line);
    std::string cell;
    for (long i = 0; i <= col; ++i) std::getline(ls, cell, ',');
    values.push_back(std::stod(cell));
  }
  return values;
}

const char* kFast = " --epochs 6 --threads 1 --quiet --seed 11";
}  // namespace

class FitPreset : public ::testing::TestWithParam<const char*> {};

TEST_P(FitPreset, WritesTheModelDirectoryWithAFallingLoss) {
  cvt::ScratchDir dir;
  const auto model = dir / "model";
  auto r = cvt::run_cellvae("fit " + quoted(simulated()) + " -o " + quoted(model) + " --preset " +
                            GetParam() + " --label-key group --batch-key batch" + kFast +
                            " --batch-size 64 --kl-warmup 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* f : {"model.json", "preprocess.json", "weights.pt", "training.pt",
                        "history.csv", "history.json"})
    EXPECT_TRUE(fs::exists(model / f)) << f;
  const json m = read_json(model / "model.json");
  EXPECT_EQ(m.at("format"), "cellvae-model");
  EXPECT_EQ(m.at("fit").at("preset"), GetParam());
  EXPECT_EQ(m.at("data").at("epochs"), 6);
  const auto loss = history_column(model, "train_loss");
  ASSERT_EQ(loss.size(), 6u);
  for (double v : loss) EXPECT_TRUE(std::isfinite(v));
  EXPECT_LT(loss.back(), loss.front());
  // No staging folder is left next to the output.
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename(), "model") << e.path();
}

INSTANTIATE_TEST_SUITE_P(Presets, FitPreset, ::testing::Values("vaexprs", "scvi", "gmvae"));

TEST(CliFit, PresetsSetTheirPublishedConfiguration) {
  cvt::ScratchDir dir;
  auto r = cvt::run_cellvae("fit " + quoted(simulated()) + " -o " + quoted(dir / "v") +
                            " --preset vaexprs --epochs 1 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json v = read_json(dir / "v" / "model.json").at("fit");
  EXPECT_EQ(v.at("model").at("likelihood"), "bernoulli");
  EXPECT_EQ(v.at("model").at("latent_dim"), 2);
  EXPECT_EQ(v.at("model").at("encoder_hidden"), json::array({256}));
  EXPECT_EQ(v.at("training").at("batch_size"), 32);

  r = cvt::run_cellvae("fit " + quoted(simulated()) + " -o " + quoted(dir / "g") +
                       " --preset gmvae --label-key group --epochs 1 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json g = read_json(dir / "g" / "model.json").at("fit").at("model");
  EXPECT_EQ(g.at("prior"), "gmm");
  EXPECT_EQ(g.at("likelihood"), "nb");
  EXPECT_EQ(g.at("components"), 3) << "K from the number of labels";
}

TEST(CliFit, SameSeedGivesIdenticalWeightsAndScores) {
  cvt::ScratchDir dir;
  const std::string base =
      "fit " + quoted(simulated()) + " --batch-key batch --epochs 6 --threads 1 --quiet -o ";
  ASSERT_EQ(cvt::run_cellvae(base + quoted(dir / "a") + " --seed 11").exit_code, 0);
  ASSERT_EQ(cvt::run_cellvae(base + quoted(dir / "b") + " --seed 11").exit_code, 0);
  ASSERT_EQ(cvt::run_cellvae(base + quoted(dir / "c") + " --seed 12").exit_code, 0);
  EXPECT_EQ(cvt::read_text(dir / "a" / "weights.pt"), cvt::read_text(dir / "b" / "weights.pt"));
  EXPECT_NE(cvt::read_text(dir / "a" / "weights.pt"), cvt::read_text(dir / "c" / "weights.pt"));

  // Scoring the saved models (a load each time) with the same seed gives the same numbers.
  for (const char* m : {"a", "b"}) {
    auto r = cvt::run_cellvae("score " + quoted(dir / m) + " " + quoted(simulated()) +
                              " --samples 30 --threads 1 -o " + quoted(dir / (std::string(m) + ".json")));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  const json sa = read_json(dir / "a.json"), sb = read_json(dir / "b.json");
  EXPECT_EQ(sa.at("elbo").get<double>(), sb.at("elbo").get<double>());
  EXPECT_EQ(sa.at("marginal_log_likelihood").get<double>(),
            sb.at("marginal_log_likelihood").get<double>());
  // The importance-sampled likelihood is a tighter bound than the ELBO; the ELBO is -(rec + KL).
  EXPECT_GE(sa.at("marginal_log_likelihood").get<double>(), sa.at("elbo").get<double>());
  EXPECT_NEAR(sa.at("elbo").get<double>(),
              -(sa.at("reconstruction_error").get<double>() + sa.at("kl_z").get<double>() +
                sa.at("kl_library").get<double>()),
              1e-6 * std::abs(sa.at("elbo").get<double>()));
  EXPECT_EQ(sa.at("n_cells"), 400);
}

// The multi-threaded kernels (likelihood, batch norm, first layer, optimizer) split their work
// the same way every run: two threads reproduce too.
TEST(CliFit, SameSeedAndTwoThreadsGiveIdenticalWeights) {
  cvt::ScratchDir dir;
  // Large enough that the kernels split (the decoder head, 128 x 128 x 800, is above
  // kParallelLinearMinWork).
  const auto data = dir / "wide.h5ad";
  ASSERT_EQ(cvt::run_cellvae("simulate -o " + quoted(data) +
                             " --cells 1500 --genes 800 --batches 2 --seed 4")
                .exit_code,
            0);
  const std::string base = "fit " + quoted(data) +
                           " --batch-key batch --epochs 2 --threads 2 --quiet --seed 5 -o ";
  ASSERT_EQ(cvt::run_cellvae(base + quoted(dir / "a")).exit_code, 0);
  ASSERT_EQ(cvt::run_cellvae(base + quoted(dir / "b")).exit_code, 0);
  EXPECT_EQ(cvt::read_text(dir / "a" / "weights.pt"), cvt::read_text(dir / "b" / "weights.pt"));
}

TEST(CliFit, ExistingOutputIsKeptUnlessForce) {
  cvt::ScratchDir dir;
  const auto model = dir / "model";
  const std::string base = "fit " + quoted(simulated()) + " -o " + quoted(model) + kFast;
  ASSERT_EQ(cvt::run_cellvae(base).exit_code, 0);
  const std::string weights = cvt::read_text(model / "weights.pt");
  auto r = cvt::run_cellvae(base + " --latent-dim 3");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "--force")) << r.output;
  EXPECT_EQ(cvt::read_text(model / "weights.pt"), weights);
  r = cvt::run_cellvae(base + " --latent-dim 3 --force");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_json(model / "model.json").at("fit").at("model").at("latent_dim"), 3);
}

TEST(CliFit, ConfigFileThenFlags) {
  cvt::ScratchDir dir;
  const auto config = dir / "config.json";
  cvt::write_text(config, R"({"model": {"latent_dim": 4, "encoder_hidden": [32, 16]},
                              "training": {"learning_rate": 0.005}})");
  auto r = cvt::run_cellvae("fit " + quoted(simulated()) + " -o " + quoted(dir / "m") + " --config " +
                            quoted(config) + " --lr 0.002" + kFast);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json fit = read_json(dir / "m" / "model.json").at("fit");
  EXPECT_EQ(fit.at("model").at("latent_dim"), 4);
  EXPECT_EQ(fit.at("model").at("encoder_hidden"), json::array({32, 16}));
  EXPECT_DOUBLE_EQ(fit.at("training").at("learning_rate").get<double>(), 0.002);

  // The saved 'fit' block is itself a valid config that reproduces the same weights.
  cvt::write_text(dir / "saved.json", fit.dump());
  r = cvt::run_cellvae("fit " + quoted(simulated()) + " -o " + quoted(dir / "m2") + " --config " +
                       quoted(dir / "saved.json") + " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(cvt::read_text(dir / "m" / "weights.pt"), cvt::read_text(dir / "m2" / "weights.pt"));

  cvt::write_text(config, R"({"model": {"latent_dimension": 4}})");
  r = cvt::run_cellvae("fit " + quoted(simulated()) + " -o " + quoted(dir / "m3") + " --config " + quoted(config));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "latent_dimension")) << r.output;
  EXPECT_FALSE(fs::exists(dir / "m3"));
}

// The fast paths (first layer from the nonzeros, fused likelihood and optimizer) are a
// computation choice: the same seed gives the same training curve as the plain LibTorch path, to
// float rounding, and model.json records the choice.
TEST(CliFit, FastAndPlainKernelsTrainTheSameModel) {
  cvt::ScratchDir dir;
  const std::string base = "fit " + quoted(simulated()) + " --batch-key batch" + kFast + " -o ";
  auto r = cvt::run_cellvae(base + quoted(dir / "fast") + " --sparse-input sparse");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = cvt::run_cellvae(base + quoted(dir / "plain") + " --sparse-input dense --plain-kernels");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json fast = read_json(dir / "fast" / "model.json").at("fit");
  const json plain = read_json(dir / "plain" / "model.json").at("fit");
  EXPECT_EQ(fast.at("model").at("sparse_input"), "sparse");
  EXPECT_EQ(fast.at("model").at("fused_likelihood"), true);
  EXPECT_EQ(fast.at("training").at("fused_optimizer"), true);
  EXPECT_EQ(plain.at("model").at("sparse_input"), "dense");
  EXPECT_EQ(plain.at("model").at("fused_likelihood"), false);
  EXPECT_EQ(plain.at("training").at("fused_optimizer"), false);
  const auto a = history_column(dir / "fast", "train_loss");
  const auto b = history_column(dir / "plain", "train_loss");
  ASSERT_EQ(a.size(), b.size());
  ASSERT_FALSE(a.empty());
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(a[i], b[i], 1e-3 * std::abs(b[i])) << "epoch " << i + 1;
}

TEST(CliFit, BadOptionsNameTheOption) {
  cvt::ScratchDir dir;
  const std::string base = "fit " + quoted(simulated()) + " -o " + quoted(dir / "m") + " --epochs 1 ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--kl-weight -1", "--kl-weight"},
      {"--latent-dim 0", "--latent-dim"},
      {"--likelihood gamma", "gamma"},
      {"--optimizer lbfgs", "--optimizer"},
      {"--activation swish", "swish"},
      {"--hidden 64,x", "--hidden"},
      {"--dropout 1.5", "--dropout"},
      {"--lr-factor 2", "--lr-factor"},
      {"--label-key cell_type", "cell_type"},
      {"--batch-key donor", "donor"},
      {"--validation-split 1", "--validation-split"},
      {"--device tpu", "--device"},
      {"--sparse-input diagonal", "--sparse-input"},
  };
  for (const auto& [flags, expected] : cases) {
    auto r = cvt::run_cellvae(base + flags);
    EXPECT_EQ(r.exit_code, 2) << flags << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, expected)) << flags << "\n" << r.output;
  }
  EXPECT_FALSE(fs::exists(dir / "m"));
}

TEST(CliFit, CountLikelihoodRejectsNonIntegerData) {
  cvt::ScratchDir dir;
  const auto csv = dir / "x.csv";
  std::string text = "cell,g1,g2,g3\n";
  for (int i = 0; i < 40; ++i)
    text += "c" + std::to_string(i) + "," + std::to_string(i % 5) + ".5,1,2\n";
  cvt::write_text(csv, text);
  auto r = cvt::run_cellvae("fit " + quoted(csv) + " -o " + quoted(dir / "m") + " --preset scvi --epochs 1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "zinb")) << r.output;
  EXPECT_TRUE(contains(r.output, "integer")) << r.output;
  // A likelihood for continuous values accepts them when asked.
  r = cvt::run_cellvae("fit " + quoted(csv) + " -o " + quoted(dir / "m") +
                       " --preset vaexprs --allow-non-integer --epochs 1 --quiet");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(CliScore, RejectsDataWithOtherGenesAndAMissingModel) {
  cvt::ScratchDir dir;
  ASSERT_EQ(cvt::run_cellvae("fit " + quoted(simulated()) + " -o " + quoted(dir / "m") + kFast).exit_code,
            0);
  const auto other = dir / "other.h5ad";
  ASSERT_EQ(cvt::run_cellvae("simulate -o " + quoted(other) + " --cells 50 --genes 20").exit_code, 0);
  auto r = cvt::run_cellvae("score " + quoted(dir / "m") + " " + quoted(other));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "gene")) << r.output;
  r = cvt::run_cellvae("score " + quoted(dir / "nope") + " " + quoted(other));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "nope")) << r.output;
}
