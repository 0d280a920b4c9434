// 10x matrix folders: the fixtures written by scipy/pandas, round trips, every error branch and
// the shared real data sets.
#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "cellvae/error.hpp"
#include "cellvae/tenx.hpp"
#include "fixture_matrix.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using cellvae::Dataset;
using cellvae::InputError;
using cellvae::read_10x_mtx;
using cellvae::write_10x_mtx;
using cellvae::testing::error_of;
using cellvae::testing::expect_fixture_matrix;
using cellvae::testing::fixture;
using cellvae::testing::fixture_dataset;
using cellvae::testing::kFixtureCells;
using cellvae::testing::kFixtureGeneIds;
using cellvae::testing::kFixtureGenes;
using cellvae::testing::ScratchDir;
using cellvae::testing::write_text;

// The labels of column `name` of `df`, or none when it has no such column.
std::vector<std::string> column_text(const cellvae::DataFrame& df, const char* name) {
  const cellvae::Column* c = df.find(name);
  return c ? cellvae::testing::column_labels(*c) : std::vector<std::string>{};
}

// Copies a fixture folder into scratch space so that a test can break one file.
fs::path copy_fixture(const ScratchDir& dir, const std::string& name,
                      const std::string& prefix = "") {
  const fs::path out = dir / name;
  fs::create_directories(out);
  for (const auto& e : fs::directory_iterator(fixture("mtx/" + name))) {
    fs::copy_file(e.path(), out / (prefix + e.path().filename().string()));
  }
  return out;
}

bool starts_with_gzip_magic(const fs::path& p) {
  const std::string bytes = cellvae::testing::read_text(p);
  return bytes.size() >= 2 && bytes[0] == '\x1f' && bytes[1] == '\x8b';
}

std::vector<std::string> read_gz_lines(const fs::path& p) {
  gzFile f = gzopen(p.c_str(), "rb");
  std::vector<std::string> lines;
  if (!f) return lines;
  std::string text;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  gzclose(f);
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t stop = text.find('\n', start);
    if (stop == std::string::npos) stop = text.size();
    lines.push_back(text.substr(start, stop - start));
    start = stop + 1;
  }
  return lines;
}

TEST(TenxMtxRead, V3Folder) {
  const Dataset ds = read_10x_mtx(fixture("mtx/v3"));
  expect_fixture_matrix(ds);
  EXPECT_EQ(column_text(ds.var, "gene_ids"), kFixtureGeneIds);
  EXPECT_EQ(column_text(ds.var, "feature_types"), std::vector<std::string>(5, "Gene Expression"));
  EXPECT_EQ(ds.source, fixture("mtx/v3").string());
  EXPECT_TRUE(ds.warnings.empty());
}

TEST(TenxMtxRead, V2FolderPlainTextGenesTsv) {
  const Dataset ds = read_10x_mtx(fixture("mtx/v2"));
  expect_fixture_matrix(ds);
  EXPECT_EQ(column_text(ds.var, "gene_ids"), kFixtureGeneIds);
  EXPECT_EQ(ds.var.find("feature_types"), nullptr);
}

TEST(TenxMtxRead, RealFieldAndFractionalValues) {
  expect_fixture_matrix(read_10x_mtx(fixture("mtx/real")));
  expect_fixture_matrix(read_10x_mtx(fixture("mtx/fractional")), /*with_gene_ids=*/false,
                        /*scale=*/1.0f / 8.0f);
}

TEST(TenxMtxRead, GeoPrefixedFileNames) {
  ScratchDir dir;
  const fs::path folder = copy_fixture(dir, "v3", "GSM123_");
  expect_fixture_matrix(read_10x_mtx(folder));
}

TEST(TenxMtxRead, SingleColumnGenesFile) {
  ScratchDir dir;
  const fs::path folder = copy_fixture(dir, "v2");
  std::string genes;
  for (const auto& g : kFixtureGenes) genes += g + "\n";
  write_text(folder / "genes.tsv", genes + "\n\n");  // trailing blank lines are ignored
  const Dataset ds = read_10x_mtx(folder);
  expect_fixture_matrix(ds);
  EXPECT_EQ(ds.var.find("gene_ids"), nullptr);
}

TEST(TenxMtxRead, DuplicateEntriesSummedWithWarning) {
  ScratchDir dir;
  const fs::path folder = copy_fixture(dir, "v2");
  write_text(folder / "matrix.mtx",
             "%%MatrixMarket matrix coordinate integer general\n5 6 2\n1 1 2\n1 1 3\n");
  const Dataset ds = read_10x_mtx(folder);
  EXPECT_EQ(ds.X.data, std::vector<float>{5});
  ASSERT_EQ(ds.warnings.size(), 1u);
  EXPECT_NE(ds.warnings[0].find("1 entries repeat"), std::string::npos) << ds.warnings[0];
}

