#include <gtest/gtest.h>

#include <cmath>

#include "cellvae/count_check.hpp"
#include "cellvae/error.hpp"

using namespace cellvae;

namespace {
Dataset make(std::vector<float> dense, std::int64_t rows, std::int64_t cols) {
  Dataset ds;
  ds.X = csr_from_dense(dense.data(), rows, cols);
  for (std::int64_t r = 0; r < rows; ++r) ds.obs.index.push_back("cell" + std::to_string(r));
  for (std::int64_t c = 0; c < cols; ++c) ds.var.index.push_back("gene" + std::to_string(c));
  ds.source = "data.h5ad";
  return ds;
}
std::string error_of(const Dataset& ds, CountCheckOptions o = {}) {
  try {
    check_counts(ds, o);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(CountCheck, AcceptsCounts) {
  EXPECT_EQ(error_of(make({0, 1, 2, 30}, 2, 2)), "");
}

TEST(CountCheck, NamesFirstNegativeEntry) {
  const std::string e = error_of(make({0, 1, -2, 3}, 2, 2));
  EXPECT_NE(e.find("negative value -2 at cell 'cell1' (row 1), gene 'gene0' (column 0)"),
            std::string::npos) << e;
  EXPECT_NE(e.find("data.h5ad"), std::string::npos);
}

TEST(CountCheck, NonFiniteAlwaysRejected) {
  EXPECT_NE(error_of(make({0, NAN, 2, 3}, 2, 2), {true}).find("non-finite value nan"),
            std::string::npos);
  EXPECT_NE(error_of(make({0, INFINITY, 2, 3}, 2, 2), {true}).find("non-finite"),
            std::string::npos);
}

TEST(CountCheck, NonIntegerUnlessAllowed) {
  const auto ds = make({0, 1.5f, 2, 3}, 2, 2);
  EXPECT_NE(error_of(ds).find("non-integer value 1.5 at cell 'cell0'"), std::string::npos);
  EXPECT_NE(error_of(ds).find("--allow-non-integer"), std::string::npos);
  EXPECT_EQ(error_of(ds, {true}), "");
}

TEST(CountCheck, EmptyMatrix) {
  EXPECT_EQ(error_of(make({}, 0, 3)), "data.h5ad has no cells");
  EXPECT_EQ(error_of(make({}, 3, 0)), "data.h5ad has no genes");
}
