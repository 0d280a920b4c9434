// TrainOptions: names, validation messages, JSON round trip, the default epoch rule.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cellvae/train/train_options.hpp"
#include "test_support.hpp"

namespace cvt = cellvae::testing;
using namespace cellvae::train;
using nlohmann::json;

TEST(TrainOptionNames, RoundTripAndUnknownNamesListTheKnownOnes) {
  for (auto k : {OptimizerKind::adam, OptimizerKind::adamw, OptimizerKind::sgd,
                 OptimizerKind::rmsprop})
    EXPECT_EQ(parse_optimizer_kind(to_string(k)), k);
  for (auto k : {DeviceKind::cpu, DeviceKind::cuda, DeviceKind::auto_})
    EXPECT_EQ(parse_device_kind(to_string(k)), k);
  EXPECT_EQ(to_string(OptimizerKind::adamw), "adamw");
  EXPECT_EQ(to_string(DeviceKind::auto_), "auto");
  const std::string msg = cvt::error_of([] { parse_optimizer_kind("adagrad"); });
  EXPECT_NE(msg.find("'adagrad'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("adam, adamw, sgd, rmsprop"), std::string::npos) << msg;
  EXPECT_NE(cvt::error_of([] { parse_device_kind("gpu"); }).find("cpu, cuda, auto"),
            std::string::npos);
}

TEST(TrainOptionsValidate, DefaultsAreValid) { EXPECT_NO_THROW(validate(TrainOptions{})); }

TEST(TrainOptionsValidate, MessagesNameTheFlagAndTheValue) {
  struct Case {
    std::function<void(TrainOptions&)> set;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {[](TrainOptions& o) { o.learning_rate = 0; }, "--lr must be > 0 (got 0)"},
      {[](TrainOptions& o) { o.learning_rate = std::nan(""); }, "--lr must be > 0"},
      {[](TrainOptions& o) { o.batch_size = 2; }, "--batch-size must be >= 3"},
      {[](TrainOptions& o) { o.epochs = 0; }, "--epochs must be >= 1 (got 0)"},
      {[](TrainOptions& o) { o.kl_weight = -1; }, "--kl-weight must be >= 0 (got -1)"},
      {[](TrainOptions& o) { o.kl_warmup_epochs = -2; }, "--kl-warmup must be >= 0"},
      {[](TrainOptions& o) { o.patience = -1; }, "--patience must be >= 0"},
      {[](TrainOptions& o) { o.min_delta = -0.5; }, "--min-delta must be >= 0 (got -0.5)"},
      {[](TrainOptions& o) { o.lr_factor = 1; }, "--lr-factor must be in (0, 1) (got 1)"},
      {[](TrainOptions& o) { o.lr_factor = 0; }, "--lr-factor must be in (0, 1)"},
      {[](TrainOptions& o) { o.gradient_clip = 0; }, "--clip must be > 0"},
      {[](TrainOptions& o) { o.threads = 0; }, "--threads must be >= 1 (got 0)"},
      {[](TrainOptions& o) { o.weight_decay = -1e-3; }, "--weight-decay must be >= 0"},
      {[](TrainOptions& o) { o.lr_patience = -3; }, "--lr-patience must be >= 0"},
      {[](TrainOptions& o) { o.adam_epsilon = 0; }, "adam_epsilon must be > 0"},
      {[](TrainOptions& o) { o.momentum = 1; }, "momentum must be in [0, 1)"},
      {[](TrainOptions& o) { o.min_batch_cells = 0; }, "min_batch_cells must be >= 1"},
  };
  for (const Case& c : cases) {
    TrainOptions o;
    c.set(o);
    const std::string msg = cvt::error_of([&] { validate(o); });
    EXPECT_NE(msg.find(c.expected), std::string::npos) << "message: " << msg;
  }
  // A smaller min_batch_cells allows smaller batches.
  TrainOptions o;
  o.min_batch_cells = 2;
  o.batch_size = 2;
  EXPECT_NO_THROW(validate(o));
}

TEST(TrainOptionsJson, RoundTripKeepsEveryField) {
  TrainOptions o;
  o.optimizer = OptimizerKind::rmsprop;
  o.learning_rate = 3.5e-4;
  o.weight_decay = 1e-6;
  o.adam_epsilon = 0.01;
  o.momentum = 0.9;
  o.batch_size = 64;
  o.epochs = 17;
  o.kl_weight = 0.25;
  o.kl_warmup_epochs = 12.5;
  o.min_batch_cells = 4;
  o.patience = 5;
  o.min_delta = 0.125;
  o.restore_best = false;
  o.lr_patience = 3;
  o.lr_factor = 0.3;
  o.min_learning_rate = 1e-7;
  o.gradient_clip = 2.5;
  o.fused_optimizer = false;
  o.seed = 18446744073709551615ull;  // the largest seed survives
  o.threads = 3;
  o.device = DeviceKind::auto_;

  const json j = train_options_to_json(o);
  const TrainOptions r = train_options_from_json(json::parse(j.dump()));
  EXPECT_EQ(r.optimizer, o.optimizer);
  EXPECT_EQ(r.learning_rate, o.learning_rate);
  EXPECT_EQ(r.weight_decay, o.weight_decay);
  EXPECT_EQ(r.adam_epsilon, o.adam_epsilon);
  EXPECT_EQ(r.momentum, o.momentum);
  EXPECT_EQ(r.batch_size, o.batch_size);
  EXPECT_EQ(r.epochs, o.epochs);
  EXPECT_EQ(r.kl_weight, o.kl_weight);
  EXPECT_EQ(r.kl_warmup_epochs, o.kl_warmup_epochs);
  EXPECT_EQ(r.min_batch_cells, o.min_batch_cells);
  EXPECT_EQ(r.patience, o.patience);
  EXPECT_EQ(r.min_delta, o.min_delta);
  EXPECT_EQ(r.restore_best, o.restore_best);
  EXPECT_EQ(r.lr_patience, o.lr_patience);
  EXPECT_EQ(r.lr_factor, o.lr_factor);
  EXPECT_EQ(r.min_learning_rate, o.min_learning_rate);
  EXPECT_EQ(r.gradient_clip, o.gradient_clip);
  EXPECT_EQ(r.fused_optimizer, o.fused_optimizer);
  EXPECT_EQ(r.seed, o.seed);
  EXPECT_EQ(r.threads, o.threads);
  EXPECT_EQ(r.device, o.device);
  EXPECT_EQ(train_options_to_json(r), j);
  EXPECT_EQ(j.at("optimizer"), "rmsprop");
  EXPECT_EQ(j.at("device"), "auto");
}

TEST(TrainOptionsJson, EmptyOptionalsAreNullAndMissingKeysKeepDefaults) {
  const json j = train_options_to_json(TrainOptions{});
  EXPECT_TRUE(j.at("epochs").is_null());
  EXPECT_TRUE(j.at("patience").is_null());
  EXPECT_TRUE(j.at("gradient_clip").is_null());
  const TrainOptions r = train_options_from_json(json{{"batch_size", 32}, {"epochs", nullptr}});
  EXPECT_EQ(r.batch_size, 32);
  EXPECT_FALSE(r.epochs);
  EXPECT_EQ(r.learning_rate, TrainOptions{}.learning_rate);
  EXPECT_EQ(r.optimizer, OptimizerKind::adam);
}

TEST(TrainOptionsJson, RejectsUnknownKeysWrongTypesNamesAndInvalidValues) {
  std::string msg = cvt::error_of([] { train_options_from_json(json{{"learning_rat", 0.1}}); });
  EXPECT_NE(msg.find("unknown key 'learning_rat'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("learning_rate"), std::string::npos) << msg;
  msg = cvt::error_of([] { train_options_from_json(json{{"batch_size", "64"}}); });
  EXPECT_NE(msg.find("'batch_size' must be an integer"), std::string::npos) << msg;
  msg = cvt::error_of([] { train_options_from_json(json{{"epochs", 2.5}}); });
  EXPECT_NE(msg.find("'epochs' must be an integer"), std::string::npos) << msg;
  msg = cvt::error_of([] { train_options_from_json(json{{"seed", -1}}); });
  EXPECT_NE(msg.find("'seed'"), std::string::npos) << msg;
  msg = cvt::error_of([] { train_options_from_json(json{{"optimizer", "lbfgs"}}); });
  EXPECT_NE(msg.find("'optimizer'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown optimizer 'lbfgs'"), std::string::npos) << msg;
  msg = cvt::error_of([] { train_options_from_json(json{{"learning_rate", -1.0}}); });
  EXPECT_NE(msg.find("--lr must be > 0"), std::string::npos) << msg;
  msg = cvt::error_of([] { train_options_from_json(json::array()); });
  EXPECT_NE(msg.find("object"), std::string::npos) << msg;
}

TEST(DefaultEpochs, FollowsTheScviToolsRule) {
  EXPECT_EQ(default_epochs(1), 400);
  EXPECT_EQ(default_epochs(20000), 400);
  EXPECT_EQ(default_epochs(40000), 200);
  EXPECT_EQ(default_epochs(30000), 267);  // round(266.67)
  EXPECT_EQ(default_epochs(1000000), 8);
  EXPECT_EQ(default_epochs(100000000), 1);  // round(0.08) = 0 -> at least 1
}
