// The fixture matrix of tests/reference/fixture_matrix.py as the C++ tests expect to read it:
// 6 cells x 5 genes, cells x genes CSR, with its names and annotations; and the assertions
// that a data set (or a bare CSR matrix) is exactly that matrix.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cellvae/csr_matrix.hpp"
#include "cellvae/data_frame.hpp"
#include "cellvae/dataset.hpp"
#include "test_support.hpp"

namespace cellvae::testing {

// tests/reference/fixture_matrix.py, cells x genes.
inline const std::vector<std::int64_t> kFixtureIndptr = {0, 2, 4, 5, 5, 10, 12};
inline const std::vector<std::int32_t> kFixtureIndices = {1, 3, 0, 4, 2, 0, 1, 2, 3, 4, 1, 4};
inline const std::vector<float> kFixtureData = {3, 1, 5, 2, 7, 1, 1, 1, 1, 1, 100000, 9};
inline const std::vector<std::string> kFixtureCells = {"AAAC-1", "AAAG-1", "AACT-1",
                                                       "AAGT-1", "ACGT-1", "ACTG-1"};
inline const std::vector<std::string> kFixtureGenes = {"CD3E", "MS4A1", "LYZ", "NKG7", "G4"};
inline const std::vector<std::string> kFixtureGeneIds = {"ENSG01", "ENSG02", "ENSG03", "ENSG04",
                                                         "ENSG05"};

/// The fixture's CSR matrix.
inline CsrMatrix fixture_csr() {
  CsrMatrix m;
  m.n_rows = 6;
  m.n_cols = 5;
  m.indptr = kFixtureIndptr;
  m.indices = kFixtureIndices;
  m.data = kFixtureData;
  return m;
}

/// The fixture's matrix with its cell and gene names (no columns).
inline Dataset fixture_dataset() {
  Dataset ds;
  ds.X = fixture_csr();
  ds.obs.index = kFixtureCells;
  ds.var.index = kFixtureGenes;
  return ds;
}

/// The labels of a column as text, row by row.
inline std::vector<std::string> column_labels(const Column& c) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < c.size(); ++i) out.push_back(c.text(i));
  return out;
}

/// `m` holds exactly the fixture's CSR buffers, every value multiplied by `scale` (the
/// fractional 10x fixture stores the counts divided by 8).
inline void expect_fixture_csr(const CsrMatrix& m, float scale = 1.0f) {
  EXPECT_EQ(m.n_rows, 6);
  EXPECT_EQ(m.n_cols, 5);
  EXPECT_EQ(m.indptr, kFixtureIndptr);
  EXPECT_EQ(m.indices, kFixtureIndices);
  std::vector<float> data = kFixtureData;
  for (float& v : data) v *= scale;
  EXPECT_EQ(m.data, data);
}

/// `ds` holds the fixture's matrix (see expect_fixture_csr), its cell and gene names, the gene
/// ids as the string column var/gene_ids when `with_gene_ids`, and is valid.
inline void expect_fixture_matrix(const Dataset& ds, bool with_gene_ids = false,
                                  float scale = 1.0f) {
  expect_fixture_csr(ds.X, scale);
  EXPECT_EQ(ds.obs.index, kFixtureCells);
  EXPECT_EQ(ds.var.index, kFixtureGenes);
  if (with_gene_ids) {
    EXPECT_EQ(ds.var.at("gene_ids", "var").strings, kFixtureGeneIds);
  }
  EXPECT_NO_THROW(ds.validate());
}

/// obs and var as fixture_matrix.py defines them: the names, the obs columns of every kind
/// anndata stores, and var/gene_ids (what the .h5ad fixtures hold).
inline void expect_fixture_annotations(const Dataset& ds) {
  EXPECT_EQ(ds.obs.index, kFixtureCells);
  EXPECT_EQ(ds.var.index, kFixtureGenes);
  ASSERT_EQ(ds.obs.column_names(), (std::vector<std::string>{"cell_type", "donor", "score",
                                                             "n_genes", "is_doublet", "note"}));
  const auto& cell_type = ds.obs.at("cell_type");
  EXPECT_EQ(cell_type.kind, ColumnKind::categorical);
  EXPECT_EQ(cell_type.categories, (std::vector<std::string>{"B", "Mono", "NK", "T"}));
  EXPECT_FALSE(cell_type.ordered);
  EXPECT_EQ(column_labels(cell_type), (std::vector<std::string>{"T", "B", "Mono", "T", "B", "NK"}));
  EXPECT_EQ(column_labels(ds.obs.at("donor")),
            (std::vector<std::string>{"d1", "d1", "d2", "d2", "d1", "d2"}));
  EXPECT_EQ(ds.obs.at("score").kind, ColumnKind::number);
  EXPECT_EQ(ds.obs.at("score").numbers, (std::vector<double>{0.5, 1.25, -2.0, 0.0, 3.5, 1e-3}));
  EXPECT_EQ(ds.obs.at("n_genes").kind, ColumnKind::integer);
  EXPECT_EQ(ds.obs.at("n_genes").integers, (std::vector<std::int64_t>{2, 2, 1, 0, 5, 2}));
  EXPECT_EQ(ds.obs.at("is_doublet").kind, ColumnKind::boolean);
  EXPECT_EQ(ds.obs.at("is_doublet").booleans, (std::vector<std::uint8_t>{0, 0, 1, 0, 0, 1}));
  EXPECT_EQ(ds.obs.at("note").kind, ColumnKind::string);
  EXPECT_EQ(ds.obs.at("note").strings, (std::vector<std::string>{"a", "b", "c", "d", "e", "f"}));
  ASSERT_NE(ds.var.find("gene_ids"), nullptr);
  EXPECT_EQ(ds.var.at("gene_ids", "var").strings, kFixtureGeneIds);
}

}  // namespace cellvae::testing
