// Reading .h5ad files: every layout of the fixture matrix (anndata 0.8 CSR/CSC/dense, other
// dtypes, the 0.7 layout, the < 0.7 record arrays) gives the same buffers and annotations;
// layers and raw; partly supported elements; every error branch; the shared real data sets.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cellvae/error.hpp"
#include "cellvae/h5ad.hpp"
#include "fixture_matrix.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using cellvae::ColumnKind;
using cellvae::Dataset;
using cellvae::H5adReadOptions;
using cellvae::InputError;
using cellvae::read_h5ad;
using cellvae::testing::column_labels;
using cellvae::testing::error_of;
using cellvae::testing::expect_fixture_annotations;
using cellvae::testing::expect_fixture_csr;
using cellvae::testing::fixture;
using cellvae::testing::kFixtureCells;
using cellvae::testing::kFixtureGenes;
using cellvae::testing::ScratchDir;

bool contains(const std::vector<std::string>& v, const std::string& needle) {
  for (const auto& s : v)
    if (s.find(needle) != std::string::npos) return true;
  return false;
}

// ---- every layout gives the fixture -----------------------------------------------------------

class H5adFixtures : public ::testing::TestWithParam<const char*> {};

TEST_P(H5adFixtures, ReadsTheFixtureMatrixAndAnnotations) {
  const Dataset ds = read_h5ad(fixture(std::string("h5ad/") + GetParam()));
  expect_fixture_csr(ds.X);
  expect_fixture_annotations(ds);
  EXPECT_NO_THROW(ds.validate());
  EXPECT_EQ(ds.source, fixture(std::string("h5ad/") + GetParam()).string());
}

INSTANTIATE_TEST_SUITE_P(AllLayouts, H5adFixtures,
                         ::testing::Values("x_csr.h5ad", "x_dense.h5ad", "x_csc.h5ad",
                                           "x_csr_int64_f64.h5ad", "x_csr_int32_values.h5ad",
                                           "legacy_07.h5ad", "legacy_06.h5ad"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return s;
                         });

TEST(H5adRead, ObsmUnsAndLayerNames) {
  for (const char* name : {"h5ad/x_csr.h5ad", "h5ad/legacy_07.h5ad"}) {
    SCOPED_TRACE(name);
    const Dataset ds = read_h5ad(fixture(name));
    ASSERT_EQ(ds.obsm.count("X_pca"), 1u);
    const auto& pca = ds.obsm.at("X_pca");
    EXPECT_EQ(pca.rows, 6);
    EXPECT_EQ(pca.cols, 2);
    EXPECT_EQ(pca.values, (std::vector<double>{0.5, -1.0, 1.5, 2.0, -0.25, 0.0, 3.0, 1.0, 0.0, -2.5,
                                               1.0, 1.0}));
    EXPECT_EQ(std::get<std::string>(ds.uns.at("title")), "fixture");
    EXPECT_EQ(std::get<std::int64_t>(ds.uns.at("n_pcs")), 2);
    EXPECT_EQ(std::get<std::vector<double>>(ds.uns.at("values")),
              (std::vector<double>{0.1, 0.2, 0.3}));
    EXPECT_EQ(ds.layers, (std::vector<std::string>{"counts"}));
  }
  const Dataset ds = read_h5ad(fixture("h5ad/x_csr.h5ad"));
  EXPECT_EQ(std::get<double>(ds.uns.at("learning_rate")), 0.25);
  EXPECT_EQ(std::get<std::vector<std::string>>(ds.uns.at("batches")),
            (std::vector<std::string>{"d1", "d2"}));
  EXPECT_TRUE(ds.warnings.empty()) << ds.warnings.front();
}

TEST(H5adRead, LegacyVarIndexWithItsOwnName) {
  // legacy_07 names its var index dataset "gene" (df.index.name in anndata 0.7).
  const Dataset ds = read_h5ad(fixture("h5ad/legacy_07.h5ad"));
  EXPECT_EQ(ds.var.index, kFixtureGenes);
  EXPECT_EQ(ds.var.column_names(), (std::vector<std::string>{"gene_ids"}));
}

