// Minibatches from CSR rows and the latent-library prior.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "cellvae/data/cell_data.hpp"
#include "cellvae/error.hpp"
#include "test_support.hpp"

namespace cvt = cellvae::testing;
using cellvae::CsrMatrix;
using cellvae::data::CellData;
using cellvae::data::library_prior;
using cellvae::data::make_batch;

namespace {

// 5 cells x 4 genes with empty rows and zeros in every position.
const std::vector<float> kDense = {
    1, 0, 3, 0,  //
    0, 0, 0, 0,  //
    0, 7, 0, 2,  //
    4, 5, 6, 9,  //
    0, 0, 8, 0,  //
};

CellData tiny_data() {
  CellData d;
  d.counts = cellvae::csr_from_dense(kDense.data(), 5, 4);
  return d;
}

}  // namespace

TEST(MakeBatch, EqualsTheDenseRowsInTheOrderGiven) {
  CellData d = tiny_data();
  d.labels = {0, 1, 2, 1, 0};
  d.batches = {1, 1, 0, 0, 1};
  const std::vector<std::int64_t> rows = {3, 0, 1, 3, 4};
  const cellvae::model::CellBatch b = make_batch(d, rows);

  ASSERT_EQ(b.x.sizes(), (std::vector<std::int64_t>{5, 4}));
  EXPECT_EQ(b.x.scalar_type(), torch::kFloat);
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::int64_t g = 0; g < 4; ++g)
      EXPECT_EQ(b.x[static_cast<std::int64_t>(i)][g].item<float>(),
                kDense[static_cast<std::size_t>(rows[i] * 4 + g)])
          << "row " << i << " gene " << g;
  ASSERT_TRUE(b.labels.defined());
  ASSERT_TRUE(b.batches.defined());
  EXPECT_EQ(b.labels.scalar_type(), torch::kLong);
  EXPECT_EQ(b.batches.scalar_type(), torch::kLong);
  EXPECT_TRUE(torch::equal(b.labels, torch::tensor({1, 0, 1, 1, 0}, torch::kLong)));
  EXPECT_TRUE(torch::equal(b.batches, torch::tensor({0, 1, 1, 0, 1}, torch::kLong)));
  EXPECT_FALSE(b.log_library.defined());
}

TEST(MakeBatch, WithoutCodesLeavesCovariatesUndefinedAndHonoursTheDtype) {
  const CellData d = tiny_data();
  const cellvae::model::CellBatch b = make_batch(d, {2, 4}, {torch::kCPU, torch::kDouble});
  EXPECT_FALSE(b.labels.defined());
  EXPECT_FALSE(b.batches.defined());
  EXPECT_EQ(b.x.scalar_type(), torch::kDouble);
  EXPECT_TRUE(torch::equal(b.x, torch::tensor({0., 7., 0., 2., 0., 0., 8., 0.}, torch::kDouble)
                                    .reshape({2, 4})));
}

TEST(MakeBatch, RejectsRowsOutOfRange) {
  const CellData d = tiny_data();
  EXPECT_NE(cvt::error_of([&] { make_batch(d, {0, 5}); }).find("out of range"), std::string::npos);
  EXPECT_NE(cvt::error_of([&] { make_batch(d, {-1}); }).find("-1"), std::string::npos);
}

TEST(MakeBatch, InputTransformPathEqualsApplyInputTransform) {
  CellData d = tiny_data();
  // Every cell needs a library > 0 for the log-normalization.
  d.counts = cellvae::select_rows(d.counts, {0, 2, 3, 4});
  d.transform = cellvae::fit_input_transform(d.counts, {0, 1, 2});
  const std::vector<std::int64_t> rows = {3, 1, 0};
  const std::vector<float> expected = cellvae::apply_input_transform(*d.transform, d.counts, rows);
  const cellvae::model::CellBatch b = make_batch(d, rows);
  ASSERT_EQ(b.x.numel(), static_cast<std::int64_t>(expected.size()));
  const torch::Tensor flat = b.x.reshape({-1}).contiguous();
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(flat[static_cast<std::int64_t>(i)].item<float>(), expected[i]) << i;
  // Not the counts: the transform really ran.
  EXPECT_FALSE(torch::equal(b.x, make_batch(tiny_data(), {4, 2, 0}).x));
}

// x_csr holds exactly x: for canonical rows, for rows with unsorted and duplicate entries and
// explicit zeros, and for the input-transform path (x's nonzeros).
TEST(MakeBatch, CsrRowsHoldExactlyTheDenseRows) {
  CellData d = tiny_data();
  const std::vector<std::int64_t> rows = {3, 1, 0, 3, 4, 2};
  const cellvae::model::CellBatch b = make_batch(d, rows);
  ASSERT_TRUE(b.x_csr.defined());
  EXPECT_NO_THROW(cellvae::model::check_csr(b.x_csr));
  EXPECT_TRUE(torch::equal(cellvae::model::csr_to_dense(b.x_csr), b.x));
  EXPECT_EQ(b.x_csr.nnz(), 4 + 0 + 2 + 4 + 1 + 2);

  // A non-canonical row: unsorted, a duplicate (adds up), an explicit zero.
  CellData nc;
  nc.counts.n_rows = 2;
  nc.counts.n_cols = 4;
  nc.counts.indptr = {0, 4, 5};
  nc.counts.indices = {3, 1, 3, 2, 0};
  nc.counts.data = {1, 2, 5, 0, 7};
  const cellvae::model::CellBatch n = make_batch(nc, {0, 1});
  EXPECT_NO_THROW(cellvae::model::check_csr(n.x_csr));
  EXPECT_TRUE(torch::equal(cellvae::model::csr_to_dense(n.x_csr), n.x));
  EXPECT_EQ(n.x[0][3].item<float>(), 6.0f);

  CellData t = tiny_data();
  t.counts = cellvae::select_rows(t.counts, {0, 2, 3, 4});
  t.transform = cellvae::fit_input_transform(t.counts, {0, 1, 2});
  const cellvae::model::CellBatch tb = make_batch(t, {3, 1, 0});
  EXPECT_TRUE(torch::equal(cellvae::model::csr_to_dense(tb.x_csr), tb.x));

  cellvae::data::BatchOptions dense_only;
  dense_only.sparse = false;
  EXPECT_FALSE(make_batch(d, rows, dense_only).x_csr.defined());
}

