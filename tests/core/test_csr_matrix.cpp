#include <gtest/gtest.h>

#include "cellvae/csr_matrix.hpp"
#include "cellvae/error.hpp"

using namespace cellvae;

namespace {
// 3 x 4:
// [1 0 2 0]
// [0 0 0 0]
// [0 3 0 4]
CsrMatrix example() {
  const float dense[] = {1, 0, 2, 0, 0, 0, 0, 0, 0, 3, 0, 4};
  return csr_from_dense(dense, 3, 4);
}
}  // namespace

TEST(CsrMatrix, FromDenseDropsZerosAndKeepsOrder) {
  const CsrMatrix m = example();
  EXPECT_EQ(m.indptr, (std::vector<std::int64_t>{0, 2, 2, 4}));
  EXPECT_EQ(m.indices, (std::vector<std::int32_t>{0, 2, 1, 3}));
  EXPECT_EQ(m.data, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_NO_THROW(m.validate());
}

TEST(CsrMatrix, TransposeTwiceIsIdentity) {
  const CsrMatrix m = example();
  const CsrMatrix t = transpose(m);
  EXPECT_EQ(t.n_rows, 4);
  EXPECT_EQ(t.n_cols, 3);
  EXPECT_EQ(t.indptr, (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(t.indices, (std::vector<std::int32_t>{0, 2, 0, 2}));
  EXPECT_EQ(t.data, (std::vector<float>{1, 3, 2, 4}));
  const CsrMatrix back = transpose(t);
  EXPECT_EQ(back.indptr, m.indptr);
  EXPECT_EQ(back.indices, m.indices);
  EXPECT_EQ(back.data, m.data);
}

TEST(CsrMatrix, FromCscMatchesDense) {
  const CsrMatrix m = example();
  const CsrMatrix t = transpose(m);  // CSR of the transpose = CSC of m
  const CsrMatrix again = csr_from_csc(3, 4, t.indptr, t.indices, t.data);
  EXPECT_EQ(to_dense(again), to_dense(m));
}

TEST(CsrMatrix, ValidateNamesTheBrokenInvariant) {
  CsrMatrix m = example();
  m.indptr[2] = 1;  // decreasing
  try {
    m.validate("X");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("non-decreasing (row 1)"), std::string::npos) << e.what();
  }
  m = example();
  m.indices[3] = 9;
  EXPECT_THROW(m.validate(), InputError);
  m = example();
  m.indices[0] = 2;  // duplicate of the next index in row 0
  EXPECT_THROW(m.validate(), InputError);
  m = example();
  m.data.pop_back();
  EXPECT_THROW(m.validate(), InputError);
}

TEST(CsrMatrix, CanonicalizeSortsAndSumsDuplicates) {
  CsrMatrix m;
  m.n_rows = 1;
  m.n_cols = 4;
  m.indptr = {0, 4};
  m.indices = {3, 1, 3, 0};
  m.data = {1, 2, 5, 0};
  canonicalize(m);
  EXPECT_EQ(m.indices, (std::vector<std::int32_t>{1, 3}));
  EXPECT_EQ(m.data, (std::vector<float>{2, 6}));
  EXPECT_EQ(m.indptr.back(), 2);
}

TEST(CsrMatrix, SelectReordersRowsAndColumns) {
  const CsrMatrix m = example();
  const CsrMatrix s = select(m, {2, 0}, {3, 0, 1});
  // rows [0 3 4 ...] -> row2 cols(3,0,1) = [4 0 3]; row0 = [0 1 0]
  EXPECT_EQ(to_dense(s), (std::vector<float>{4, 0, 3, 0, 1, 0}));
  EXPECT_NO_THROW(s.validate());
  const CsrMatrix r = select_rows(m, {2, 2});
  EXPECT_EQ(to_dense(r), (std::vector<float>{0, 3, 0, 4, 0, 3, 0, 4}));
  EXPECT_THROW(select_rows(m, {3}), InputError);
}

TEST(CsrMatrix, SummariesAndIntegerCheck) {
  CsrMatrix m = example();
  EXPECT_EQ(row_sums(m), (std::vector<double>{3, 0, 7}));
  EXPECT_EQ(column_nonzeros(m), (std::vector<std::int64_t>{1, 1, 1, 1}));
  EXPECT_TRUE(is_integer_valued(m));
  m.data[1] = 2.5f;
  EXPECT_FALSE(is_integer_valued(m));
}

TEST(CsrMatrix, StackRowsEqualsDenseConcatenation) {
  const std::vector<float> a{1, 0, 2, 0, 0, 3};
  const std::vector<float> b{0, 4, 0};
  const CsrMatrix s = stack_rows(csr_from_dense(a.data(), 2, 3), csr_from_dense(b.data(), 1, 3));
  s.validate();
  std::vector<float> expected = a;
  expected.insert(expected.end(), b.begin(), b.end());
  EXPECT_EQ(to_dense(s), expected);
  EXPECT_THROW(stack_rows(s, csr_from_dense(b.data(), 3, 1)), InputError);
}

// select_in_place equals select (a copy) for ascending rows and columns, on a random matrix
// whose kept entries move by various distances; bad index lists throw before any change.
TEST(CsrMatrix, SelectInPlaceEqualsSelect) {
  std::vector<float> dense(40 * 30, 0.0f);
  std::uint32_t state = 12345;
  for (float& v : dense) {
    state = state * 1664525u + 1013904223u;
    if ((state >> 28) < 5) v = static_cast<float>(1 + (state >> 20) % 9);
  }
  const CsrMatrix m = csr_from_dense(dense.data(), 40, 30);
  for (int variant = 0; variant < 4; ++variant) {
    std::vector<std::int64_t> rows, cols;
    for (std::int64_t r = 0; r < 40; ++r)
      if (variant == 0 || (r * 7 + variant) % 3 != 0) rows.push_back(r);
    for (std::int64_t c = 0; c < 30; ++c)
      if (variant == 1 || (c * 5 + variant) % 4 != 1) cols.push_back(c);
    if (variant == 3) rows = {39};  // only the last row: the longest move
    CsrMatrix in_place = m;
    select_in_place(in_place, rows, cols);
    const CsrMatrix copied = select(m, rows, cols);
    EXPECT_EQ(in_place.n_rows, copied.n_rows) << variant;
    EXPECT_EQ(in_place.n_cols, copied.n_cols) << variant;
    EXPECT_EQ(in_place.indptr, copied.indptr) << variant;
    EXPECT_EQ(in_place.indices, copied.indices) << variant;
    EXPECT_EQ(in_place.data, copied.data) << variant;
    EXPECT_NO_THROW(in_place.validate());
  }
  CsrMatrix bad = m;
  EXPECT_THROW(select_in_place(bad, {2, 1}, {0}), InputError);   // rows not ascending
  EXPECT_THROW(select_in_place(bad, {0, 40}, {0}), InputError);  // row out of range
  EXPECT_THROW(select_in_place(bad, {0}, {3, 3}), InputError);   // repeated column
  EXPECT_EQ(bad.indptr, m.indptr);
  EXPECT_EQ(bad.data, m.data);
}