TEST(TenxMtxReadErrors, MissingFolderOrNotAFolder) {
  ScratchDir dir;
  auto msg = error_of([&] { read_10x_mtx(dir / "absent"); });
  EXPECT_NE(msg.find("absent does not exist"), std::string::npos) << msg;
  write_text(dir / "file.txt", "x");
  msg = error_of([&] { read_10x_mtx(dir / "file.txt"); });
  EXPECT_NE(msg.find("is not a folder"), std::string::npos) << msg;
  fs::create_directories(dir / "empty");
  msg = error_of([&] { read_10x_mtx(dir / "empty"); });
  EXPECT_NE(msg.find("has no matrix.mtx.gz or matrix.mtx; the folder is empty"), std::string::npos)
      << msg;
}

TEST(TenxMtxReadErrors, MissingFilesListFolderContents) {
  ScratchDir dir;
  const fs::path folder = copy_fixture(dir, "v3");
  fs::remove(folder / "matrix.mtx.gz");
  fs::create_directories(folder / "sub");
  auto msg = error_of([&] { read_10x_mtx(folder); });
  EXPECT_NE(msg.find("has no matrix.mtx.gz or matrix.mtx; it contains: barcodes.tsv.gz, "
                     "features.tsv.gz, sub/"),
            std::string::npos)
      << msg;

  const fs::path f2 = copy_fixture(dir, "v2");
  fs::remove(f2 / "genes.tsv");
  msg = error_of([&] { read_10x_mtx(f2); });
  EXPECT_NE(msg.find("has no features.tsv.gz, features.tsv or genes.tsv; it contains: "
                     "barcodes.tsv, matrix.mtx"),
            std::string::npos)
      << msg;

  const fs::path f3 = dir / "f3";
  fs::create_directories(f3);
  fs::copy_file(fixture("mtx/v3/matrix.mtx.gz"), f3 / "matrix.mtx.gz");
  fs::copy_file(fixture("mtx/v3/features.tsv.gz"), f3 / "features.tsv.gz");
  msg = error_of([&] { read_10x_mtx(f3); });
  EXPECT_NE(msg.find("has no barcodes.tsv.gz or barcodes.tsv; it contains: features.tsv.gz, "
                     "matrix.mtx.gz"),
            std::string::npos)
      << msg;
}

TEST(TenxMtxReadErrors, SeveralPrefixes) {
  ScratchDir dir;
  const fs::path folder = copy_fixture(dir, "v3", "A_");
  fs::copy_file(fixture("mtx/v3/matrix.mtx.gz"), folder / "B_matrix.mtx.gz");
  const auto msg = error_of([&] { read_10x_mtx(folder); });
  EXPECT_NE(msg.find("several matrix files with different prefixes (A_, B_)"), std::string::npos)
      << msg;
}

TEST(TenxMtxReadErrors, FeatureAndBarcodeCountsMustMatchMatrix) {
  ScratchDir dir;
  const fs::path folder = copy_fixture(dir, "v2");
  write_text(folder / "genes.tsv", "ENSG01\tCD3E\nENSG02\tMS4A1\n");
  auto msg = error_of([&] { read_10x_mtx(folder); });
  EXPECT_NE(msg.find("matrix.mtx has 5 rows (genes) but " + (folder / "genes.tsv").string() +
                     " lists 2 genes"),
            std::string::npos)
      << msg;

  const fs::path f2 = copy_fixture(dir, "v3");
  fs::remove(f2 / "barcodes.tsv.gz");
  write_text(f2 / "barcodes.tsv", "A\nB\nC\nD\nE\nF\nG\n");
  msg = error_of([&] { read_10x_mtx(f2); });
  EXPECT_NE(msg.find("matrix.mtx.gz has 6 columns (cells) but " + (f2 / "barcodes.tsv").string() +
                     " lists 7 barcodes"),
            std::string::npos)
      << msg;
}