TEST(H5adRead, LegacyRecordArraysConsumeTheirCategories) {
  const Dataset ds = read_h5ad(fixture("h5ad/legacy_06.h5ad"));
  EXPECT_EQ(ds.uns.count("cell_type_categories"), 0u);
  EXPECT_TRUE(ds.layers.empty());
}

TEST(H5adRead, LayerNamesWithoutReadingX) {
  EXPECT_EQ(cellvae::h5ad_layer_names(fixture("h5ad/x_csr.h5ad")),
            (std::vector<std::string>{"counts"}));
  EXPECT_TRUE(cellvae::h5ad_layer_names(fixture("h5ad/legacy_06.h5ad")).empty());
  EXPECT_EQ(cellvae::h5ad_layer_names(fixture("h5ad/no_x.h5ad")),
            (std::vector<std::string>{"spliced"}));
}

// ---- layers and raw ---------------------------------------------------------------------------

TEST(H5adRead, LayerInsteadOfX) {
  for (const char* name : {"h5ad/x_dense.h5ad", "h5ad/legacy_07.h5ad"}) {
    SCOPED_TRACE(name);
    H5adReadOptions opt;
    opt.layer = "counts";
    const Dataset ds = read_h5ad(fixture(name), opt);
    expect_fixture_csr(ds.X);
    EXPECT_EQ(ds.var.index, kFixtureGenes);
  }
}

TEST(H5adRead, UnknownLayerListsTheAvailableOnes) {
  H5adReadOptions opt;
  opt.layer = "spliced";
  const std::string msg = error_of([&] { read_h5ad(fixture("h5ad/x_csr.h5ad"), opt); });
  EXPECT_NE(msg.find("layer 'spliced' not in"), std::string::npos) << msg;
  EXPECT_NE(msg.find("x_csr.h5ad; available: counts"), std::string::npos) << msg;
  const std::string none = error_of([&] { read_h5ad(fixture("h5ad/legacy_06.h5ad"), opt); });
  EXPECT_NE(none.find("available: (none)"), std::string::npos) << none;
}

TEST(H5adRead, RawReadsRawXWithRawVar) {
  H5adReadOptions opt;
  opt.use_raw = true;
  const Dataset ds = read_h5ad(fixture("h5ad/x_csr.h5ad"), opt);
  ASSERT_EQ(ds.X.n_rows, 6);
  ASSERT_EQ(ds.X.n_cols, 6);
  EXPECT_EQ(ds.var.index.back(), "RAWONLY");
  EXPECT_EQ(ds.var.at("gene_ids", "var").strings.back(), "ENSG99");
  EXPECT_EQ(ds.obs.index, kFixtureCells);
  // raw.X = [X | 1]: every row ends with a 1 in column 5.
  const std::vector<float> dense = cellvae::to_dense(ds.X);
  for (int r = 0; r < 6; ++r) EXPECT_EQ(dense[r * 6 + 5], 1.0f);
  EXPECT_EQ(dense[0 * 6 + 1], 3.0f);
  EXPECT_EQ(dense[5 * 6 + 1], 100000.0f);

  const std::string msg = error_of([&] { read_h5ad(fixture("h5ad/legacy_07.h5ad"), opt); });
  EXPECT_NE(msg.find("raw/X not in"), std::string::npos) << msg;
}

TEST(H5adRead, RawOfAnndataBefore07) {
  H5adReadOptions opt;
  opt.use_raw = true;
  const Dataset ds = read_h5ad(fixture("h5ad/legacy_06.h5ad"), opt);
  ASSERT_EQ(ds.X.n_cols, 6);
  EXPECT_EQ(ds.var.index.back(), "RAWONLY");
  EXPECT_EQ(ds.var.at("gene_ids", "var").strings.back(), "ENSG99");
  const std::vector<float> dense = cellvae::to_dense(ds.X);
  EXPECT_EQ(dense[5 * 6 + 1], 100000.0f);
  EXPECT_EQ(dense[3 * 6 + 5], 1.0f);
}

// ---- partly supported elements ----------------------------------------------------------------

