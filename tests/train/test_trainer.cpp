// The Trainer on tiny data: statistical checks (never exact losses after training), early
// stopping with restore-best, reproducibility, reduce-LR, clipping, non-finite losses.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "cellvae/data/cell_data.hpp"
#include "cellvae/dataset.hpp"
#include "cellvae/error.hpp"
#include "cellvae/random.hpp"
#include "cellvae/simulate.hpp"
#include "cellvae/train/trainer.hpp"
#include "test_support.hpp"

namespace cvt = cellvae::testing;
namespace model = cellvae::model;
using cellvae::data::CellData;
using namespace cellvae::train;

namespace {

std::vector<std::int64_t> range(std::int64_t begin, std::int64_t end) {
  std::vector<std::int64_t> v;
  for (std::int64_t i = begin; i < end; ++i) v.push_back(i);
  return v;
}

// Simulated NB counts with group labels and batches.
CellData simulated(std::int64_t cells, std::int64_t genes, std::int64_t batches,
                   std::uint64_t seed) {
  cellvae::SimulateOptions o;
  o.n_cells = cells;
  o.n_genes = genes;
  o.n_groups = 3;
  o.n_batches = batches;
  o.seed = seed;
  o.library_median = 400;
  const cellvae::Dataset ds = cellvae::simulate_counts(o);
  CellData d;
  d.counts = ds.X;
  d.labels = ds.obs.at("group").codes;
  d.batches = ds.obs.at("batch").codes;
  return d;
}

// A small scVI-like model: ZINB, observed library, batch norm, dropout 0.1.
model::ModelConfig small_config(std::int64_t genes) {
  model::ModelConfig c;
  c.n_genes = genes;
  c.encoder_hidden = {32};
  c.decoder_hidden = {32};
  c.latent_dim = 4;
  c.seed = 11;
  return c;
}

// Parameters then buffers, deep-copied.
std::vector<torch::Tensor> state_of(model::Vae& m) {
  std::vector<torch::Tensor> s;
  for (const auto& p : m->parameters()) s.push_back(p.detach().clone());
  for (const auto& b : m->buffers()) s.push_back(b.detach().clone());
  return s;
}

bool bit_identical(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

// L2 distance between two parameter lists (parameters only: the first n entries).
double distance(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b,
                std::size_t n) {
  double sq = 0;
  for (std::size_t i = 0; i < n; ++i)
    sq += (a[i] - b[i]).to(torch::kDouble).pow(2).sum().item<double>();
  return std::sqrt(sq);
}

History train_all(Trainer& t) {
  while (!t.done()) t.run_epoch();
  return t.finish();
}

// The value early stopping monitors (full λ = 1 here).
double monitored(const LossSummary& s, double kl_weight) {
  return s.reconstruction + s.kl_library + kl_weight * s.kl_z;
}

}  // namespace

// The notebook's sanity check: a Poisson VAE on Poisson data recovers each gene's rate.
TEST(Trainer, PoissonModelRecoversTheRates) {
  constexpr std::int64_t kCells = 2000, kGenes = 10;
  cellvae::Rng rng(2024);
  std::vector<float> dense(static_cast<std::size_t>(kCells * kGenes));
  for (std::int64_t c = 0; c < kCells; ++c)
    for (std::int64_t g = 0; g < kGenes; ++g)
      dense[static_cast<std::size_t>(c * kGenes + g)] = static_cast<float>(rng.poisson(g + 1.0));
  CellData data;
  data.counts = cellvae::csr_from_dense(dense.data(), kCells, kGenes);

  model::ModelConfig cfg;
  cfg.n_genes = kGenes;
  cfg.likelihood = model::LikelihoodKind::poisson;
  cfg.library = model::LibraryKind::none;
  cfg.encoder_hidden = {16};
  cfg.decoder_hidden = {16};
  cfg.latent_dim = 2;
  cfg.norm = model::Normalization::none;
  cfg.dropout = 0;
  cfg.seed = 3;
  model::Vae vae(cfg);
  TrainOptions o;
  o.epochs = 30;
  o.learning_rate = 1e-2;
  o.seed = 4;
  Trainer trainer(vae, data, range(0, kCells), {}, o);
  const History h = train_all(trainer);
  ASSERT_EQ(h.epochs.size(), 30u);

  torch::NoGradGuard no_grad;
  const model::CellBatch batch = cellvae::data::make_batch(data, range(0, kCells));
  const torch::Tensor z = vae->latent_mean(batch);
  const model::LikelihoodParams params =
      vae->decode(z, vae->log_library(batch), batch.labels, batch.batches);
  const torch::Tensor mean = vae->likelihood().mean(params).mean(0);
  for (std::int64_t g = 0; g < kGenes; ++g) {
    const double rate = static_cast<double>(g + 1);
    EXPECT_NEAR(mean[g].item<double>(), rate, 0.1 * rate) << "gene " << g;
  }
}

// Loss finite and falling for several configurations (no warm-up, so the objective is fixed).
struct FallingCase {
  const char* name;
  model::ModelConfig config;
};

class LossFalls : public ::testing::TestWithParam<FallingCase> {};

TEST_P(LossFalls, FiniteAndFalling) {
  const CellData data = simulated(400, 60, 2, 5);
  model::Vae vae(GetParam().config);
  TrainOptions o;
  o.epochs = 12;
  o.batch_size = 64;
  o.learning_rate = 3e-3;
  o.seed = 1;
  Trainer trainer(vae, data, range(0, 320), range(320, 400), o);
  const History h = train_all(trainer);
  ASSERT_EQ(h.epochs.size(), 12u);
  for (const EpochRecord& e : h.epochs) {
    EXPECT_TRUE(std::isfinite(e.train.loss)) << "epoch " << e.epoch;
    ASSERT_TRUE(e.validation.has_value());
    EXPECT_TRUE(std::isfinite(e.validation->loss)) << "epoch " << e.epoch;
    EXPECT_GT(e.seconds, 0.0);
  }
  const double first = h.epochs.front().train.loss;
  double last = 0;
  for (std::size_t i = h.epochs.size() - 3; i < h.epochs.size(); ++i)
    last += h.epochs[i].train.loss / 3;
  EXPECT_LT(last, first) << GetParam().name;
  EXPECT_LT(h.epochs.back().validation->loss, h.epochs.front().validation->loss);
  EXPECT_FALSE(vae->is_training());  // finish() leaves the model in eval mode
}

std::vector<FallingCase> falling_cases() {
  FallingCase zinb{"zinb-observed", small_config(60)};
  zinb.config.n_batches = 2;
  FallingCase gmm{"gmm-nb", small_config(60)};
  gmm.config.likelihood = model::LikelihoodKind::nb;
  gmm.config.prior = model::PriorKind::gaussian_mixture;
  gmm.config.components = 3;
  FallingCase latent{"zinb-latent-library", small_config(60)};
  latent.config.library = model::LibraryKind::latent;
  latent.config.n_batches = 2;
  latent.config.n_labels = 3;
  return {zinb, gmm, latent};
}

INSTANTIATE_TEST_SUITE_P(Models, LossFalls, ::testing::ValuesIn(falling_cases()),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

TEST(Trainer, LatentLibraryPriorIsSetFromTheTrainingCells) {
  const CellData data = simulated(120, 30, 2, 9);
  model::ModelConfig cfg = small_config(30);
  cfg.library = model::LibraryKind::latent;
  cfg.n_batches = 2;
  model::Vae vae(cfg);
  const auto train = range(0, 80);
  Trainer trainer(vae, data, train, {}, TrainOptions{});
  const auto [mean, var] = cellvae::data::library_prior(data, train, 2);
  const auto buffers = vae->named_buffers();
  ASSERT_TRUE(buffers.contains("library_prior_mean"));
  ASSERT_TRUE(buffers.contains("library_prior_variance"));
  EXPECT_TRUE(torch::allclose(buffers["library_prior_mean"].to(torch::kFloat), mean));
  EXPECT_TRUE(torch::allclose(buffers["library_prior_variance"].to(torch::kFloat), var));
}

TEST(Trainer, EarlyStoppingStopsAndRestoresTheBestEpoch) {
  const CellData data = simulated(150, 40, 1, 21);
  model::ModelConfig cfg = small_config(40);
  cfg.likelihood = model::LikelihoodKind::nb;
  cfg.encoder_hidden = {64};
  cfg.decoder_hidden = {64};
  cfg.dropout = 0;  // batch norm stays: its running statistics must be restored too
  TrainOptions o;
  o.epochs = 300;
  o.patience = 2;
  o.learning_rate = 2e-2;  // overfits 110 cells quickly
  o.batch_size = 32;
  o.seed = 8;
  const auto train = range(0, 110), validation = range(110, 150);

  model::Vae vae(cfg);
  Trainer trainer(vae, data, train, validation, o);
  while (!trainer.done()) trainer.run_epoch();
  const std::vector<torch::Tensor> last_state = state_of(vae);
  const History h = trainer.finish();

  ASSERT_TRUE(h.stopped_early);
  ASSERT_LT(h.epochs.size(), 300u);
  // Stopped `patience` epochs after the best one, which is the first minimum.
  ASSERT_EQ(static_cast<std::int64_t>(h.epochs.size()), h.best_epoch + 2);
  const double best =
      monitored(*h.epochs[static_cast<std::size_t>(h.best_epoch - 1)].validation, 1);
  for (const EpochRecord& e : h.epochs) {
    const double v = monitored(*e.validation, 1);
    if (e.epoch < h.best_epoch) {
      EXPECT_LT(best, v) << "epoch " << e.epoch;
    } else {
      EXPECT_LE(best, v) << "epoch " << e.epoch;
    }
  }
  const std::vector<torch::Tensor> restored = state_of(vae);
  EXPECT_FALSE(bit_identical(restored, last_state));  // the restore changed the weights

  // The same training stopped at the best epoch holds exactly these weights and buffers.
  TrainOptions again = o;
  again.epochs = h.best_epoch;
  again.patience.reset();
  again.restore_best = false;
  model::Vae vae2(cfg);
  Trainer trainer2(vae2, data, train, validation, again);
  const History h2 = train_all(trainer2);
  EXPECT_EQ(h2.best_epoch, h.best_epoch);
  EXPECT_FALSE(h2.stopped_early);
  EXPECT_TRUE(bit_identical(restored, state_of(vae2)));
  EXPECT_EQ(h2.epochs.back().validation->loss,
            h.epochs[static_cast<std::size_t>(h.best_epoch - 1)].validation->loss);
}

TEST(Trainer, SameSeedIsBitIdenticalAndAnotherSeedDiffers) {
  const CellData data = simulated(200, 50, 2, 13);
  model::ModelConfig cfg = small_config(50);  // batch norm and dropout: both generators used
  cfg.n_batches = 2;
  auto run = [&](std::uint64_t seed) {
    model::Vae vae(cfg);
    TrainOptions o;
    o.epochs = 2;
    o.batch_size = 32;
    o.seed = seed;
    Trainer t(vae, data, range(0, 160), range(160, 200), o);
    train_all(t);
    return state_of(vae);
  };
  const auto a = run(5), b = run(5), c = run(6);
  EXPECT_TRUE(bit_identical(a, b));
  EXPECT_FALSE(bit_identical(a, c));
}

// The fast paths (FusedAdam with cleared gradients, the sparse first layer) train like the
// reference paths (torch::optim::Adam with zero_grad, the dense first layer): after two epochs
// the weights agree to float rounding. adam and adamw.
TEST(Trainer, FastPathsTrainLikeTheReferencePaths) {
  const CellData data = simulated(200, 50, 2, 13);
  model::ModelConfig cfg = small_config(50);
  cfg.n_batches = 2;
  cfg.batches_in_encoder = true;
  for (auto kind : {OptimizerKind::adam, OptimizerKind::adamw}) {
    auto run = [&](bool fast) {
      model::ModelConfig c = cfg;
      c.sparse_input = fast ? model::SparseInput::sparse : model::SparseInput::dense;
      model::Vae vae(c);
      TrainOptions o;
      o.optimizer = kind;
      o.epochs = 2;
      o.batch_size = 32;
      o.adam_epsilon = 0.01;
      o.weight_decay = 1e-3;
      o.fused_optimizer = fast;
      Trainer t(vae, data, range(0, 160), range(160, 200), o);
      const History h = train_all(t);
      return std::make_pair(state_of(vae), h.epochs.back().train.loss);
    };
    const auto [fast, fast_loss] = run(true);
    const auto [reference, reference_loss] = run(false);
    ASSERT_EQ(fast.size(), reference.size());
    for (std::size_t i = 0; i < fast.size(); ++i)
      EXPECT_TRUE(torch::allclose(fast[i], reference[i], 1e-4, 1e-5))
          << to_string(kind) << " tensor " << i << ": max |diff| "
          << (fast[i] - reference[i]).abs().max().item<double>();
    EXPECT_NEAR(fast_loss, reference_loss, 1e-4 * std::abs(reference_loss));
  }
}

TEST(Trainer, ReducesTheLearningRateAfterAPlateau) {
  const CellData data = simulated(100, 30, 1, 2);
  model::Vae vae(small_config(30));
  TrainOptions o;
  o.optimizer = OptimizerKind::sgd;
  o.learning_rate = 1e-2;
  o.epochs = 8;
  o.min_delta = 1e9;  // nothing after the first epoch counts as an improvement
  o.lr_patience = 2;
  o.lr_factor = 0.5;
  o.min_learning_rate = 4e-3;
  Trainer trainer(vae, data, range(0, 100), {}, o);
  const History h = train_all(trainer);
  const std::vector<double> expected = {1e-2, 1e-2, 1e-2, 5e-3, 5e-3, 4e-3, 4e-3, 4e-3};
  ASSERT_EQ(h.epochs.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_DOUBLE_EQ(h.epochs[i].learning_rate, expected[i]) << "epoch " << i + 1;
  EXPECT_EQ(h.best_epoch, 1);
}

TEST(Trainer, TheReducedLearningRateReachesTheOptimizer) {
  const CellData data = simulated(100, 30, 1, 2);
  model::ModelConfig cfg = small_config(30);
  cfg.norm = model::Normalization::none;
  cfg.dropout = 0;
  model::Vae vae(cfg);
  TrainOptions o;
  o.optimizer = OptimizerKind::sgd;
  o.learning_rate = 1e-2;
  o.epochs = 3;
  o.min_delta = 1e9;
  o.lr_patience = 1;
  o.lr_factor = 1e-3;
  Trainer trainer(vae, data, range(0, 100), {}, o);
  const std::size_t n_params = vae->parameters().size();
  trainer.run_epoch();
  const auto s1 = state_of(vae);
  trainer.run_epoch();
  const auto s2 = state_of(vae);
  trainer.run_epoch();
  const auto s3 = state_of(vae);
  EXPECT_DOUBLE_EQ(trainer.history().epochs[2].learning_rate, 1e-5);
  const double full = distance(s1, s2, n_params), reduced = distance(s2, s3, n_params);
  EXPECT_GT(full, 0.0);
  EXPECT_LT(reduced, 0.02 * full) << "full-rate step " << full << ", reduced " << reduced;
}

TEST(Trainer, GradientClippingBoundsEachStep) {
  const CellData data = simulated(160, 40, 1, 3);
  model::ModelConfig cfg = small_config(40);
  cfg.norm = model::Normalization::none;
  cfg.dropout = 0;
  auto movement = [&](std::optional<double> clip, std::int64_t& steps) {
    model::Vae vae(cfg);
    TrainOptions o;
    o.optimizer = OptimizerKind::sgd;
    o.learning_rate = 1e-3;
    o.batch_size = 32;
    o.epochs = 1;
    o.gradient_clip = clip;
    Trainer t(vae, data, range(0, 160), {}, o);
    const auto before = state_of(vae);
    steps = 0;
    t.run_epoch([&](std::int64_t, std::int64_t, double) { ++steps; });
    return distance(before, state_of(vae), vae->parameters().size());
  };
  std::int64_t steps = 0;
  const double clipped = movement(1e-4, steps);
  ASSERT_EQ(steps, 5);
  // Plain SGD moves each step by lr * (clipped gradient), whose norm is at most the clip value.
  const double bound = static_cast<double>(steps) * 1e-3 * 1e-4;
  EXPECT_LE(clipped, bound * 1.001);
  EXPECT_GT(clipped, 0.0);
  const double free = movement(std::nullopt, steps);
  EXPECT_GT(free, 10 * bound);
}

TEST(Trainer, NonFiniteLossNamesEpochAndBatch) {
  CellData data = simulated(100, 30, 1, 4);
  data.counts.data[7] = std::numeric_limits<float>::quiet_NaN();
  model::Vae vae(small_config(30));
  TrainOptions o;
  o.epochs = 2;
  o.batch_size = 32;
  Trainer trainer(vae, data, range(0, 100), {}, o);
  const std::string msg = cvt::error_of([&] { trainer.run_epoch(); });
  EXPECT_NE(msg.find("non-finite loss in epoch 1, batch "), std::string::npos) << msg;
  EXPECT_NE(msg.find("--lr"), std::string::npos) << msg;
}

TEST(Trainer, HugeSgdLearningRateEndsInAClearError) {
  const CellData data = simulated(100, 30, 1, 6);
  model::ModelConfig cfg = small_config(30);
  cfg.likelihood = model::LikelihoodKind::poisson;
  cfg.library = model::LibraryKind::none;
  cfg.norm = model::Normalization::none;
  cfg.dropout = 0;
  model::Vae vae(cfg);
  TrainOptions o;
  o.optimizer = OptimizerKind::sgd;
  o.learning_rate = 1e6;
  o.epochs = 10;
  o.batch_size = 20;
  Trainer trainer(vae, data, range(0, 100), {}, o);
  const std::string msg = cvt::error_of([&] { train_all(trainer); });
  EXPECT_NE(msg.find("non-finite loss in epoch "), std::string::npos) << msg;
  EXPECT_NE(msg.find("try a lower --lr"), std::string::npos) << msg;
}

TEST(Trainer, KlWarmupAndPerCellLossTerms) {
  const CellData data = simulated(120, 30, 1, 7);
  model::Vae vae(small_config(30));
  TrainOptions o;
  o.epochs = 6;
  o.kl_weight = 0.5;
  o.kl_warmup_epochs = 4;
  o.batch_size = 40;
  Trainer trainer(vae, data, range(0, 100), range(100, 120), o);
  const History h = train_all(trainer);
  const std::vector<double> weights = {0.0, 0.125, 0.25, 0.375, 0.5, 0.5};
  ASSERT_EQ(h.epochs.size(), weights.size());
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const EpochRecord& e = h.epochs[i];
    EXPECT_DOUBLE_EQ(e.kl_weight, weights[i]);
    const double w = e.kl_weight;
    const double train_sum = e.train.reconstruction + e.train.kl_library + w * e.train.kl_z;
    EXPECT_NEAR(e.train.loss, train_sum, 1e-5 * std::abs(train_sum));
    const double val_sum =
        e.validation->reconstruction + e.validation->kl_library + w * e.validation->kl_z;
    EXPECT_NEAR(e.validation->loss, val_sum, 1e-5 * std::abs(val_sum));
    EXPECT_GT(e.train.kl_z, 0.0);
    EXPECT_EQ(e.train.kl_library, 0.0);  // observed library: no library KL
  }
}

TEST(Trainer, BatchCallbackSeesEveryTrainedBatchAndSkipsTinyOnes) {
  const CellData data = simulated(102, 30, 1, 8);
  model::Vae vae(small_config(30));
  TrainOptions o;
  o.epochs = 1;
  o.batch_size = 50;  // 50 + 50 + 2: the last two cells are skipped (< min_batch_cells)
  Trainer trainer(vae, data, range(0, 102), {}, o);
  std::vector<std::int64_t> indices;
  double last_running = 0;
  const EpochRecord& r = trainer.run_epoch([&](std::int64_t b, std::int64_t n, double running) {
    EXPECT_EQ(n, 2);
    indices.push_back(b);
    last_running = running;
  });
  EXPECT_EQ(indices, (std::vector<std::int64_t>{0, 1}));
  EXPECT_EQ(last_running, r.train.loss);
  EXPECT_TRUE(trainer.done());
  EXPECT_THROW(trainer.run_epoch(), std::logic_error);
}

TEST(Trainer, DefaultEpochsFromTheNumberOfTrainingCells) {
  const CellData data = simulated(60, 20, 1, 1);
  model::Vae vae(small_config(20));
  Trainer trainer(vae, data, range(0, 50), {}, TrainOptions{});
  EXPECT_EQ(trainer.max_epochs(), 400);
  EXPECT_EQ(trainer.max_epochs(), default_epochs(50));
}

TEST(Trainer, RejectsInputTheModelCannotUse) {
  CellData data = simulated(60, 20, 1, 1);
  model::ModelConfig cfg = small_config(20);
  cfg.n_labels = 3;
  {
    CellData no_labels = data;
    no_labels.labels.clear();
    const std::string msg = cvt::error_of(
        [&] { Trainer t(model::Vae(cfg), no_labels, range(0, 60), {}, TrainOptions{}); });
    EXPECT_NE(msg.find("no label codes"), std::string::npos) << msg;
  }
  {
    CellData bad = data;
    bad.labels[4] = 7;
    const std::string msg = cvt::error_of(
        [&] { Trainer t(model::Vae(cfg), bad, range(0, 60), {}, TrainOptions{}); });
    EXPECT_NE(msg.find("cell 4 has label code 7"), std::string::npos) << msg;
  }
  EXPECT_NE(cvt::error_of([&] { Trainer t(model::Vae(cfg), data, {}, {}, TrainOptions{}); })
                .find("no training cells"),
            std::string::npos);
  EXPECT_NE(cvt::error_of([&] {
              Trainer t(model::Vae(cfg), data, range(0, 60), {60}, TrainOptions{});
            }).find("out of range"),
            std::string::npos);
  EXPECT_NE(cvt::error_of([&] {
              Trainer t(model::Vae(small_config(21)), data, range(0, 60), {}, TrainOptions{});
            }).find("20 genes"),
            std::string::npos);
  TrainOptions bad_lr;
  bad_lr.learning_rate = -1;
  EXPECT_NE(cvt::error_of([&] { Trainer t(model::Vae(cfg), data, range(0, 60), {}, bad_lr); })
                .find("--lr"),
            std::string::npos);
}

TEST(EvaluateLoss, DeterministicGivenTheGeneratorAndRestoresTheMode) {
  const CellData data = simulated(80, 20, 1, 10);
  model::Vae vae(small_config(20));
  vae->train();
  torch::Generator g1 = make_generator(torch::kCPU, 42), g2 = make_generator(torch::kCPU, 42);
  const LossSummary a = evaluate_loss(vae, data, range(0, 80), 16, 1.0, g1);
  EXPECT_TRUE(vae->is_training());
  const LossSummary b = evaluate_loss(vae, data, range(0, 80), 16, 1.0, g2);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.reconstruction, b.reconstruction);
  EXPECT_TRUE(std::isfinite(a.loss));
  EXPECT_NEAR(a.loss, a.reconstruction + a.kl_library + a.kl_z, 1e-5 * std::abs(a.loss));
  EXPECT_NEAR(a.elbo(), -a.loss, 1e-5 * std::abs(a.loss));
  // The KL weight enters the loss only.
  torch::Generator g3 = make_generator(torch::kCPU, 42);
  const LossSummary half = evaluate_loss(vae, data, range(0, 80), 16, 0.5, g3);
  EXPECT_EQ(half.kl_z, a.kl_z);
  EXPECT_NEAR(half.loss, a.loss - 0.5 * a.kl_z, 1e-5 * std::abs(a.loss));
  EXPECT_THROW(evaluate_loss(vae, data, {}, 16, 1.0, g1), cellvae::InputError);
}

TEST(ResolveDevice, CpuAlwaysAndCudaOnlyWhenPresent) {
  EXPECT_EQ(resolve_device(DeviceKind::cpu), torch::Device(torch::kCPU));
  if (torch::cuda::is_available()) {
    EXPECT_TRUE(resolve_device(DeviceKind::cuda).is_cuda());
    EXPECT_TRUE(resolve_device(DeviceKind::auto_).is_cuda());
  } else {
    EXPECT_EQ(resolve_device(DeviceKind::auto_), torch::Device(torch::kCPU));
    const std::string msg = cvt::error_of([] { resolve_device(DeviceKind::cuda); });
    EXPECT_NE(msg.find("--device cuda"), std::string::npos) << msg;
  }
}
