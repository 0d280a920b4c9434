#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cellvae/csr_matrix.hpp"
#include "cellvae/error.hpp"
#include "cellvae/preprocess/filter.hpp"

namespace cellvae {
namespace {

// 5 cells x 4 genes:
//   cell 0: 1 gene, 1 count      cell 3: 3 genes, 15 counts (only cell with gene 2)
//   cell 1: 2 genes, 5 counts    cell 4: 1 gene, 1 count
//   cell 2: empty                gene 3: never detected
CsrMatrix hand_made() {
  const float v[] = {1, 0, 0, 0,  //
                     2, 3, 0, 0,  //
                     0, 0, 0, 0,  //
                     5, 5, 5, 0,  //
                     0, 1, 0, 0};
  return csr_from_dense(v, 5, 4);
}

std::string message_of(const CsrMatrix& m, const FilterOptions& o) {
  try {
    filter_cells_and_genes(m, o);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

using Idx = std::vector<std::int64_t>;

TEST(Filter, DefaultsDropEmptyCellsAndUndetectedGenes) {
  FilterResult r = filter_cells_and_genes(hand_made());
  EXPECT_EQ(r.kept_cells, (Idx{0, 1, 3, 4}));
  EXPECT_EQ(r.kept_genes, (Idx{0, 1, 2}));
  EXPECT_EQ(r.n_cells_removed, 1);
  EXPECT_EQ(r.n_genes_removed, 1);
  EXPECT_EQ(r.n_cells_below_min_counts, 1);
}

TEST(Filter, ZeroThresholdsKeepEverything) {
  FilterOptions o;
  o.min_cells_per_gene = 0;
  o.min_counts_per_cell = 0;
  FilterResult r = filter_cells_and_genes(hand_made(), o);
  EXPECT_EQ(r.kept_cells, (Idx{0, 1, 2, 3, 4}));
  EXPECT_EQ(r.kept_genes, (Idx{0, 1, 2, 3}));
}

TEST(Filter, GenesAreCountedOverKeptCells) {
  FilterOptions o;
  o.min_genes_per_cell = 2;
  o.min_cells_per_gene = 2;
  FilterResult r = filter_cells_and_genes(hand_made(), o);
  EXPECT_EQ(r.kept_cells, (Idx{1, 3}));
  // Gene 0 is in 3 cells overall but only cells 1 and 3 count now; gene 2 is in cell 3 only.
  EXPECT_EQ(r.kept_genes, (Idx{0, 1}));
  EXPECT_EQ(r.n_cells_below_min_genes, 3);
  EXPECT_EQ(r.n_cells_below_min_counts, 1);  // the empty cell fails both
  EXPECT_EQ(r.n_cells_removed, 3);
  EXPECT_EQ(r.n_genes_removed, 2);
}

TEST(Filter, MaxCountsRemovesLargeCellsAndTheirOnlyGenes) {
  FilterOptions o;
  o.max_counts_per_cell = 10;
  FilterResult r = filter_cells_and_genes(hand_made(), o);
  EXPECT_EQ(r.kept_cells, (Idx{0, 1, 4}));
  EXPECT_EQ(r.n_cells_above_max_counts, 1);
  EXPECT_EQ(r.kept_genes, (Idx{0, 1}));  // gene 2 was only in cell 3
}

TEST(Filter, MinCountsThreshold) {
  FilterOptions o;
  o.min_counts_per_cell = 5;
  EXPECT_EQ(filter_cells_and_genes(hand_made(), o).kept_cells, (Idx{1, 3}));
}

TEST(Filter, EverythingFilteredNamesTheOption) {
  FilterOptions o;
  o.min_genes_per_cell = 10;
  EXPECT_EQ(message_of(hand_made(), o),
            "no cells left after filtering: min_genes_per_cell = 10 removed 5 of 5 cells; "
            "min_counts_per_cell = 1 removed 1 of 5 cells");
  o = {};
  o.min_cells_per_gene = 100;
  EXPECT_EQ(message_of(hand_made(), o),
            "no genes left after filtering: min_cells_per_gene = 100 removed 4 of 4 genes "
            "(counted over the 4 cells kept)");
  o = {};
  o.min_counts_per_cell = 0.5;
  o.max_counts_per_cell = 0.5;
  EXPECT_NE(message_of(hand_made(), o).find("max_counts_per_cell = 0.5 removed 4 of 5"),
            std::string::npos);
}

TEST(Filter, RejectsInvalidOptions) {
  FilterOptions o;
  o.min_cells_per_gene = -1;
  EXPECT_NE(message_of(hand_made(), o).find("min_cells_per_gene must be >= 0"), std::string::npos);
  o = {};
  o.min_genes_per_cell = -2;
  EXPECT_NE(message_of(hand_made(), o).find("min_genes_per_cell"), std::string::npos);
  o = {};
  o.min_counts_per_cell = -1;
  EXPECT_NE(message_of(hand_made(), o).find("min_counts_per_cell"), std::string::npos);
  o = {};
  o.min_counts_per_cell = 10;
  o.max_counts_per_cell = 5;
  EXPECT_NE(message_of(hand_made(), o).find("max_counts_per_cell (5) must be >="),
            std::string::npos);
}

}  // namespace
}  // namespace cellvae