TEST(H5adRead, NullableOrderedAndNumericCategoryColumns) {
  const Dataset ds = read_h5ad(fixture("h5ad/extras.h5ad"));
  expect_fixture_csr(ds.X);
  const auto& count_na = ds.obs.at("count_na");
  EXPECT_EQ(count_na.kind, ColumnKind::number);
  ASSERT_EQ(count_na.numbers.size(), 6u);
  EXPECT_EQ(count_na.numbers[0], 1.0);
  EXPECT_TRUE(std::isnan(count_na.numbers[1]));
  EXPECT_TRUE(std::isnan(count_na.numbers[4]));
  EXPECT_EQ(count_na.numbers[5], 6.0);
  const auto& flag_na = ds.obs.at("flag_na");
  EXPECT_EQ(flag_na.kind, ColumnKind::boolean);
  EXPECT_EQ(flag_na.booleans, (std::vector<std::uint8_t>{1, 0, 0, 1, 0, 0}));
  const auto& grade = ds.obs.at("grade");
  EXPECT_TRUE(grade.ordered);
  EXPECT_EQ(grade.categories, (std::vector<std::string>{"lo", "mid", "hi"}));
  EXPECT_EQ(column_labels(grade), (std::vector<std::string>{"lo", "hi", "mid", "lo", "hi", "mid"}));
  const auto& cluster = ds.obs.at("cluster");
  EXPECT_EQ(cluster.categories, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(column_labels(cluster), (std::vector<std::string>{"2", "1", "2", "3", "1", "2"}));
}

TEST(H5adRead, UnsupportedElementsAreSkippedWithAWarningNamingTheirPath) {
  const Dataset ds = read_h5ad(fixture("h5ad/extras.h5ad"));
  EXPECT_TRUE(contains(ds.warnings, "skipped /obsm/X_sparse: sparse obsm"));
  EXPECT_TRUE(contains(ds.warnings, "skipped /obsm/frame: dataframe obsm"));
  EXPECT_TRUE(contains(ds.warnings, "skipped /uns/params: nested dictionaries"));
  EXPECT_TRUE(contains(ds.warnings, "ignored /obsp (distances)"));
  EXPECT_TRUE(contains(ds.warnings, "/obs/flag_na"));
  EXPECT_EQ(ds.obsm.count("X_sparse"), 0u);
  ASSERT_EQ(ds.obsm.count("X_umap"), 1u);
  EXPECT_EQ(ds.obsm.at("X_umap").values[11], 11.0);
  EXPECT_EQ(std::get<bool>(ds.uns.at("flag")), true);
  EXPECT_EQ(ds.uns.count("params"), 0u);
}

// ---- errors -----------------------------------------------------------------------------------

TEST(H5adReadErrors, MissingFile) {
  const std::string msg = error_of([] { read_h5ad("/nonexistent/x.h5ad"); });
  EXPECT_EQ(msg, "file not found: /nonexistent/x.h5ad");
}

TEST(H5adReadErrors, NotAnHdf5File) {
  ScratchDir dir;
  const fs::path p = dir / "text.h5ad";
  cellvae::testing::write_text(p, "cell,gene\nA,1\n");
  const std::string msg = error_of([&] { read_h5ad(p); });
  EXPECT_EQ(msg, p.string() + " is not a readable HDF5 file (truncated or corrupt?)");
}

TEST(H5adReadErrors, TruncatedFile) {
  ScratchDir dir;
  const fs::path p = dir / "truncated.h5ad";
  fs::copy_file(fixture("h5ad/x_csr.h5ad"), p);
  fs::resize_file(p, fs::file_size(p) / 2);
  const std::string msg = error_of([&] { read_h5ad(p); });
  EXPECT_NE(msg.find("is not a readable HDF5 file (truncated or corrupt?)"), std::string::npos)
      << msg;
}

TEST(H5adReadErrors, MissingXSuggestsLayers) {
  const std::string msg = error_of([] { read_h5ad(fixture("h5ad/no_x.h5ad")); });
  EXPECT_NE(msg.find("X not in"), std::string::npos) << msg;
  EXPECT_NE(msg.find("spliced"), std::string::npos) << msg;
}

TEST(H5adReadErrors, ShapeMismatchBetweenXAndObs) {
  const fs::path p = fixture("h5ad/broken_shape.h5ad");
  const std::string msg = error_of([&] { read_h5ad(p); });
  EXPECT_EQ(msg, "X has 6 rows but obs has 5 entries in " + p.string());
}

TEST(H5adReadErrors, UnsupportedEncoding) {
  const fs::path p = fixture("h5ad/broken_encoding.h5ad");
  const std::string msg = error_of([&] { read_h5ad(p); });
  EXPECT_EQ(msg, "unsupported encoding 'coo_matrix' at /X in " + p.string());
}

TEST(H5adReadErrors, DecreasingIndptr) {
  const fs::path p = fixture("h5ad/broken_indptr.h5ad");
  const std::string msg = error_of([&] { read_h5ad(p); });
  EXPECT_NE(msg.find("/X/indptr must be non-decreasing (row 2)"), std::string::npos) << msg;
  EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
}

TEST(H5adReadErrors, LayerAndRawTogether) {
  H5adReadOptions opt;
  opt.layer = "counts";
  opt.use_raw = true;
  EXPECT_THROW(read_h5ad(fixture("h5ad/x_csr.h5ad"), opt), InputError);
}

TEST(H5adReadErrors, LayerNamesOfAMissingFile) {
  EXPECT_THROW(cellvae::h5ad_layer_names("/nonexistent/x.h5ad"), InputError);
}

// ---- the shared real data sets ----------------------------------------------------------------

struct SharedSet {
  const char* path;
  std::int64_t cells, genes, nnz;
};

class H5adShared : public ::testing::TestWithParam<SharedSet> {};

TEST_P(H5adShared, ShapeAndNonzerosMatchProvenance) {
  const SharedSet s = GetParam();
  CELLVAE_REQUIRE_SHARED(p, s.path);
  const auto t0 = std::chrono::steady_clock::now();
  const Dataset ds = read_h5ad(p);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ read %s: %.3f s ]\n", s.path, secs);
  EXPECT_EQ(ds.n_cells(), s.cells);
  EXPECT_EQ(ds.n_genes(), s.genes);
  EXPECT_EQ(ds.X.nnz(), s.nnz);
  EXPECT_EQ(static_cast<std::int64_t>(ds.obs.n_rows()), s.cells);
  EXPECT_EQ(static_cast<std::int64_t>(ds.var.n_rows()), s.genes);
  EXPECT_NO_THROW(ds.validate());
  EXPECT_TRUE(ds.warnings.empty());
  // uns/dataset holds the data set's folder name.
  EXPECT_EQ(std::get<std::string>(ds.uns.at("dataset")), fs::path(s.path).parent_path().string());
}

