// Preprocessing against reference values from tests/reference/make_preprocess_reference.py
// (an independent numpy implementation of the Seurat v3 HVG formula and of scater's
// size factors / log-normalization, on a simulated NB count matrix).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cellvae/csr_matrix.hpp"
#include "cellvae/io.hpp"
#include "cellvae/preprocess/category_encoder.hpp"
#include "cellvae/preprocess/hvg.hpp"
#include "cellvae/preprocess/loess.hpp"
#include "cellvae/preprocess/normalize.hpp"
#include "cellvae/preprocess/preprocess.hpp"
#include "test_support.hpp"

namespace cellvae {
namespace {

using testing::fixture;

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  std::size_t column(const std::string& name) const {
    for (std::size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return i;
    ADD_FAILURE() << "no column " << name;
    return 0;
  }
  double number(std::size_t row, const std::string& name) const {
    return std::stod(rows[row][column(name)]);
  }
};

std::vector<std::string> split_line(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string field;
  while (std::getline(ss, field, ',')) out.push_back(field);
  return out;
}

Table read_table(const std::string& name) {
  std::ifstream in(fixture("preprocess/" + name));
  EXPECT_TRUE(in) << "missing fixture " << name;
  Table t;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (t.header.empty())
      t.header = split_line(line);
    else
      t.rows.push_back(split_line(line));
  }
  return t;
}

struct Fixture {
  CsrMatrix counts;
  std::vector<std::int32_t> batch;
  std::vector<std::string> genes;
};

const Fixture& counts_fixture() {
  static const Fixture f = [] {
    Fixture out;
    Table t = read_table("counts.csv");
    const std::size_t n_genes = t.header.size() - 2;
    out.genes.assign(t.header.begin() + 2, t.header.end());
    std::vector<float> dense;
    for (const auto& row : t.rows) {
      out.batch.push_back(std::stoi(row[1]));
      for (std::size_t g = 0; g < n_genes; ++g) dense.push_back(std::stof(row[2 + g]));
    }
    out.counts = csr_from_dense(dense.data(), static_cast<std::int64_t>(t.rows.size()),
                                static_cast<std::int64_t>(n_genes));
    return out;
  }();
  return f;
}

double rel_err(double a, double b) { return std::fabs(a - b) / std::max(std::fabs(b), 1e-300); }

std::vector<std::int64_t> selected_in(const Table& t, const std::string& col) {
  std::vector<std::int64_t> out;
  for (std::size_t g = 0; g < t.rows.size(); ++g)
    if (t.rows[g][t.column(col)] == "1") out.push_back(static_cast<std::int64_t>(g));
  return out;
}

TEST(HvgReference, OneBatchMatchesNumpySeuratV3) {
  const Fixture& f = counts_fixture();
  ASSERT_EQ(f.counts.n_rows, 200);
  ASSERT_EQ(f.counts.n_cols, 60);
  Table ref = read_table("hvg_reference.csv");
  ASSERT_EQ(ref.rows.size(), 60u);

  HvgOptions o;
  o.n_top_genes = 15;
  HvgResult r = highly_variable_genes(f.counts, o);
  ASSERT_EQ(r.batches.size(), 1u);
  double max_mean = 0, max_var = 0, max_fit = 0, max_norm = 0;
  for (std::size_t g = 0; g < 60; ++g) {
    SCOPED_TRACE("gene " + f.genes[g]);
    const double mean = ref.number(g, "mean"), var = ref.number(g, "variance");
    if (var == 0) {
      EXPECT_EQ(r.means[g], 0.0);
      EXPECT_EQ(r.variances[g], 0.0);
      EXPECT_TRUE(std::isnan(r.batches[0].log10_expected_variance[g]));
      EXPECT_EQ(r.variances_norm[g], 0.0);
      continue;
    }
    max_mean = std::max(max_mean, rel_err(r.means[g], mean));
    max_var = std::max(max_var, rel_err(r.variances[g], var));
    max_fit = std::max(
        max_fit, std::fabs(r.batches[0].log10_expected_variance[g] - ref.number(g, "loess_fit")));
    max_norm = std::max(max_norm, rel_err(r.variances_norm[g], ref.number(g, "variances_norm")));
    const double rank = ref.number(g, "rank");
    if (std::isnan(rank)) {
      EXPECT_TRUE(std::isnan(r.rank[g]));
      EXPECT_EQ(r.n_batches[g], 0);
    } else {
      EXPECT_EQ(r.rank[g], rank);
      EXPECT_EQ(r.n_batches[g], 1);
    }
  }
  EXPECT_LT(max_mean, 1e-6);
  EXPECT_LT(max_var, 1e-6);
  EXPECT_LT(max_fit, 1e-8);
  EXPECT_LT(max_norm, 1e-4);
  std::cout << "[ info     ] max rel err: mean " << max_mean << ", variance " << max_var
            << ", normalized variance " << max_norm << "; max abs err loess log10 fit " << max_fit
            << "\n";
  EXPECT_EQ(r.n_top_genes, 15);
  EXPECT_EQ(r.selected, selected_in(ref, "selected"));
}

TEST(HvgReference, TwoBatchesMatchNumpyRankingAcrossBatches) {
  const Fixture& f = counts_fixture();
  Table ref = read_table("hvg_reference.csv");
  HvgOptions o;
  o.n_top_genes = 15;
  o.batch_codes = f.batch;
  HvgResult r = highly_variable_genes(f.counts, o);
  ASSERT_EQ(r.batches.size(), 2u);
  EXPECT_EQ(r.batches[0].n_cells + r.batches[1].n_cells, 200);
  double max_norm = 0;
  for (std::size_t g = 0; g < 60; ++g) {
    SCOPED_TRACE("gene " + f.genes[g]);
    const double expect = ref.number(g, "variances_norm_b");
    if (expect == 0)
      EXPECT_EQ(r.variances_norm[g], 0.0);
    else
      max_norm = std::max(max_norm, rel_err(r.variances_norm[g], expect));
    // Means and variances are over all cells whatever the batches.
    EXPECT_NEAR(r.means[g], ref.number(g, "mean"), 1e-6 * std::max(1.0, ref.number(g, "mean")));
    EXPECT_EQ(r.n_batches[g], std::stoi(ref.rows[g][ref.column("nbatches_b")]));
    const double med = ref.number(g, "median_rank_b");
    if (std::isnan(med))
      EXPECT_TRUE(std::isnan(r.rank[g]));
    else
      EXPECT_EQ(r.rank[g], med);
  }
  EXPECT_LT(max_norm, 1e-4);
  std::cout << "[ info     ] two batches: max rel err normalized variance " << max_norm << "\n";
  // Gene G58 is zero in batch 0: constant there, so it gets normalized variance 0 in that batch.
  EXPECT_EQ(r.batches[0].variances_norm[58], 0.0);
  EXPECT_TRUE(std::isnan(r.batches[0].log10_expected_variance[58]));
  EXPECT_EQ(r.selected, selected_in(ref, "selected_b"));
  // The reference's cut falls inside a tie (G00 and G23: one batch each, median rank 9),
  // settled by gene order as scanpy's stable sort does.
  EXPECT_EQ(r.rank[0], r.rank[23]);
  EXPECT_EQ(r.n_batches[0], r.n_batches[23]);
}

TEST(NormalizeReference, SizeFactorsAndLogNormMatchNumpy) {
  const Fixture& f = counts_fixture();
  Table ref = read_table("lognorm_reference.csv");
  LogNormResult r = log_norm_counts(f.counts);
  std::vector<float> dense = to_dense(r.values);
  double max_sf = 0, max_val = 0;
  for (std::size_t c = 0; c < ref.rows.size(); ++c) {
    EXPECT_EQ(r.size_factors.library_sizes[c], ref.number(c, "library"));
    max_sf =
        std::max(max_sf, rel_err(r.size_factors.size_factors[c], ref.number(c, "size_factor")));
    for (std::size_t g = 0; g < 60; ++g) {
      const double expect = std::stod(ref.rows[c][3 + g]);
      const double got = dense[c * 60 + g];
      if (expect == 0) {
        EXPECT_EQ(got, 0.0) << "cell " << c << " gene " << g;
      } else {
        max_val = std::max(max_val, rel_err(got, expect));
      }
    }
  }
  EXPECT_LT(max_sf, 1e-12);
  EXPECT_LT(max_val, 1e-6);  // float storage: ~6e-8
  std::cout << "[ info     ] max rel err: size factor " << max_sf << ", log-normalized " << max_val
            << "\n";
  double mean_sf = 0;
  for (double s : r.size_factors.size_factors) mean_sf += s;
  EXPECT_NEAR(mean_sf / 200, 1.0, 1e-12);
  // Same sparsity pattern: zeros stay zeros.
  EXPECT_EQ(r.values.indices, f.counts.indices);
  EXPECT_EQ(r.values.indptr, f.counts.indptr);
}

// The same formula on a real data set (Kang et al. 2018 PBMCs, 12,261 cells x 1,287 genes),
// per donor, against the numpy reference computed from the same h5ad.
TEST(HvgReference, KangPbmcPerDonorMatchesNumpy) {
  CELLVAE_REQUIRE_SHARED(path, "kang_pbmc/kang_pbmc.h5ad");
  Dataset ds = read_dataset(path);
  Table ref = read_table("kang_hvg_reference.csv");
  ASSERT_EQ(static_cast<std::int64_t>(ref.rows.size()), ds.n_genes());
  const Column& donor = ds.obs.at("donor");
  HvgOptions o;
  o.n_top_genes = 300;
  o.batch_codes = CategoryEncoder::from_column(donor).encode(donor, ds.obs.index);
  HvgResult r = highly_variable_genes(ds.X, o);
  ASSERT_EQ(r.batches.size(), 8u);
  double max_norm = 0;
  int rank_moves = 0;
  for (std::size_t g = 0; g < ref.rows.size(); ++g) {
    SCOPED_TRACE("gene " + ds.var.index[g]);
    ASSERT_EQ(ref.rows[g][0], ds.var.index[g]);
    const double expect = ref.number(g, "variances_norm");
    if (expect > 0) max_norm = std::max(max_norm, rel_err(r.variances_norm[g], expect));
    EXPECT_EQ(r.n_batches[g], std::stoi(ref.rows[g][ref.column("nbatches")]));
    const double med = ref.number(g, "median_rank");
    if (std::isnan(med)) {
      EXPECT_TRUE(std::isnan(r.rank[g]));
    } else {
      // Mathematically tied pairs (listed in the fixture header) may swap: one rank apart.
      EXPECT_LE(std::fabs(r.rank[g] - med), 1.0);
      rank_moves += r.rank[g] != med;
    }
  }
  EXPECT_LT(max_norm, 1e-9);  // the fixture stores 12 significant digits
  EXPECT_LE(rank_moves, 10);
  std::cout << "[ info     ] kang: max rel err normalized variance " << max_norm
            << ", genes whose median rank moved by a tie swap " << rank_moves << "\n";
  EXPECT_EQ(r.selected, selected_in(ref, "selected"));

  // The pipeline keeps exactly these genes (nothing is filtered from this data set by the
  // defaults except undetected genes, which are never highly variable).
  PreprocessOptions po;
  po.n_top_genes = 300;
  po.batch_key = "donor";
  po.label_key = "cell_type";
  PreprocessResult pr = preprocess(ds, po);
  EXPECT_EQ(pr.data.n_genes(), 300);
  EXPECT_EQ(pr.state.labels->encoder.size(), 8);
  std::set<std::string> expected;
  for (std::int64_t g : r.selected) expected.insert(ds.var.index[static_cast<std::size_t>(g)]);
  EXPECT_EQ(std::set<std::string>(pr.state.genes.begin(), pr.state.genes.end()), expected);
}

}  // namespace
}  // namespace cellvae
