// Dense CSV/TSV tables: fixtures written by pandas in R's and pandas' styles, quoting, missing
// values, round trips and every error branch.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "cellvae/delimited.hpp"
#include "cellvae/error.hpp"
#include "cellvae/io.hpp"
#include "fixture_matrix.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using cellvae::Dataset;
using cellvae::DelimitedOptions;
using cellvae::read_delimited;
using cellvae::write_delimited;
using cellvae::testing::error_of;
using cellvae::testing::expect_fixture_matrix;
using cellvae::testing::fixture;
using cellvae::testing::fixture_dataset;
using cellvae::testing::read_text;
using cellvae::testing::ScratchDir;
using cellvae::testing::write_text;

const DelimitedOptions kCsv{',', false};
const DelimitedOptions kTsv{'\t', false};
const DelimitedOptions kTsvGenesAsRows{'\t', true};

std::string csv_error(const ScratchDir& dir, const std::string& text,
                      const DelimitedOptions& options = kCsv) {
  const auto p = dir / "t.csv";
  write_text(p, text);
  return error_of([&] { read_delimited(p, options); });
}

Dataset read_csv_text(const ScratchDir& dir, const std::string& text,
                      const DelimitedOptions& options = kCsv) {
  const auto p = dir / "t.csv";
  write_text(p, text);
  return read_delimited(p, options);
}

TEST(DelimitedRead, RWriteCsvStyle) {
  const Dataset ds = read_delimited(fixture("csv/cells_by_genes.csv"), kCsv);
  expect_fixture_matrix(ds);
  EXPECT_EQ(ds.source, fixture("csv/cells_by_genes.csv").string());
}

TEST(DelimitedRead, RWriteTableGenesAsRowsWithoutCornerCell) {
  expect_fixture_matrix(read_delimited(fixture("csv/genes_by_cells.tsv"), kTsvGenesAsRows));
}

TEST(DelimitedRead, PandasGzipTsvWithDecimalValues) {
  expect_fixture_matrix(read_delimited(fixture("csv/cells_by_genes.tsv.gz"), kTsv));
}

TEST(DelimitedRead, QuotingEscapesAndLineBreaksInNames) {
  ScratchDir dir;
  const Dataset ds = read_csv_text(dir,
                                   "\xEF\xBB\xBFgene,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n"
                                   "\"c1\",1,0,2\r\n"
                                   "\r\n"
                                   "c\"2,0, 3 ,\"4\"\r\n");
  EXPECT_EQ(ds.var.index, (std::vector<std::string>{"a,b", "say \"hi\"", "two\nlines"}));
  EXPECT_EQ(ds.obs.index, (std::vector<std::string>{"c1", "c\"2"}));
  EXPECT_EQ(ds.X.indptr, (std::vector<std::int64_t>{0, 2, 4}));
  EXPECT_EQ(ds.X.indices, (std::vector<std::int32_t>{0, 2, 1, 2}));
  EXPECT_EQ(ds.X.data, (std::vector<float>{1, 2, 3, 4}));
}

TEST(DelimitedRead, NumberForms) {
  ScratchDir dir;
  const Dataset ds = read_csv_text(dir, ",a,b,c,d,e,f\nr,1e3,+2,-0.5,.25,1E-2,0.0\n");
  EXPECT_EQ(ds.X.data, (std::vector<float>{1000, 2, -0.5f, 0.25f, 0.01f}));
  EXPECT_EQ(ds.X.indices, (std::vector<std::int32_t>{0, 1, 2, 3, 4}));
}

TEST(DelimitedRead, MissingAndInfiniteBecomeValuesForCheckCounts) {
  ScratchDir dir;
  const Dataset ds = read_csv_text(dir, ",a,b,c,d,e,f\nr,NA,NaN,,Inf,-inf,nan\n");
  ASSERT_EQ(ds.X.data.size(), 6u);
  EXPECT_TRUE(std::isnan(ds.X.data[0]));
  EXPECT_TRUE(std::isnan(ds.X.data[1]));
  EXPECT_TRUE(std::isnan(ds.X.data[2]));
  EXPECT_EQ(ds.X.data[3], std::numeric_limits<float>::infinity());
  EXPECT_EQ(ds.X.data[4], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(ds.X.data[5]));
}

