// Reading Cell Ranger HDF5 files (v3 /matrix and v2 genome groups): the genes x cells file
// gives the fixture's cells x genes CSR buffers; genome selection; errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "cellvae/error.hpp"
#include "cellvae/io.hpp"
#include "cellvae/tenx.hpp"
#include "fixture_matrix.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using cellvae::ColumnKind;
using cellvae::Dataset;
using cellvae::InputError;
using cellvae::read_10x_h5;
using cellvae::testing::column_labels;
using cellvae::testing::error_of;
using cellvae::testing::expect_fixture_matrix;
using cellvae::testing::fixture;
using cellvae::testing::kFixtureCells;
using cellvae::testing::ScratchDir;

TEST(TenxH5, V3GivesTheFixture) {
  const Dataset ds = read_10x_h5(fixture("tenx_h5/v3.h5"));
  expect_fixture_matrix(ds, /*with_gene_ids=*/true);
  const auto& types = ds.var.at("feature_types", "var");
  EXPECT_EQ(types.kind, ColumnKind::categorical);
  EXPECT_EQ(types.categories, (std::vector<std::string>{"Gene Expression"}));
  EXPECT_EQ(column_labels(ds.var.at("genome", "var")),
            (std::vector<std::string>{"GRCh38", "GRCh38", "GRCh38", "mm10", "mm10"}));
  EXPECT_EQ(ds.source, fixture("tenx_h5/v3.h5").string());
  EXPECT_TRUE(ds.warnings.empty());
}

TEST(TenxH5, V3GenomeSelectsItsGenes) {
  const Dataset ds = read_10x_h5(fixture("tenx_h5/v3.h5"), std::string("mm10"));
  EXPECT_EQ(ds.var.index, (std::vector<std::string>{"NKG7", "G4"}));
  EXPECT_EQ(ds.var.at("gene_ids", "var").strings, (std::vector<std::string>{"ENSG04", "ENSG05"}));
  EXPECT_EQ(ds.X.n_rows, 6);
  EXPECT_EQ(ds.X.n_cols, 2);
  // Columns NKG7 and G4 of the fixture.
  EXPECT_EQ(cellvae::to_dense(ds.X), (std::vector<float>{1, 0, 0, 2, 0, 0, 0, 0, 1, 1, 0, 9}));
  const std::string msg =
      error_of([] { read_10x_h5(fixture("tenx_h5/v3.h5"), std::string("hg19")); });
  EXPECT_NE(msg.find("genome 'hg19' not in"), std::string::npos) << msg;
  EXPECT_NE(msg.find("available: GRCh38, mm10"), std::string::npos) << msg;
}

TEST(TenxH5, V2GivesTheFixture) {
  const Dataset ds = read_10x_h5(fixture("tenx_h5/v2.h5"));
  expect_fixture_matrix(ds, /*with_gene_ids=*/true);
  EXPECT_EQ(ds.var.column_names(), (std::vector<std::string>{"gene_ids"}));
}

TEST(TenxH5, V2SeveralGenomesNeedAChoice) {
  const fs::path p = fixture("tenx_h5/v2_two_genomes.h5");
  const std::string msg = error_of([&] { read_10x_h5(p); });
  EXPECT_EQ(msg, p.string() + " holds several genomes (GRCh38, mm10); choose one with --genome");
  expect_fixture_matrix(read_10x_h5(p, std::string("GRCh38")), /*with_gene_ids=*/true);
  const Dataset mouse = read_10x_h5(p, std::string("mm10"));
  EXPECT_EQ(mouse.var.index, (std::vector<std::string>{"Cd3e", "Lyz2"}));
  EXPECT_EQ(mouse.obs.index, kFixtureCells);
  EXPECT_EQ(cellvae::to_dense(mouse.X), (std::vector<float>{1, 0, 0, 2, 0, 0, 3, 3, 0, 1, 4, 0}));
  const std::string unknown = error_of([&] { read_10x_h5(p, std::string("hg19")); });
  EXPECT_EQ(unknown, "genome 'hg19' not in " + p.string() + "; available: GRCh38, mm10");
}

TEST(TenxH5, ThroughReadDatasetWithFormatDetection) {
  const Dataset ds = cellvae::read_dataset(fixture("tenx_h5/v3.h5"));
  expect_fixture_matrix(ds, /*with_gene_ids=*/true);
  cellvae::ReadOptions opt;
  opt.genome = "mm10";
  EXPECT_EQ(cellvae::read_dataset(fixture("tenx_h5/v2_two_genomes.h5"), opt).n_genes(), 2);
}

TEST(TenxH5, LargeGzipFileWithTypeConversion) {
  // int32 data and int64 indices in gzip chunks: read in parallel and converted to float/int32.
  const Dataset ds = read_10x_h5(fixture("tenx_h5/v3_gzip_large.h5"));
  ASSERT_EQ(ds.n_cells(), 1000);
  ASSERT_EQ(ds.n_genes(), 300);
  ASSERT_EQ(ds.X.nnz(), 300000);
  bool all_equal = true;
  for (std::int64_t c = 0; c < 1000 && all_equal; ++c) {
    all_equal &= ds.X.indptr[c] == c * 300;
    for (std::int64_t g = 0; g < 300; ++g) {
      all_equal &= ds.X.indices[c * 300 + g] == g;
      all_equal &= ds.X.data[c * 300 + g] == static_cast<float>((7 * c + g) % 13 + 1);
    }
  }
  EXPECT_TRUE(all_equal);
  EXPECT_EQ(ds.obs.index[999], "c999");
  EXPECT_EQ(ds.var.index[299], "g299");
}

TEST(TenxH5Errors, MissingNonHdf5AndNon10xFiles) {
  EXPECT_EQ(error_of([] { read_10x_h5("/nonexistent/m.h5"); }),
            "file not found: /nonexistent/m.h5");
  ScratchDir dir;
  const fs::path text = dir / "m.h5";
  cellvae::testing::write_text(text, "not hdf5");
  EXPECT_EQ(error_of([&] { read_10x_h5(text); }),
            text.string() + " is not a readable HDF5 file (truncated or corrupt?)");
  const fs::path h5ad = fixture("h5ad/legacy_06.h5ad");
  const std::string msg = error_of([&] { read_10x_h5(h5ad); });
  EXPECT_NE(msg.find("is not a 10x HDF5 file"), std::string::npos) << msg;
}

TEST(TenxH5Errors, Truncated) {
  ScratchDir dir;
  const fs::path p = dir / "v3.h5";
  fs::copy_file(fixture("tenx_h5/v3.h5"), p);
  fs::resize_file(p, fs::file_size(p) - 600);
  EXPECT_THROW(read_10x_h5(p), InputError);
}

}  // namespace