TEST(TenxMtxReadErrors, MalformedListFiles) {
  ScratchDir dir;
  const fs::path folder = copy_fixture(dir, "v2");
  write_text(folder / "genes.tsv", "E1\tA\nE2\tB\nE3\nE4\tD\nE5\tE\n");
  auto msg = error_of([&] { read_10x_mtx(folder); });
  EXPECT_NE(msg.find("genes.tsv line 3: expected 2 tab-separated fields like the first line, "
                     "got 1: 'E3'"),
            std::string::npos)
      << msg;
  write_text(folder / "genes.tsv", "E1\tA\nE2\tB\n\nE4\tD\nE5\tE\n");
  msg = error_of([&] { read_10x_mtx(folder); });
  EXPECT_NE(msg.find("genes.tsv line 3: empty line inside the list"), std::string::npos) << msg;
}

TEST(TenxMtxReadErrors, MatrixErrorsNameTheFile) {
  ScratchDir dir;
  const fs::path folder = copy_fixture(dir, "v2");
  write_text(folder / "matrix.mtx",
             "%%MatrixMarket matrix coordinate integer general\n5 6 1\n1 7 1\n");
  const auto msg = error_of([&] { read_10x_mtx(folder); });
  EXPECT_NE(msg.find((folder / "matrix.mtx").string() + " line 3: column index 7 is outside 1..6"),
            std::string::npos)
      << msg;
}

TEST(TenxMtxReadErrors, TruncatedGzipMatrix) {
  ScratchDir dir;
  const fs::path folder = copy_fixture(dir, "v3");
  const std::string bytes = cellvae::testing::read_text(folder / "matrix.mtx.gz");
  write_text(folder / "matrix.mtx.gz", bytes.substr(0, bytes.size() - 20));
  const auto msg = error_of([&] { read_10x_mtx(folder); });
  EXPECT_NE(msg.find("matrix.mtx.gz"), std::string::npos) << msg;
  EXPECT_TRUE(msg.find("truncated") != std::string::npos ||
              msg.find("corrupt gzip") != std::string::npos)
      << msg;
}

TEST(TenxMtxWrite, IntegerRoundTripWithVarColumns) {
  ScratchDir dir;
  const Dataset original = read_10x_mtx(fixture("mtx/v3"));
  const fs::path out = dir / "nested" / "out";  // created, parents included
  write_10x_mtx(original, out);
  for (const char* name : {"matrix.mtx.gz", "features.tsv.gz", "barcodes.tsv.gz"}) {
    EXPECT_TRUE(starts_with_gzip_magic(out / name)) << name;
  }
  const auto mtx = read_gz_lines(out / "matrix.mtx.gz");
  ASSERT_GE(mtx.size(), 3u);
  EXPECT_EQ(mtx[0], "%%MatrixMarket matrix coordinate integer general");
  const auto features = read_gz_lines(out / "features.tsv.gz");
  ASSERT_EQ(features.size(), 5u);
  EXPECT_EQ(features[0], "ENSG01\tCD3E\tGene Expression");
  EXPECT_EQ(read_gz_lines(out / "barcodes.tsv.gz"), kFixtureCells);

  const Dataset back = read_10x_mtx(out);
  expect_fixture_matrix(back);
  EXPECT_EQ(column_text(back.var, "gene_ids"), kFixtureGeneIds);
  EXPECT_EQ(column_text(back.var, "feature_types"), column_text(original.var, "feature_types"));
}

TEST(TenxMtxWrite, RealValuesAndDefaultFeatureColumns) {
  ScratchDir dir;
  Dataset ds = fixture_dataset();
  ds.X.data[0] = 0.1f;
  ds.X.data[11] = 1.0f / 3.0f;
  write_10x_mtx(ds, dir / "real");
  EXPECT_EQ(read_gz_lines(dir / "real" / "matrix.mtx.gz")[0],
            "%%MatrixMarket matrix coordinate real general");
  EXPECT_EQ(read_gz_lines(dir / "real" / "features.tsv.gz")[1], "MS4A1\tMS4A1\tGene Expression");
  const Dataset back = read_10x_mtx(dir / "real");
  EXPECT_EQ(back.X.indptr, ds.X.indptr);
  EXPECT_EQ(back.X.indices, ds.X.indices);
  EXPECT_EQ(back.X.data, ds.X.data);  // bit-identical float32
  EXPECT_EQ(column_text(back.var, "gene_ids"), kFixtureGenes);
}

TEST(TenxMtxWrite, RejectsNamesThatBreakTsv) {
  ScratchDir dir;
  Dataset ds = fixture_dataset();
  ds.obs.index[2] = "bad\tname";
  auto msg = error_of([&] { write_10x_mtx(ds, dir / "o"); });
  EXPECT_NE(msg.find("cell name 3 ('bad\tname') contains a tab or line break"), std::string::npos)
      << msg;
  ds = fixture_dataset();
  ds.var.index[0] = "two\nlines";
  msg = error_of([&] { write_10x_mtx(ds, dir / "o"); });
  EXPECT_NE(msg.find("gene name 1"), std::string::npos) << msg;
}

