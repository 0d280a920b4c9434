#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cellvae/csr_matrix.hpp"
#include "cellvae/error.hpp"
#include "cellvae/preprocess/input_transform.hpp"
#include "cellvae/preprocess/normalize.hpp"
#include "cellvae/preprocess/scaling.hpp"

namespace cellvae {
namespace {

// Rows 0-2 are training cells, rows 3-4 validation cells with values outside the training
// range. Gene 0 ranges 0..2 in training; gene 1 is 1..3 (never zero in training); gene 2 is
// zero in every training cell.
CsrMatrix values() {
  const float v[] = {0, 1, 0,  //
                     1, 2, 0,  //
                     2, 3, 0,  //
                     4, 0, 5,  //
                     1, 5, 0};
  return csr_from_dense(v, 5, 3);
}
const std::vector<std::int64_t> kTrain{0, 1, 2}, kValidation{3, 4};

TEST(MinMax, FitsOnTrainingRowsOnly) {
  MinMaxScaler s = MinMaxScaler::fit(values(), kTrain);
  EXPECT_EQ(s.min, (std::vector<float>{0, 1, 0}));
  EXPECT_EQ(s.max, (std::vector<float>{2, 3, 0}));
  // Fitting on all rows (what a leak would do) gives another scaler.
  MinMaxScaler all = MinMaxScaler::fit(values(), {0, 1, 2, 3, 4});
  EXPECT_EQ(all.min, (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(all.max, (std::vector<float>{4, 5, 5}));
}

TEST(MinMax, ValidationValuesOutsideTheTrainingRangeAreNotClipped) {
  MinMaxScaler s = MinMaxScaler::fit(values(), kTrain);
  std::vector<float> t = s.transform(values(), kValidation);
  ASSERT_EQ(t.size(), 6u);
  EXPECT_FLOAT_EQ(t[0], 2.0f);   // 4 on a 0..2 range maps above 1
  EXPECT_FLOAT_EQ(t[1], -0.5f);  // 0 on a 1..3 range maps below 0
  EXPECT_FLOAT_EQ(t[2], 0.0f);   // constant in training: always 0
  EXPECT_FLOAT_EQ(t[3], 0.5f);
  EXPECT_FLOAT_EQ(t[4], 2.0f);
  MinMaxTransformOptions clip;
  clip.clip = true;
  std::vector<float> c = s.transform(values(), kValidation, clip);
  EXPECT_EQ(c, (std::vector<float>{1, 0, 0, 0.5f, 1, 0}));
}

TEST(MinMax, TrainingRowsLandInUnitInterval) {
  MinMaxScaler s = MinMaxScaler::fit(values(), kTrain);
  std::vector<float> t = s.transform(values(), kTrain);
  EXPECT_EQ(t, (std::vector<float>{0, 0, 0, 0.5f, 0.5f, 0, 1, 1, 0}));
}

TEST(MinMax, InverseUndoesTransform) {
  MinMaxScaler s = MinMaxScaler::fit(values(), kTrain);
  std::vector<float> t = s.transform_all(values());
  std::vector<float> back = s.inverse_transform(t);
  std::vector<float> orig = to_dense(values());
  for (std::size_t i = 0; i < back.size(); ++i) {
    if (i % 3 == 2) continue;  // the constant gene comes back as its training value
    EXPECT_NEAR(back[i], orig[i], 1e-6) << i;
  }
  EXPECT_EQ(back[2], 0.0f);
  EXPECT_EQ(back[11], 0.0f);
}

TEST(MinMax, Errors) {
  MinMaxScaler s = MinMaxScaler::fit(values(), kTrain);
  EXPECT_THROW(MinMaxScaler::fit(values(), {}), InputError);
  EXPECT_THROW(MinMaxScaler::fit(values(), {7}), InputError);
  EXPECT_THROW(s.transform(values(), std::vector<std::int64_t>{5}), InputError);
  const float w[] = {1, 2};
  EXPECT_THROW(s.transform_all(csr_from_dense(w, 1, 2)), InputError);
  EXPECT_THROW(s.inverse_transform(std::vector<float>(4)), InputError);
  MinMaxScaler bad{{1, 0}, {0, 1}};
  EXPECT_THROW(bad.validate(), InputError);
}

TEST(InputTransform, LogNormalizesOnTrainingLibraryThenScales) {
  const float c[] = {1,  3,  0,  //
                     4,  0,  4,  //
                     2,  2,  4,  //
                     10, 10, 0};
  CsrMatrix counts = csr_from_dense(c, 4, 3);
  const std::vector<std::int64_t> train{0, 1, 2};
  InputTransform t = fit_input_transform(counts, train);
  EXPECT_DOUBLE_EQ(t.reference_library, (4 + 8 + 8) / 3.0);
  std::vector<float> x = apply_input_transform(t, counts, train);
  for (std::size_t g = 0; g < 3; ++g) {
    float lo = 1, hi = 0;
    for (std::size_t r = 0; r < 3; ++r) {
      lo = std::min(lo, x[r * 3 + g]);
      hi = std::max(hi, x[r * 3 + g]);
    }
    EXPECT_FLOAT_EQ(lo, 0.0f);
    EXPECT_FLOAT_EQ(hi, 1.0f);
  }
  // The validation cell (library 20, three times the training mean) uses the training
  // reference, not its own.
  std::vector<float> v = apply_input_transform(t, counts, {3});
  const double sf = 20 / t.reference_library;
  const double logv = std::log2(10 / sf + 1);
  EXPECT_NEAR(v[0], (logv - t.min_max.min[0]) / (t.min_max.max[0] - t.min_max.min[0]), 1e-6);

  // Undo: back to log-normalized values, and to counts at the cell's size factor.
  InvertTransformOptions io;
  std::vector<float> logn = invert_input_transform(t, v, io);
  EXPECT_NEAR(logn[0], logv, 1e-5);
  io.to_counts = true;
  io.size_factor = sf;
  std::vector<float> back = invert_input_transform(t, v, io);
  EXPECT_NEAR(back[0], 10, 1e-4);
  EXPECT_NEAR(back[1], 10, 1e-4);
  EXPECT_NEAR(back[2], 0, 1e-5);
  EXPECT_THROW(fit_input_transform(counts, {}), InputError);
}

}  // namespace
}  // namespace cellvae