TEST(DelimitedRead, HeaderOnlyAndNoGenes) {
  ScratchDir dir;
  const Dataset ds = read_csv_text(dir, ",a,b\n");
  EXPECT_EQ(ds.X.n_rows, 0);
  EXPECT_EQ(ds.var.index, (std::vector<std::string>{"a", "b"}));
  const Dataset names_only = read_csv_text(dir, "cell\nx\ny\n");
  EXPECT_EQ(names_only.X.n_rows, 2);
  EXPECT_EQ(names_only.X.n_cols, 0);
  EXPECT_EQ(names_only.obs.index, (std::vector<std::string>{"x", "y"}));
}

TEST(DelimitedReadErrors, EmptyAndMissingFile) {
  ScratchDir dir;
  auto msg = csv_error(dir, "");
  EXPECT_NE(msg.find("t.csv is empty"), std::string::npos) << msg;
  msg = csv_error(dir, "\n\n");
  EXPECT_NE(msg.find("t.csv is empty"), std::string::npos) << msg;
  msg = error_of([&] { read_delimited(dir / "absent.csv", kCsv); });
  EXPECT_NE(msg.find("absent.csv"), std::string::npos) << msg;
}

TEST(DelimitedReadErrors, RaggedRows) {
  ScratchDir dir;
  auto msg = csv_error(dir, ",a,b\nr1,1,2\nr2,1\nr3,1,2\n");
  EXPECT_NE(msg.find("t.csv line 3: 2 fields, expected 3 (a row name and 2 values) like line 2"),
            std::string::npos)
      << msg;
  msg = csv_error(dir, ",a,b\nr1,1,2\nr2,1,2,3\n");
  EXPECT_NE(msg.find("t.csv line 3: 4 fields, expected 3"), std::string::npos) << msg;
  msg = csv_error(dir, ",a,b\nr1,1,2,3,4\n");
  EXPECT_NE(msg.find("t.csv line 2: 5 fields, but the header (line 1) has 3"), std::string::npos)
      << msg;
}

TEST(DelimitedReadErrors, NonNumericValueNamesLineAndColumn) {
  ScratchDir dir;
  auto msg = csv_error(dir, ",CD3E,MS4A1\nc1,1,2\nc2,3,abc\n");
  EXPECT_NE(msg.find("t.csv line 3: column 3 ('MS4A1'): 'abc' is not a number"), std::string::npos)
      << msg;
  msg = csv_error(dir, ",a\nc1,1x\n");
  EXPECT_NE(msg.find("line 2: column 2 ('a'): '1x' is not a number"), std::string::npos) << msg;
  // With TSV, a comma-separated file is one field per line: the values are not numbers.
  msg = csv_error(dir, "\tg\nc1\t1,5\n", kTsv);
  EXPECT_NE(msg.find("'1,5' is not a number"), std::string::npos) << msg;
}

TEST(DelimitedReadErrors, BrokenQuotes) {
  ScratchDir dir;
  auto msg = csv_error(dir, ",a\n\"c1,1\n");
  EXPECT_NE(msg.find("t.csv line 2: a quoted field opened on this line never closes"),
            std::string::npos)
      << msg;
  msg = csv_error(dir, ",a\n\"c1\"x,1\n");
  EXPECT_NE(msg.find("line 2: unexpected text after the closing quote of field 1"),
            std::string::npos)
      << msg;
}

TEST(DelimitedReadErrors, InvalidSeparator) {
  ScratchDir dir;
  const auto msg = csv_error(dir, ",a\nc,1\n", DelimitedOptions{'"', false});
  EXPECT_NE(msg.find("invalid separator"), std::string::npos) << msg;
}

TEST(DelimitedReadErrors, TruncatedGzip) {
  ScratchDir dir;
  const std::string bytes = read_text(fixture("csv/cells_by_genes.tsv.gz"));
  write_text(dir / "cut.tsv.gz", bytes.substr(0, bytes.size() - 12));
  const auto msg = error_of([&] { read_delimited(dir / "cut.tsv.gz", kTsv); });
  EXPECT_NE(msg.find("cut.tsv.gz"), std::string::npos) << msg;
  EXPECT_TRUE(msg.find("truncated") != std::string::npos ||
              msg.find("corrupt gzip") != std::string::npos)
      << msg;
}