TEST(TenxMtxWrite, RejectsInconsistentDataset) {
  ScratchDir dir;
  Dataset ds = fixture_dataset();
  ds.obs.index.pop_back();
  EXPECT_THROW(write_10x_mtx(ds, dir / "o"), InputError);
}

struct SharedSet {
  const char* name;
  std::int64_t cells;
  std::int64_t genes;
  std::int64_t nnz;
};

class TenxMtxShared : public ::testing::TestWithParam<SharedSet> {};

TEST_P(TenxMtxShared, OpensWithProvenanceShape) {
  const SharedSet s = GetParam();
  CELLVAE_REQUIRE_SHARED(dir, std::string(s.name) + "/mtx");
  const auto start = std::chrono::steady_clock::now();
  const Dataset ds = read_10x_mtx(dir);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ timing   ] read_10x_mtx(" << s.name << "): " << seconds << " s\n";
  RecordProperty("read_seconds", std::to_string(seconds));
  EXPECT_EQ(ds.n_cells(), s.cells);
  EXPECT_EQ(ds.n_genes(), s.genes);
  EXPECT_EQ(ds.X.nnz(), s.nnz);
  EXPECT_EQ(ds.obs.n_rows(), static_cast<std::size_t>(s.cells));
  EXPECT_EQ(ds.var.n_rows(), static_cast<std::size_t>(s.genes));
  EXPECT_NO_THROW(ds.validate());
  EXPECT_TRUE(ds.warnings.empty());
}

INSTANTIATE_TEST_SUITE_P(Sets, TenxMtxShared,
                         ::testing::Values(SharedSet{"kang_pbmc", 12261, 1287, 4266127},
                                           SharedSet{"pbmc_small", 80, 230, 4456},
                                           SharedSet{"sc_mixology_10x", 895, 894, 375395},
                                           SharedSet{"yan", 90, 20214, 990543}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(TenxMtxSharedKang, CellNamesAndTotals) {
  CELLVAE_REQUIRE_SHARED(dir, "kang_pbmc/mtx");
  const Dataset ds = read_10x_mtx(dir);
  EXPECT_EQ(ds.obs.index, read_gz_lines(dir / "barcodes.tsv.gz"));
  EXPECT_EQ(ds.obs.index.front(), "AAACATACATTTCC-1");
  EXPECT_EQ(ds.var.index.front(), "ISG15");
  EXPECT_EQ(column_text(ds.var, "gene_ids").front(), "ENSG00000187608");
  double total = 0;
  for (float v : ds.X.data) total += v;
  EXPECT_NEAR(total, 1.53349e7, 1e2);  // PROVENANCE.md: sum of all values 1.53349e+07
  // The first entry of the file, "2 1 1": gene 2 (AURKAIP1) in cell 1.
  ASSERT_GT(ds.X.indptr[1], 0);
  EXPECT_EQ(ds.X.indices[0], 1);
  EXPECT_EQ(ds.X.data[0], 1.0f);
}

TEST(TenxMtxSharedKang, WriteReadRoundTrip) {
  CELLVAE_REQUIRE_SHARED(dir, "kang_pbmc/mtx");
  ScratchDir scratch;
  const Dataset ds = read_10x_mtx(dir);
  const auto start = std::chrono::steady_clock::now();
  write_10x_mtx(ds, scratch / "kang");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ timing   ] write_10x_mtx(kang_pbmc): " << seconds << " s\n";
  const Dataset back = read_10x_mtx(scratch / "kang");
  EXPECT_EQ(back.X.indptr, ds.X.indptr);
  EXPECT_EQ(back.X.indices, ds.X.indices);
  EXPECT_EQ(back.X.data, ds.X.data);
  EXPECT_EQ(back.obs.index, ds.obs.index);
  EXPECT_EQ(back.var.index, ds.var.index);
  EXPECT_EQ(column_text(back.var, "gene_ids"), column_text(ds.var, "gene_ids"));
}

TEST(TenxMtxSharedYan, RealValuesAreFinite) {
  CELLVAE_REQUIRE_SHARED(dir, "yan/mtx");
  const Dataset ds = read_10x_mtx(dir);
  EXPECT_EQ(ds.X.data.front(), 1219.9f);  // the file's first entry, "2 1 1.219900e+03"
  for (float v : ds.X.data) ASSERT_TRUE(std::isfinite(v));
}

}  // namespace