INSTANTIATE_TEST_SUITE_P(
    Provenance, H5adShared,
    ::testing::Values(SharedSet{"kang_pbmc/kang_pbmc.h5ad", 12261, 1287, 4266127},
                      SharedSet{"pbmc_small/pbmc_small.h5ad", 80, 230, 4456},
                      SharedSet{"sc_mixology_10x/sc_mixology_10x.h5ad", 895, 894, 375395},
                      SharedSet{"yan/yan.h5ad", 90, 20214, 990543}),
    [](const auto& info) {
      std::string s = fs::path(info.param.path).stem().string();
      for (char& c : s)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return s;
    });

TEST(H5adShared, KangSerialAndParallelReadingAgree) {
  CELLVAE_REQUIRE_SHARED(p, "kang_pbmc/kang_pbmc.h5ad");
  H5adReadOptions serial;
  serial.threads = 1;
  H5adReadOptions parallel;
  parallel.threads = 4;
  const Dataset a = read_h5ad(p, serial);
  const Dataset b = read_h5ad(p, parallel);
  EXPECT_EQ(a.X.indptr, b.X.indptr);
  EXPECT_EQ(a.X.indices, b.X.indices);
  EXPECT_EQ(a.X.data, b.X.data);
}

TEST(H5adShared, KangObsColumns) {
  CELLVAE_REQUIRE_SHARED(p, "kang_pbmc/kang_pbmc.h5ad");
  const Dataset ds = read_h5ad(p);
  EXPECT_EQ(ds.obs.column_names(),
            (std::vector<std::string>{"cell_type", "donor", "tsne1", "tsne2"}));
  EXPECT_EQ(ds.obs.at("cell_type").categories.size(), 8u);
  EXPECT_EQ(ds.obs.at("tsne1").kind, ColumnKind::number);
}

}  // namespace
