// The simulator is checked statistically: its outputs follow the model it documents.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "cellvae/error.hpp"
#include "cellvae/simulate.hpp"

using namespace cellvae;

TEST(Simulate, ShapesNamesAndAnnotations) {
  SimulateOptions o;
  o.n_cells = 300;
  o.n_genes = 200;
  o.n_groups = 3;
  o.n_batches = 2;
  const Dataset ds = simulate_counts(o);
  EXPECT_NO_THROW(ds.validate());
  EXPECT_EQ(ds.n_cells(), 300);
  EXPECT_EQ(ds.n_genes(), 200);
  EXPECT_EQ(ds.obs.at("group").categories.size(), 3u);
  EXPECT_EQ(ds.obs.at("batch").categories.size(), 2u);
  EXPECT_EQ(ds.obs.index.front(), "cell1");
  EXPECT_EQ(ds.var.index.back(), "gene200");
  EXPECT_TRUE(is_integer_valued(ds.X));
  const auto lib = row_sums(ds.X);
  for (std::int64_t c = 0; c < ds.n_cells(); ++c)
    EXPECT_EQ(lib[c], double(ds.obs.at("library_size").integers[c]));
}

TEST(Simulate, SeedReproducesAndChanges) {
  SimulateOptions o;
  o.n_cells = 50;
  o.n_genes = 40;
  const Dataset a = simulate_counts(o), b = simulate_counts(o);
  EXPECT_EQ(a.X.data, b.X.data);
  EXPECT_EQ(a.X.indices, b.X.indices);
  o.seed = 43;
  const Dataset c = simulate_counts(o);
  EXPECT_NE(a.X.data, c.X.data);
}

TEST(Simulate, LibrarySizesAndSparsityAreRealistic) {
  SimulateOptions o;
  o.n_cells = 2000;
  o.n_genes = 1000;
  o.library_median = 1500;
  const Dataset ds = simulate_counts(o);
  auto lib = row_sums(ds.X);
  std::nth_element(lib.begin(), lib.begin() + lib.size() / 2, lib.end());
  // Poisson-Gamma noise barely moves the median of a log-normal library size.
  EXPECT_NEAR(lib[lib.size() / 2], 1500, 100);
  const double density = double(ds.X.nnz()) / (2000.0 * 1000.0);
  EXPECT_GT(density, 0.05);  // droplet data: mostly zeros, but not empty
  EXPECT_LT(density, 0.45);
}

TEST(Simulate, DifferentialGenesSeparateGroups) {
  SimulateOptions o;
  o.n_cells = 1500;
  o.n_genes = 300;
  o.n_groups = 2;
  o.de_fraction = 0.2;
  o.de_log_mean = std::log(1.5);
  const Dataset ds = simulate_counts(o);
  const auto& group = ds.obs.at("group").codes;
  const auto lib = row_sums(ds.X);
  // Mean normalized expression per group for DE genes of group1 vs non-DE genes.
  std::vector<double> sum0(300, 0), sum1(300, 0);
  double n0 = 0, n1 = 0;
  for (std::int64_t c = 0; c < ds.n_cells(); ++c) {
    (group[c] == 0 ? n0 : n1) += 1;
    for (std::int64_t k = ds.X.indptr[c]; k < ds.X.indptr[c + 1]; ++k)
      (group[c] == 0 ? sum0 : sum1)[ds.X.indices[k]] += ds.X.data[k] / lib[c];
  }
  ASSERT_GT(n0, 100);
  ASSERT_GT(n1, 100);
  double de_shift = 0, null_shift = 0;
  int de = 0, null = 0;
  const auto& de_group = ds.var.at("de_group", "var").strings;
  for (int g = 0; g < 300; ++g) {
    if (sum0[g] == 0 || sum1[g] == 0) continue;
    const double lfc = std::fabs(std::log((sum0[g] / n0) / (sum1[g] / n1)));
    if (de_group[g].empty()) null_shift += lfc, ++null;
    else de_shift += lfc, ++de;
  }
  ASSERT_GT(de, 20);
  EXPECT_GT(de_shift / de, 2.5 * (null_shift / null));
}

TEST(Simulate, RejectsBadOptions) {
  SimulateOptions o;
  o.n_cells = 0;
  EXPECT_THROW(simulate_counts(o), InputError);
  o = {};
  o.de_fraction = 1.5;
  EXPECT_THROW(simulate_counts(o), InputError);
}
