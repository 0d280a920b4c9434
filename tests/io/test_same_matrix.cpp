// The fixture matrix (tests/reference/fixture_matrix.py) read through cellvae::read_dataset from
// every committed file that holds it: h5ad (dense, CSR, CSC, other dtypes, the 0.7 and < 0.7
// layouts, layers), 10x h5 (v3, v2), 10x matrix folders (MTX) and CSV/TSV tables give identical
// CSR buffers, cell and gene names, and gene ids wherever the format stores them.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cellvae/file_format.hpp"
#include "cellvae/io.hpp"
#include "fixture_matrix.hpp"
#include "test_support.hpp"

namespace {

using cellvae::Dataset;
using cellvae::ReadOptions;
using cellvae::testing::expect_fixture_annotations;
using cellvae::testing::expect_fixture_matrix;
using cellvae::testing::fixture;

struct Source {
  std::string path;      ///< under tests/data
  ReadOptions options;   ///< the format is detected from the path
  bool has_gene_ids;     ///< the file stores var/gene_ids
  bool has_obs_columns;  ///< the file holds fixture_matrix.py's obs columns
};

ReadOptions layer(const char* name) {
  ReadOptions o;
  o.layer = name;
  return o;
}

ReadOptions genome(const char* name) {
  ReadOptions o;
  o.genome = name;
  return o;
}

ReadOptions genes_as_rows() {
  ReadOptions o;
  o.transpose = true;
  return o;
}

TEST(SameMatrix, EveryFormatGivesIdenticalBuffersAndNames) {
  const std::vector<Source> sources = {
      {"h5ad/x_csr.h5ad", {}, true, true},
      {"h5ad/x_dense.h5ad", {}, true, true},
      {"h5ad/x_csc.h5ad", {}, true, true},
      {"h5ad/x_csr_int64_f64.h5ad", {}, true, true},
      {"h5ad/x_csr_int32_values.h5ad", {}, true, true},
      {"h5ad/legacy_07.h5ad", {}, true, true},
      {"h5ad/legacy_06.h5ad", {}, true, true},
      {"h5ad/x_csr.h5ad", layer("counts"), true, true},
      {"h5ad/x_dense.h5ad", layer("counts"), true, true},
      {"h5ad/legacy_07.h5ad", layer("counts"), true, true},
      {"h5ad/extras.h5ad", {}, false, false},
      {"tenx_h5/v3.h5", {}, true, false},
      {"tenx_h5/v2.h5", {}, true, false},
      {"tenx_h5/v2_two_genomes.h5", genome("GRCh38"), true, false},
      {"mtx/v3", {}, true, false},
      {"mtx/v2", {}, true, false},
      {"mtx/real", {}, true, false},
      {"csv/cells_by_genes.csv", {}, false, false},
      {"csv/cells_by_genes.tsv.gz", {}, false, false},
      {"csv/genes_by_cells.tsv", genes_as_rows(), false, false},
  };

  // The first source is the reference: it must be the fixture, and every other must equal it.
  const Dataset ref = cellvae::read_dataset(fixture(sources.front().path));
  expect_fixture_matrix(ref, /*with_gene_ids=*/true);
  expect_fixture_annotations(ref);

  std::vector<cellvae::FileFormat> formats_seen;
  for (const Source& s : sources) {
    SCOPED_TRACE(s.path + (s.options.layer ? " layer " + *s.options.layer : std::string()));
    const Dataset ds = cellvae::read_dataset(fixture(s.path), s.options);
    EXPECT_EQ(ds.X.n_rows, ref.X.n_rows);
    EXPECT_EQ(ds.X.n_cols, ref.X.n_cols);
    EXPECT_EQ(ds.X.indptr, ref.X.indptr);
    EXPECT_EQ(ds.X.indices, ref.X.indices);
    EXPECT_EQ(ds.X.data, ref.X.data);
    EXPECT_EQ(ds.obs.index, ref.obs.index);
    EXPECT_EQ(ds.var.index, ref.var.index);
    if (s.has_gene_ids) {
      EXPECT_EQ(ds.var.at("gene_ids", "var").strings, ref.var.at("gene_ids", "var").strings);
    }
    if (s.has_obs_columns) expect_fixture_annotations(ds);
    expect_fixture_matrix(ds, s.has_gene_ids);
    formats_seen.push_back(cellvae::detect_input_format(fixture(s.path)));
  }

  // Every readable format took part.
  for (cellvae::FileFormat f :
       {cellvae::FileFormat::h5ad, cellvae::FileFormat::tenx_h5, cellvae::FileFormat::tenx_mtx,
        cellvae::FileFormat::csv, cellvae::FileFormat::tsv}) {
    EXPECT_NE(std::find(formats_seen.begin(), formats_seen.end(), f), formats_seen.end())
        << cellvae::to_string(f);
  }
}

}  // namespace
