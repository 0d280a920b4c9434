#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cellvae/csr_matrix.hpp"
#include "cellvae/dataset.hpp"
#include "cellvae/error.hpp"
#include "cellvae/preprocess/hvg.hpp"
#include "cellvae/random.hpp"
#include "test_support.hpp"

namespace cellvae {
namespace {

using cellvae::testing::error_of;

// n cells x g genes of NB counts with gene means spread over two orders of magnitude; the
// genes 20-24 are bimodal (truly variable).
std::vector<float> simulate(int n, int g, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> d(static_cast<std::size_t>(n * g));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < g; ++j) {
      double mu = 0.05 * std::pow(1.12, j);
      if (j >= 20 && j < 25 && i % 2) mu *= 10;
      d[static_cast<std::size_t>(i * g + j)] = static_cast<float>(rng.negative_binomial(mu, 3));
    }
  return d;
}

TEST(Hvg, PermutingCellsChangesNothingPermutingGenesPermutesResults) {
  const int n = 150, g = 50;
  std::vector<float> d = simulate(n, g, 3);
  CsrMatrix m = csr_from_dense(d.data(), n, g);
  HvgOptions o;
  o.n_top_genes = 8;
  HvgResult a = highly_variable_genes(m, o);
  for (int j = 20; j < 25; ++j) EXPECT_FALSE(std::isnan(a.rank[static_cast<std::size_t>(j)])) << j;

  std::vector<std::int64_t> rows, cols;
  for (int i = n - 1; i >= 0; --i) rows.push_back((i * 7) % n);  // a permutation (gcd 1)
  for (int j = g - 1; j >= 0; --j) cols.push_back(j);
  HvgResult b = highly_variable_genes(select(m, rows, iota_indices(g)), o);
  HvgResult c = highly_variable_genes(select(m, iota_indices(n), cols), o);
  EXPECT_EQ(a.selected, b.selected);
  for (int j = 0; j < g; ++j) {
    const std::size_t u = static_cast<std::size_t>(j), v = static_cast<std::size_t>(g - 1 - j);
    EXPECT_NEAR(b.variances_norm[u], a.variances_norm[u], 1e-12 * a.variances_norm[u] + 1e-300);
    // Genes with equal means meet the loess in another order: rounding only.
    EXPECT_NEAR(c.variances_norm[v], a.variances_norm[u], 1e-12 * a.variances_norm[u] + 1e-300);
    EXPECT_EQ(std::isnan(c.rank[v]), std::isnan(a.rank[u]));
  }
}

TEST(Hvg, SpanAndTopGenesHaveObservableEffects) {
  std::vector<float> d = simulate(150, 50, 4);
  CsrMatrix m = csr_from_dense(d.data(), 150, 50);
  HvgOptions o;
  o.n_top_genes = 8;
  HvgResult a = highly_variable_genes(m, o);
  o.span = 0.6;
  HvgResult b = highly_variable_genes(m, o);
  EXPECT_NE(a.variances_norm, b.variances_norm);
  o.n_top_genes = 3;
  EXPECT_EQ(highly_variable_genes(m, o).selected.size(), 3u);
  o.n_top_genes = 500;  // more than there are genes: all selected, resolved count reported
  HvgResult all = highly_variable_genes(m, o);
  EXPECT_EQ(all.n_top_genes, 50);
  EXPECT_EQ(all.selected, iota_indices(50));
}

TEST(Hvg, UnusedBatchCodesAreIgnored) {
  std::vector<float> d = simulate(100, 40, 5);
  CsrMatrix m = csr_from_dense(d.data(), 100, 40);
  HvgOptions o;
  o.n_top_genes = 6;
  std::vector<std::int32_t> codes(100);
  for (int i = 0; i < 100; ++i) codes[static_cast<std::size_t>(i)] = i < 50 ? 0 : 2;
  o.batch_codes = codes;
  HvgResult a = highly_variable_genes(m, o);
  ASSERT_EQ(a.batches.size(), 2u);
  EXPECT_EQ(a.batches[1].code, 2);
  for (auto& c : codes) c = c == 2 ? 1 : 0;
  o.batch_codes = codes;
  HvgResult b = highly_variable_genes(m, o);
  EXPECT_EQ(a.selected, b.selected);
  EXPECT_EQ(a.variances_norm, b.variances_norm);
}

TEST(Hvg, Errors) {
  std::vector<float> d = simulate(60, 40, 6);
  CsrMatrix m = csr_from_dense(d.data(), 60, 40);
  HvgOptions o;
  o.n_top_genes = 0;
  EXPECT_THROW(highly_variable_genes(m, o), InputError);
  o = {};
  o.span = 0;
  EXPECT_THROW(highly_variable_genes(m, o), InputError);
  o = {};
  o.batch_codes = std::vector<std::int32_t>(59, 0);
  EXPECT_NE(error_of([&] { highly_variable_genes(m, o); }).find("59 entries"), std::string::npos);
  o.batch_codes = std::vector<std::int32_t>(60, 0);
  o.batch_codes[7] = 1;  // a batch of one cell
  EXPECT_NE(error_of([&] { highly_variable_genes(m, o); }).find("batch code 1 has 1 cell"),
            std::string::npos);
  o.batch_codes[7] = -3;
  EXPECT_NE(error_of([&] { highly_variable_genes(m, o); }).find("cell 7"), std::string::npos);
  // Normalized data are not counts.
  std::vector<float> neg = d;
  neg[65] = -1.5f;
  EXPECT_NE(error_of([&] {
              highly_variable_genes(csr_from_dense(neg.data(), 60, 40));
            }).find("need raw counts"),
            std::string::npos);
  // Too few varying genes for a loess trend: 5 genes, span 0.3 -> 1 neighbour.
  std::vector<float> few(d.begin(), d.begin() + 60 * 5);
  EXPECT_NE(error_of([&] {
              highly_variable_genes(csr_from_dense(few.data(), 60, 5));
            }).find("too few for a loess"),
            std::string::npos);
}

}  // namespace
}  // namespace cellvae