// Reused buffers give the same batches, reuse storage once the previous batch is gone, and never
// overwrite a batch that is still referenced.
TEST(MakeBatch, BuffersAreReusedOnlyWhenFree) {
  CellData d = tiny_data();
  d.batches = {1, 1, 0, 0, 1};
  cellvae::data::BatchBuffers buffers;
  const std::vector<std::int64_t> a = {3, 0, 2}, b = {4, 1, 0};
  const void* first_storage = nullptr;
  {
    const cellvae::model::CellBatch x1 = make_batch(d, a, {}, &buffers);
    first_storage = x1.x.data_ptr();
    // x1 is alive: the next batch must not write into its storage.
    const cellvae::model::CellBatch x2 = make_batch(d, b, {}, &buffers);
    EXPECT_NE(x2.x.data_ptr(), first_storage);
    EXPECT_TRUE(torch::equal(x1.x, make_batch(d, a).x));
    EXPECT_TRUE(torch::equal(x2.x, make_batch(d, b).x));
    EXPECT_TRUE(torch::equal(x1.batches, make_batch(d, a).batches));
  }
  // Both batches are gone: the buffers (from the second batch) are reused.
  const void* kept = buffers.x.data_ptr();
  const cellvae::model::CellBatch x3 = make_batch(d, a, {}, &buffers);
  EXPECT_EQ(x3.x.data_ptr(), kept);
  const cellvae::model::CellBatch fresh = make_batch(d, a);
  EXPECT_TRUE(torch::equal(x3.x, fresh.x));
  EXPECT_TRUE(torch::equal(x3.x_csr.indptr, fresh.x_csr.indptr));
  EXPECT_TRUE(torch::equal(x3.x_csr.indices, fresh.x_csr.indices));
  EXPECT_TRUE(torch::equal(x3.x_csr.values, fresh.x_csr.values));
  EXPECT_TRUE(torch::equal(x3.batches, fresh.batches));
}

TEST(LibraryPrior, PerBatchMeanAndPopulationVarianceComputedByHand) {
  CellData d = tiny_data();
  // Totals: 4, 0, 9, 24, 8; log(max(1, total)).
  d.batches = {0, 0, 1, 1, 0};
  const std::vector<double> l = {std::log(4.0), 0.0, std::log(9.0), std::log(24.0),
                                 std::log(8.0)};
  // Rows 0, 1, 2, 3: batch 0 = {l0, l1}, batch 1 = {l2, l3}, batch 2 has none.
  const auto [mean, var] = library_prior(d, {0, 1, 2, 3}, 3);
  ASSERT_EQ(mean.numel(), 3);
  ASSERT_EQ(var.numel(), 3);
  EXPECT_EQ(mean.scalar_type(), torch::kFloat);
  const double m0 = (l[0] + l[1]) / 2, m1 = (l[2] + l[3]) / 2;
  const double v0 = ((l[0] - m0) * (l[0] - m0) + (l[1] - m0) * (l[1] - m0)) / 2;
  const double v1 = ((l[2] - m1) * (l[2] - m1) + (l[3] - m1) * (l[3] - m1)) / 2;
  const double m_all = (l[0] + l[1] + l[2] + l[3]) / 4;
  double v_all = 0;
  for (int i = 0; i < 4; ++i) v_all += (l[i] - m_all) * (l[i] - m_all) / 4;
  EXPECT_NEAR(mean[0].item<double>(), m0, 1e-6);
  EXPECT_NEAR(mean[1].item<double>(), m1, 1e-6);
  EXPECT_NEAR(mean[2].item<double>(), m_all, 1e-6);
  EXPECT_NEAR(var[0].item<double>(), v0, 1e-6);
  EXPECT_NEAR(var[1].item<double>(), v1, 1e-6);
  EXPECT_NEAR(var[2].item<double>(), v_all, 1e-6);
}

TEST(LibraryPrior, WithoutBatchesOneEntryOverAllRows) {
  const CellData d = tiny_data();
  const auto [mean, var] = library_prior(d, {2, 4}, 0);
  ASSERT_EQ(mean.numel(), 1);
  const double a = std::log(9.0), b = std::log(8.0), m = (a + b) / 2;
  EXPECT_NEAR(mean[0].item<double>(), m, 1e-6);
  EXPECT_NEAR(var[0].item<double>(), ((a - m) * (a - m) + (b - m) * (b - m)) / 2, 1e-6);
}

TEST(LibraryPrior, RejectsBadInput) {
  CellData d = tiny_data();
  d.batches = {0, 0, 5, 1, 0};
  EXPECT_NE(cvt::error_of([&] { library_prior(d, {0, 2}, 2); }).find("batch code 5"),
            std::string::npos);
  EXPECT_NE(cvt::error_of([&] { library_prior(d, {}, 2); }).find("no training cells"),
            std::string::npos);
}
