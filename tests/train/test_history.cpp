// Training history: CSV layout and JSON round trip.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cellvae/train/history.hpp"
#include "test_support.hpp"

namespace cvt = cellvae::testing;
using namespace cellvae::train;

namespace {

History two_epochs() {
  History h;
  EpochRecord a;
  a.epoch = 1;
  a.train = {12.5, 10.25, 2.0, 0.25};
  a.kl_weight = 0.5;
  a.learning_rate = 0.001;
  a.seconds = 1.75;
  EpochRecord b = a;
  b.epoch = 2;
  b.train = {11.0 / 3.0, 3.0, 0.5, 1e-9};
  b.validation = LossSummary{13.0, 11.0, 1.5, 0.5};
  b.kl_weight = 1.0;
  b.learning_rate = 1e-4;
  b.seconds = 0.1;
  h.epochs = {a, b};
  h.best_epoch = 2;
  h.stopped_early = true;
  return h;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) lines.push_back(line);
  return lines;
}

}  // namespace

TEST(HistoryCsv, HeaderAndOneRowPerEpochWithEmptyValidationColumns) {
  cvt::ScratchDir dir;
  const auto path = dir / "history.csv";
  write_history_csv(two_epochs(), path);
  const std::vector<std::string> lines = lines_of(cvt::read_text(path));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0],
            "epoch,train_loss,train_reconstruction,train_kl_z,train_kl_library,validation_loss,"
            "validation_reconstruction,validation_kl_z,validation_kl_library,kl_weight,"
            "learning_rate,seconds");
  EXPECT_EQ(lines[1], "1,12.5,10.25,2,0.25,,,,,0.5,0.001,1.75");
  EXPECT_EQ(lines[2], "2,3.666666667,3,0.5,1e-09,13,11,1.5,0.5,1,0.0001,0.1");
  // Written atomically: no temporary left next to it.
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST(HistoryCsv, UnwritablePathIsAnInputError) {
  cvt::ScratchDir dir;
  EXPECT_THROW(write_history_csv(two_epochs(), dir / "missing" / "history.csv"),
               cellvae::InputError);
}

TEST(HistoryJson, RoundTripIsExact) {
  const History h = two_epochs();
  const nlohmann::json j = history_to_json(h);
  const History r = history_from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(r.best_epoch, 2);
  EXPECT_TRUE(r.stopped_early);
  ASSERT_EQ(r.epochs.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const EpochRecord& a = h.epochs[i];
    const EpochRecord& b = r.epochs[i];
    EXPECT_EQ(a.epoch, b.epoch);
    EXPECT_EQ(a.train.loss, b.train.loss);
    EXPECT_EQ(a.train.reconstruction, b.train.reconstruction);
    EXPECT_EQ(a.train.kl_z, b.train.kl_z);
    EXPECT_EQ(a.train.kl_library, b.train.kl_library);
    ASSERT_EQ(a.validation.has_value(), b.validation.has_value());
    if (a.validation) {
      EXPECT_EQ(a.validation->loss, b.validation->loss);
      EXPECT_EQ(a.validation->reconstruction, b.validation->reconstruction);
      EXPECT_EQ(a.validation->kl_z, b.validation->kl_z);
      EXPECT_EQ(a.validation->kl_library, b.validation->kl_library);
    }
    EXPECT_EQ(a.kl_weight, b.kl_weight);
    EXPECT_EQ(a.learning_rate, b.learning_rate);
    EXPECT_EQ(a.seconds, b.seconds);
  }
  EXPECT_EQ(history_to_json(r), j);
  EXPECT_TRUE(j.at("epochs")[0].at("validation").is_null());
}

TEST(HistoryJson, ErrorsNameTheKeyPath) {
  nlohmann::json j = history_to_json(two_epochs());
  j["epochs"][1]["train"].erase("kl_z");
  std::string msg = cvt::error_of([&] { history_from_json(j); });
  EXPECT_NE(msg.find("epochs[1].train.kl_z"), std::string::npos) << msg;
  j = history_to_json(two_epochs());
  j["epochs"][0]["seconds"] = "slow";
  msg = cvt::error_of([&] { history_from_json(j); });
  EXPECT_NE(msg.find("epochs[0].seconds' must be a number"), std::string::npos) << msg;
  j = history_to_json(two_epochs());
  j["best_epoch"] = 3;
  msg = cvt::error_of([&] { history_from_json(j); });
  EXPECT_NE(msg.find("best_epoch 3"), std::string::npos) << msg;
}
