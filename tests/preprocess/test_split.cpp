#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cellvae/error.hpp"
#include "cellvae/preprocess/split.hpp"

namespace cellvae {
namespace {

std::vector<std::int32_t> strata_500_300_200() {
  std::vector<std::int32_t> s;
  // Interleaved so that strata are not contiguous blocks.
  for (int i = 0; i < 1000; ++i) s.push_back(i % 10 < 5 ? 0 : (i % 10 < 8 ? 1 : 2));
  return s;
}

void expect_partition(const SplitResult& r, std::int64_t n) {
  EXPECT_TRUE(std::is_sorted(r.train.begin(), r.train.end()));
  EXPECT_TRUE(std::is_sorted(r.validation.begin(), r.validation.end()));
  std::vector<std::int64_t> all = r.train;
  all.insert(all.end(), r.validation.begin(), r.validation.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(static_cast<std::int64_t>(all.size()), n);  // no overlap, no loss
  for (std::int64_t i = 0; i < n; ++i) EXPECT_EQ(all[i], i);
}

TEST(Split, StratifiedProportionsArePreserved) {
  SplitOptions o;
  o.validation_fraction = 0.2;
  o.seed = 7;
  o.strata = strata_500_300_200();
  SplitResult r = split_cells(1000, o);
  expect_partition(r, 1000);
  int per[3] = {0, 0, 0};
  for (auto i : r.validation) ++per[o.strata[i]];
  EXPECT_EQ(per[0], 100);
  EXPECT_EQ(per[1], 60);
  EXPECT_EQ(per[2], 40);
}

TEST(Split, SameSeedSameSplitOtherSeedOtherSplit) {
  SplitOptions o;
  o.seed = 123;
  SplitResult a = split_cells(500, o), b = split_cells(500, o);
  EXPECT_EQ(a.validation, b.validation);
  EXPECT_EQ(a.train, b.train);
  o.seed = 124;
  SplitResult c = split_cells(500, o);
  EXPECT_NE(a.validation, c.validation);
  EXPECT_EQ(a.validation.size(), 50u);
  EXPECT_EQ(c.validation.size(), 50u);
  expect_partition(c, 500);
}

TEST(Split, ShuffleIsNotTheIdentity) {
  SplitResult r = split_cells(1000, SplitOptions{});
  // Validation cells are spread over the index range, not the first or last 100.
  EXPECT_LT(r.validation.front(), 200);
  EXPECT_GT(r.validation.back(), 800);
}

TEST(Split, EdgeCases) {
  SplitOptions o;
  o.validation_fraction = 0.5;
  o.strata = {0, 1, 1, 1, 1, 2, 2, 2};  // a one-cell stratum, 4 cells, 3 cells
  SplitResult r = split_cells(8, o);
  expect_partition(r, 8);
  EXPECT_TRUE(std::find(r.train.begin(), r.train.end(), 0) != r.train.end());
  int per[3] = {0, 0, 0};
  for (auto i : r.validation) ++per[o.strata[i]];
  EXPECT_EQ(per[0], 0);  // one cell stays in training
  EXPECT_EQ(per[1], 2);
  EXPECT_EQ(per[2], 2);  // round(1.5) = 2, halves away from zero
  // A large fraction still leaves one training cell per stratum.
  o.validation_fraction = 0.95;
  r = split_cells(8, o);
  EXPECT_EQ(r.train.size(), 3u);
  // Fraction 0: everything trains. Unused stratum codes are fine.
  o.validation_fraction = 0;
  o.strata = {0, 5, 5, 0};
  r = split_cells(4, o);
  EXPECT_TRUE(r.validation.empty());
  EXPECT_EQ(r.train.size(), 4u);
  // Unstratified rounding: 0.1 of 95 cells is 9.5 -> 10.
  EXPECT_EQ(split_cells(95, SplitOptions{}).validation.size(), 10u);
}

TEST(Split, RejectsInvalidOptions) {
  SplitOptions o;
  o.validation_fraction = 1.0;
  EXPECT_THROW(split_cells(10, o), InputError);
  o.validation_fraction = -0.1;
  EXPECT_THROW(split_cells(10, o), InputError);
  o.validation_fraction = std::nan("");
  EXPECT_THROW(split_cells(10, o), InputError);
  o.validation_fraction = 0.1;
  EXPECT_THROW(split_cells(0, o), InputError);
  o.strata = {0, 1};
  EXPECT_THROW(split_cells(3, o), InputError);
  o.strata = {0, -1, 0};
  try {
    split_cells(3, o);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cell 1"), std::string::npos);
  }
}

}  // namespace
}  // namespace cellvae
