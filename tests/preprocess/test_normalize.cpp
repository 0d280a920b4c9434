#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cellvae/csr_matrix.hpp"
#include "cellvae/dataset.hpp"
#include "cellvae/error.hpp"
#include "cellvae/preprocess/normalize.hpp"
#include "test_support.hpp"

namespace cellvae {
namespace {

using cellvae::testing::error_of;

CsrMatrix small() {
  const float v[] = {1, 0, 3,  //
                     0, 0, 8,  //
                     2, 2, 0};
  return csr_from_dense(v, 3, 3);
}

TEST(SizeFactors, CentredOnTheMeanLibrary) {
  SizeFactorResult r = library_size_factors(small());
  EXPECT_EQ(r.library_sizes, (std::vector<double>{4, 8, 4}));
  EXPECT_DOUBLE_EQ(r.reference_library, 16.0 / 3);
  EXPECT_DOUBLE_EQ(r.size_factors[0], 0.75);
  EXPECT_DOUBLE_EQ(r.size_factors[1], 1.5);
}

TEST(SizeFactors, ReferenceLibraryOptionNormalisesNewCellsLikeTraining) {
  SizeFactorOptions o;
  o.reference_library = 8;
  SizeFactorResult r = library_size_factors(small(), o);
  EXPECT_EQ(r.reference_library, 8);
  EXPECT_EQ(r.size_factors, (std::vector<double>{0.5, 1.0, 0.5}));
  EXPECT_DOUBLE_EQ(mean_library_size(small(), {0, 2}), 4.0);
  o.reference_library = 0;
  EXPECT_THROW(library_size_factors(small(), o), InputError);
}

TEST(SizeFactors, EmptyCellIsAnErrorNamingIt) {
  const float v[] = {1, 2, 0, 0, 3, 0};
  CsrMatrix m = csr_from_dense(v, 3, 2);
  EXPECT_NE(error_of([&] { library_size_factors(m); }).find("cell 1 has no counts"),
            std::string::npos);
  Dataset ds;
  ds.X = m;
  ds.obs.index = {"AAAC-1", "AAAG-1", "AACT-1"};
  ds.var.index = {"A", "B"};
  const std::string msg = error_of([&] { log_norm_counts(ds); });
  EXPECT_NE(msg.find("cell 1 ('AAAG-1') has no counts (library size 0)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("min_counts_per_cell"), std::string::npos);
}

TEST(SizeFactors, NegativeOrNonFiniteValuesAreRejected) {
  const float v[] = {1, -2, 3, 4};
  EXPECT_NE(error_of([&] { library_size_factors(csr_from_dense(v, 2, 2)); }).find("is -2"),
            std::string::npos);
  const float w[] = {1, NAN, 3, 4};
  EXPECT_THROW(library_size_factors(csr_from_dense(w, 2, 2)), InputError);
}

TEST(LogNormalize, Log2OfScaledCountsPlusOneKeepsZeros) {
  LogNormResult r = log_norm_counts(small());
  std::vector<float> d = to_dense(r.values);
  EXPECT_FLOAT_EQ(d[0], static_cast<float>(std::log2(1 / 0.75 + 1)));
  EXPECT_FLOAT_EQ(d[2], static_cast<float>(std::log2(3 / 0.75 + 1)));
  EXPECT_FLOAT_EQ(d[5], static_cast<float>(std::log2(8 / 1.5 + 1)));
  EXPECT_EQ(d[1], 0.0f);
  EXPECT_EQ(r.values.nnz(), small().nnz());
}

TEST(LogNormalize, ValidatesSizeFactors) {
  EXPECT_THROW(log_normalize(small(), {1.0, 1.0}), InputError);
  EXPECT_THROW(log_normalize(small(), {1.0, 0.0, 1.0}), InputError);
  EXPECT_THROW(log_normalize(small(), {1.0, NAN, 1.0}), InputError);
}

TEST(LogNormalize, InverseRecoversCountsOverSizeFactor) {
  LogNormResult r = log_norm_counts(small());
  std::vector<float> d = to_dense(r.values);
  // Row 1 (size factor 1.5) back to counts.
  std::vector<float> row(d.begin() + 3, d.begin() + 6);
  std::vector<float> counts = inverse_log_normalize(row, 1.5);
  EXPECT_NEAR(counts[0], 0, 1e-6);
  EXPECT_NEAR(counts[2], 8, 1e-5);
  // Generated values can dip below 0 on the log scale: they come back as 0 counts.
  EXPECT_EQ(inverse_log_normalize({-0.5f})[0], 0.0f);
  EXPECT_THROW(inverse_log_normalize(row, 0), InputError);
}

}  // namespace
}  // namespace cellvae
