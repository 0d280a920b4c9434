// Matrix Market parsing and writing, and the gzip-aware line reader under every text format.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../../src/io/matrix_market.hpp"
#include "../../src/io/text_stream.hpp"
#include "cellvae/error.hpp"
#include "fixture_matrix.hpp"
#include "test_support.hpp"

namespace {

using cellvae::CsrMatrix;
using cellvae::detail::LineReader;
using cellvae::detail::MtxField;
using cellvae::detail::MtxReadOptions;
using cellvae::detail::MtxWriteOptions;
using cellvae::detail::read_matrix_market;
using cellvae::detail::TextWriter;
using cellvae::detail::write_matrix_market;
using cellvae::testing::error_of;
using cellvae::testing::expect_fixture_csr;
using cellvae::testing::fixture;
using cellvae::testing::fixture_csr;
using cellvae::testing::ScratchDir;
using cellvae::testing::write_text;

std::string mtx_error(const ScratchDir& dir, const std::string& text) {
  const auto p = dir / "m.mtx";
  write_text(p, text);
  return error_of([&] { read_matrix_market(p); });
}

void write_gzip(const std::filesystem::path& p, const std::string& text) {
  TextWriter out(p, 6);
  out.write(text);
  out.close();
}

constexpr const char* kHeader = "%%MatrixMarket matrix coordinate integer general\n";

TEST(MtxRead, TenxFixtureTransposedToCellsByGenes) {
  MtxReadOptions options;
  options.transpose = true;
  const auto r = read_matrix_market(fixture("mtx/v3/matrix.mtx.gz"), options);
  expect_fixture_csr(r.matrix);
  EXPECT_EQ(r.field, MtxField::integer);
  EXPECT_EQ(r.file_rows, 5);
  EXPECT_EQ(r.file_cols, 6);
  EXPECT_EQ(r.entries, 12);
  EXPECT_EQ(r.duplicates_summed, 0);
}

TEST(MtxRead, EntriesSortedByGeneAreRegroupedByCell) {
  MtxReadOptions options;
  options.transpose = true;
  expect_fixture_csr(read_matrix_market(fixture("mtx/v2/matrix.mtx"), options).matrix);
}

TEST(MtxRead, RealFieldWithWholeValues) {
  MtxReadOptions options;
  options.transpose = true;
  const auto r = read_matrix_market(fixture("mtx/real/matrix.mtx.gz"), options);
  EXPECT_EQ(r.field, MtxField::real);
  expect_fixture_csr(r.matrix);
}

TEST(MtxRead, WithoutTransposeKeepsFileOrientation) {
  const auto r = read_matrix_market(fixture("mtx/v3/matrix.mtx.gz"));
  EXPECT_EQ(r.matrix.n_rows, 5);
  EXPECT_EQ(r.matrix.n_cols, 6);
  const auto back = cellvae::transpose(r.matrix);
  expect_fixture_csr(back);
}

TEST(MtxRead, PatternCommentsBlankLinesAndCrlf) {
  ScratchDir dir;
  const auto p = dir / "p.mtx";
  write_text(p,
             "%%MatrixMarket Matrix Coordinate Pattern General\r\n"
             "% a comment\r\n"
             "%\r\n"
             "\r\n"
             "  2 3 3\r\n"
             "1 3\r\n"
             "\r\n"
             "2\t1\r\n"
             "  1 1  \r\n");
  const auto r = read_matrix_market(p);
  EXPECT_EQ(r.field, MtxField::pattern);
  EXPECT_EQ(r.matrix.indptr, (std::vector<std::int64_t>{0, 2, 3}));
  EXPECT_EQ(r.matrix.indices, (std::vector<std::int32_t>{0, 2, 0}));
  EXPECT_EQ(r.matrix.data, (std::vector<float>{1, 1, 1}));
}

TEST(MtxRead, DuplicatesSummedAndExplicitZerosDropped) {
  ScratchDir dir;
  const auto p = dir / "d.mtx";
  write_text(p, std::string("%%MatrixMarket matrix coordinate real general\n") +
                    "2 2 5\n"
                    "2 2 1.5\n"
                    "1 2 0\n"
                    "2 1 +2\n"
                    "2 2 2.5e0\n"
                    "1 1 -1\n");
  const auto r = read_matrix_market(p);
  EXPECT_EQ(r.duplicates_summed, 1);
  EXPECT_EQ(r.explicit_zeros, 1);
  EXPECT_EQ(r.matrix.indptr, (std::vector<std::int64_t>{0, 1, 3}));
  EXPECT_EQ(r.matrix.indices, (std::vector<std::int32_t>{0, 0, 1}));
  EXPECT_EQ(r.matrix.data, (std::vector<float>{-1, 2, 4}));
  r.matrix.validate();
}

TEST(MtxRead, EmptyMatrixAndLargeIntegers) {
  ScratchDir dir;
  write_text(dir / "e.mtx", std::string(kHeader) + "3 4 0\n");
  const auto e = read_matrix_market(dir / "e.mtx");
  EXPECT_EQ(e.matrix.n_rows, 3);
  EXPECT_EQ(e.matrix.n_cols, 4);
  EXPECT_EQ(e.matrix.indptr, (std::vector<std::int64_t>{0, 0, 0, 0}));
  write_text(dir / "big.mtx", std::string(kHeader) + "1 2 2\n1 1 16777217\n1 2 16777216\n");
  const auto big = read_matrix_market(dir / "big.mtx");
  EXPECT_EQ(big.inexact_integers, 1);
  EXPECT_EQ(big.matrix.data[1], 16777216.0f);
}

TEST(MtxRead, GzipIsDetectedByContentNotName) {
  ScratchDir dir;
  const std::string text = std::string(kHeader) + "1 1 1\n1 1 4\n";
  write_gzip(dir / "compressed.mtx", text);  // gzip without .gz
  write_text(dir / "plain.mtx.gz", text);    // plain text named .gz
  EXPECT_EQ(read_matrix_market(dir / "compressed.mtx").matrix.data, std::vector<float>{4});
  EXPECT_EQ(read_matrix_market(dir / "plain.mtx.gz").matrix.data, std::vector<float>{4});
}

TEST(MtxReadErrors, MissingEmptyAndFolder) {
  ScratchDir dir;
  auto msg = error_of([&] { read_matrix_market(dir / "nope.mtx"); });
  EXPECT_NE(msg.find("nope.mtx"), std::string::npos) << msg;
  EXPECT_NE(msg.find("No such file"), std::string::npos) << msg;
  msg = mtx_error(dir, "");
  EXPECT_NE(msg.find("is empty"), std::string::npos) << msg;
  msg = error_of([&] { read_matrix_market(dir.path()); });
  EXPECT_NE(msg.find("is a folder"), std::string::npos) << msg;
}

TEST(MtxReadErrors, MalformedHeader) {
  ScratchDir dir;
  auto msg = mtx_error(dir, "gene cell value\n1 1 1\n");
  EXPECT_NE(msg.find("m.mtx line 1: not a Matrix Market file"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'gene cell value'"), std::string::npos) << msg;
  msg = mtx_error(dir, "%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n");
  EXPECT_NE(msg.find("line 1: dense 'array'"), std::string::npos) << msg;
  msg = mtx_error(dir, "%%MatrixMarket matrix coordinate real symmetric\n1 1 1\n1 1 1\n");
  EXPECT_NE(msg.find("unsupported symmetry 'symmetric'"), std::string::npos) << msg;
  msg = mtx_error(dir, "%%MatrixMarket matrix coordinate complex general\n1 1 1\n1 1 1 0\n");
  EXPECT_NE(msg.find("unsupported value type 'complex'"), std::string::npos) << msg;
  msg = mtx_error(dir, "%%MatrixMarket matrix coordinate\n1 1 1\n1 1 1\n");
  EXPECT_NE(msg.find("expected a header of 5 words"), std::string::npos) << msg;
  msg = mtx_error(dir, "%%MatrixMarket vector coordinate real general\n1 1 1\n1 1 1\n");
  EXPECT_NE(msg.find("unsupported object 'vector'"), std::string::npos) << msg;
}

TEST(MtxReadErrors, MalformedSizeLine) {
  ScratchDir dir;
  auto msg = mtx_error(dir, std::string(kHeader) + "% only comments\n");
  EXPECT_NE(msg.find("without the size line"), std::string::npos) << msg;
  msg = mtx_error(dir, std::string(kHeader) + "5 6\n");
  EXPECT_NE(msg.find("m.mtx line 2: expected the size line"), std::string::npos) << msg;
  EXPECT_NE(msg.find("got '5 6'"), std::string::npos) << msg;
  msg = mtx_error(dir, std::string(kHeader) + "2 -2 1\n1 1 1\n");
  EXPECT_NE(msg.find("negative"), std::string::npos) << msg;
  msg = mtx_error(dir, std::string(kHeader) + "3000000000 2 1\n1 1 1\n");
  EXPECT_NE(msg.find("exceeds the limit"), std::string::npos) << msg;
}

TEST(MtxReadErrors, IndexOutOfRange) {
  ScratchDir dir;
  auto msg = mtx_error(dir, std::string(kHeader) + "5 6 2\n1 1 1\n0 2 1\n");
  EXPECT_NE(msg.find("m.mtx line 4: row index 0 is outside 1..5"), std::string::npos) << msg;
  msg = mtx_error(dir, std::string(kHeader) + "5 6 2\n1 1 1\n2 7 1\n");
  EXPECT_NE(msg.find("m.mtx line 4: column index 7 is outside 1..6"), std::string::npos) << msg;
  msg = mtx_error(dir, std::string(kHeader) + "5 6 1\n6 1 1\n");
  EXPECT_NE(msg.find("row index 6 is outside 1..5"), std::string::npos) << msg;
}

TEST(MtxReadErrors, WrongEntryCount) {
  ScratchDir dir;
  auto msg = mtx_error(dir, std::string(kHeader) + "5 6 3\n1 1 1\n2 2 1\n");
  EXPECT_NE(msg.find("after 2 of the 3 entries declared on line 2"), std::string::npos) << msg;
  msg = mtx_error(dir, std::string(kHeader) + "5 6 1\n1 1 1\n2 2 1\n");
  EXPECT_NE(msg.find("m.mtx line 4: more entries than the 1 declared on line 2"), std::string::npos)
      << msg;
}

TEST(MtxReadErrors, NonNumericEntries) {
  ScratchDir dir;
  auto msg = mtx_error(dir, std::string(kHeader) + "%\n5 6 2\n1 1 1\nx 2\n");
  EXPECT_NE(msg.find("m.mtx line 5: expected 'row column value' (3 numbers), got 'x 2'"),
            std::string::npos)
      << msg;
  msg = mtx_error(dir, std::string(kHeader) + "5 6 1\n1 2\n");
  EXPECT_NE(msg.find("line 3: expected 'row column value' (3 numbers), got '1 2'"),
            std::string::npos)
      << msg;
  msg = mtx_error(dir, std::string(kHeader) + "5 6 1\n1 2 1.5\n");
  EXPECT_NE(msg.find("line 3: value '1.5' is not a whole number"), std::string::npos) << msg;
  msg = mtx_error(dir, "%%MatrixMarket matrix coordinate real general\n5 6 1\n1 2 abc\n");
  EXPECT_NE(msg.find("line 3: value 'abc' is not a number"), std::string::npos) << msg;
  msg = mtx_error(dir, "%%MatrixMarket matrix coordinate real general\n5 6 1\n1 2 nan\n");
  EXPECT_NE(msg.find("line 3: value 'nan' is not finite"), std::string::npos) << msg;
  msg = mtx_error(dir, "%%MatrixMarket matrix coordinate real general\n5 6 1\n1 2 1e300\n");
  EXPECT_NE(msg.find("beyond the float32 range"), std::string::npos) << msg;
  msg = mtx_error(dir, std::string(kHeader) + "5 6 1\n1 2 3 4\n");
  EXPECT_NE(msg.find("got '1 2 3 4'"), std::string::npos) << msg;
  msg = mtx_error(dir, "%%MatrixMarket matrix coordinate pattern general\n5 6 1\n1 2 3\n");
  EXPECT_NE(msg.find("expected 'row column' (2 numbers), got '1 2 3'"), std::string::npos) << msg;
}

// A gzip file of many lines, cut or damaged in the middle of its compressed stream.
std::string big_mtx_text() {
  std::string text = std::string(kHeader) + "1000 1000 100000\n";
  for (int k = 0; k < 100000; ++k) {
    text += std::to_string(k % 1000 + 1) + " " + std::to_string(k / 100 + 1) + " " +
            std::to_string(k * 7919 % 1000 + 1) + "\n";
  }
  return text;
}

TEST(MtxReadErrors, TruncatedGzip) {
  ScratchDir dir;
  const auto whole = dir / "whole.mtx.gz";
  write_gzip(whole, big_mtx_text());
  EXPECT_EQ(read_matrix_market(whole).entries, 100000);
  const std::string bytes = cellvae::testing::read_text(whole);
  const auto cut = dir / "cut.mtx.gz";
  write_text(cut, bytes.substr(0, bytes.size() / 2));
  const auto msg = error_of([&] { read_matrix_market(cut); });
  EXPECT_NE(msg.find("cut.mtx.gz: gzip data ends early"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  // Only the 8-byte trailer missing: all text arrives, but the end was never confirmed.
  write_text(cut, bytes.substr(0, bytes.size() - 8));
  EXPECT_NE(error_of([&] { read_matrix_market(cut); }).find("truncated"), std::string::npos);
}

TEST(MtxReadErrors, CorruptGzip) {
  ScratchDir dir;
  const auto whole = dir / "whole.mtx.gz";
  write_gzip(whole, big_mtx_text());
  std::string bytes = cellvae::testing::read_text(whole);
  for (std::size_t i = bytes.size() / 3; i < bytes.size() / 3 + 64; ++i) bytes[i] = '\xff';
  const auto bad = dir / "bad.mtx.gz";
  write_text(bad, bytes);
  const auto msg = error_of([&] { read_matrix_market(bad); });
  EXPECT_NE(msg.find("bad.mtx.gz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("corrupt gzip data"), std::string::npos) << msg;
}

TEST(MtxWrite, IntegerRoundTripBothOrientations) {
  ScratchDir dir;
  const CsrMatrix m = fixture_csr();
  MtxWriteOptions options;
  write_matrix_market(m, dir / "a.mtx", options);
  const std::string text = cellvae::testing::read_text(dir / "a.mtx");
  EXPECT_EQ(text.rfind("%%MatrixMarket matrix coordinate integer general\n", 0), 0u) << text;
  EXPECT_NE(text.find("\n6 5 12\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\n6 2 100000\n"), std::string::npos) << text;
  expect_fixture_csr(read_matrix_market(dir / "a.mtx").matrix);

  options.transpose = true;
  options.gzip_level = 6;
  options.comment = "line one\nline two";
  write_matrix_market(m, dir / "t.mtx.gz", options);
  MtxReadOptions read_options;
  read_options.transpose = true;
  const auto r = read_matrix_market(dir / "t.mtx.gz", read_options);
  EXPECT_EQ(r.file_rows, 5);
  EXPECT_EQ(r.file_cols, 6);
  expect_fixture_csr(r.matrix);
}

TEST(MtxWrite, RealValuesRoundTripExactly) {
  ScratchDir dir;
  CsrMatrix m;
  m.n_rows = 2;
  m.n_cols = 4;
  m.indptr = {0, 3, 4};
  m.indices = {0, 1, 3, 2};
  m.data = {0.1f, 1.0f / 3.0f, 1e-30f, -std::numeric_limits<float>::max()};
  write_matrix_market(m, dir / "r.mtx", {});
  const std::string text = cellvae::testing::read_text(dir / "r.mtx");
  EXPECT_EQ(text.rfind("%%MatrixMarket matrix coordinate real general\n", 0), 0u) << text;
  EXPECT_NE(text.find("1 1 0.1\n"), std::string::npos) << text;
  const auto r = read_matrix_market(dir / "r.mtx");
  EXPECT_EQ(r.field, MtxField::real);
  EXPECT_EQ(r.matrix.indptr, m.indptr);
  EXPECT_EQ(r.matrix.indices, m.indices);
  EXPECT_EQ(r.matrix.data, m.data);  // bit-identical float32
}

TEST(MtxWrite, RejectsNonFiniteValues) {
  ScratchDir dir;
  CsrMatrix m;
  m.n_rows = 1;
  m.n_cols = 2;
  m.indptr = {0, 1};
  m.indices = {1};
  m.data = {std::numeric_limits<float>::quiet_NaN()};
  const auto msg = error_of([&] { write_matrix_market(m, dir / "n.mtx", {}); });
  EXPECT_NE(msg.find("row 1, column 2 is NaN"), std::string::npos) << msg;
  EXPECT_FALSE(std::filesystem::exists(dir / "n.mtx"));
}

TEST(MtxWrite, UnwritablePath) {
  ScratchDir dir;
  const auto msg =
      error_of([&] { write_matrix_market(fixture_csr(), dir / "no" / "such" / "x.mtx", {}); });
  EXPECT_NE(msg.find("cannot write"), std::string::npos) << msg;
}

TEST(MtxTextStream, LongLinesFinalLineWithoutNewlineAndCrlf) {
  ScratchDir dir;
  const std::string long_line(9 << 20, 'a');  // longer than the 4 MiB read buffer
  write_text(dir / "l.txt", "first\r\n" + long_line + "\nlast");
  for (const bool gz : {false, true}) {
    auto p = dir / "l.txt";
    if (gz) {
      p = dir / "l.txt.gz";
      write_gzip(p, cellvae::testing::read_text(dir / "l.txt"));
    }
    LineReader in(p);
    EXPECT_EQ(in.gzipped(), gz);
    std::string_view line;
    ASSERT_TRUE(in.next(line));
    EXPECT_EQ(line, "first");
    ASSERT_TRUE(in.next(line));
    EXPECT_EQ(line.size(), long_line.size());
    ASSERT_TRUE(in.next(line));
    EXPECT_EQ(line, "last");
    EXPECT_EQ(in.line_number(), 3);
    EXPECT_FALSE(in.next(line));
  }
}

TEST(MtxTextStream, ValueFormatting) {
  std::string s;
  cellvae::detail::append_value(s, 100000.0f);
  s += ' ';
  cellvae::detail::append_value(s, -3.0f);
  s += ' ';
  cellvae::detail::append_value(s, 0.1f);
  s += ' ';
  cellvae::detail::append_value(s, 1e20f);
  s += ' ';
  cellvae::detail::append_value(s, std::numeric_limits<float>::quiet_NaN());
  s += ' ';
  cellvae::detail::append_value(s, -std::numeric_limits<float>::infinity());
  EXPECT_EQ(s, "100000 -3 0.1 100000002004087734272 NaN -Inf");
}

}  // namespace