TEST(DelimitedWrite, ExactTextQuotingOnlyWhenNeeded) {
  ScratchDir dir;
  Dataset ds;
  ds.X.n_rows = 2;
  ds.X.n_cols = 3;
  ds.X.indptr = {0, 2, 3};
  ds.X.indices = {0, 2, 1};
  ds.X.data = {100000, 0.1f, -2};
  ds.obs.index = {"c,1", "c\"2"};
  ds.var.index = {"g1", "g 2", "g\t3"};
  write_delimited(ds, dir / "o.csv", kCsv);
  EXPECT_EQ(read_text(dir / "o.csv"),
            ",g1,g 2,g\t3\n"
            "\"c,1\",100000,0,0.1\n"
            "\"c\"\"2\",0,-2,0\n");
  write_delimited(ds, dir / "o.tsv", kTsv);
  EXPECT_EQ(read_text(dir / "o.tsv"),
            "\tg1\tg 2\t\"g\t3\"\n"
            "c,1\t100000\t0\t0.1\n"
            "\"c\"\"2\"\t0\t-2\t0\n");
  const Dataset back = read_delimited(dir / "o.csv", kCsv);
  EXPECT_EQ(back.obs.index, ds.obs.index);
  EXPECT_EQ(back.var.index, ds.var.index);
  EXPECT_EQ(back.X.data, ds.X.data);
}

TEST(DelimitedWrite, RoundTripsAllOrientationsAndCompression) {
  ScratchDir dir;
  const Dataset ds = fixture_dataset();
  for (const char* name : {"a.csv", "a.tsv", "a.csv.gz", "a.tsv.gz"}) {
    for (const bool genes_as_rows : {false, true}) {
      const std::string file(name);
      const DelimitedOptions options{file.find(".tsv") != std::string::npos ? '\t' : ',',
                                     genes_as_rows};
      write_delimited(ds, dir / name, options);
      const std::string bytes = read_text(dir / name);
      const bool gz = file.size() > 3 && file.substr(file.size() - 3) == ".gz";
      EXPECT_EQ(bytes.size() >= 2 && bytes[0] == '\x1f' && bytes[1] == '\x8b', gz) << name;
      SCOPED_TRACE(std::string(name) + (genes_as_rows ? " genes as rows" : ""));
      expect_fixture_matrix(read_delimited(dir / name, options));
    }
  }
  write_delimited(ds, dir / "g.tsv", kTsvGenesAsRows);
  EXPECT_EQ(read_text(dir / "g.tsv")
                .rfind("\tAAAC-1\tAAAG-1\tAACT-1\tAAGT-1\tACGT-1\tACTG-1\nCD3E\t0\t5\t", 0),
            0u);
}

TEST(DelimitedWrite, WriteDatasetCompressesGzTargets) {
  // write_dataset writes through a temporary name that hides ".gz"; it must still compress.
  ScratchDir dir;
  write_dataset(fixture_dataset(), dir / "out.csv.gz");
  const std::string bytes = read_text(dir / "out.csv.gz");
  EXPECT_TRUE(bytes.size() >= 2 && bytes[0] == '\x1f' && bytes[1] == '\x8b');
  write_dataset(fixture_dataset(), dir / "plain.csv");
  EXPECT_EQ(read_text(dir / "plain.csv").rfind(",CD3E", 0), 0u);
}

TEST(DelimitedWrite, RealValuesRoundTripBitExactly) {
  ScratchDir dir;
  Dataset ds = fixture_dataset();
  ds.X.data = {0.1f,  1.0f / 3.0f, 1e-30f, 3.4e38f, 123456.78f,  -7.25f,
               1e-7f, 2.5f,        0.3f,   1e10f,   16777217.0f, 6.02e23f};
  write_delimited(ds, dir / "r.csv", kCsv);
  const Dataset back = read_delimited(dir / "r.csv", kCsv);
  EXPECT_EQ(back.X.data, ds.X.data);
  EXPECT_EQ(back.X.indices, ds.X.indices);
}

TEST(DelimitedWrite, NonFiniteValuesAreWrittenAsRReadsThem) {
  ScratchDir dir;
  Dataset ds = fixture_dataset();
  ds.X.data[0] = std::numeric_limits<float>::quiet_NaN();
  ds.X.data[1] = -std::numeric_limits<float>::infinity();
  write_delimited(ds, dir / "n.csv", kCsv);
  EXPECT_NE(read_text(dir / "n.csv").find("AAAC-1,0,NaN,0,-Inf,0\n"), std::string::npos);
  const Dataset back = read_delimited(dir / "n.csv", kCsv);
  EXPECT_TRUE(std::isnan(back.X.data[0]));
  EXPECT_EQ(back.X.data[1], -std::numeric_limits<float>::infinity());
}

TEST(DelimitedWrite, UnwritablePath) {
  ScratchDir dir;
  const auto msg =
      error_of([&] { write_delimited(fixture_dataset(), dir / "no" / "x.csv", kCsv); });
  EXPECT_NE(msg.find("cannot write"), std::string::npos) << msg;
}

}  // namespace
