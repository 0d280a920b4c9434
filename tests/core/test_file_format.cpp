#include <gtest/gtest.h>

#include "cellvae/error.hpp"
#include "cellvae/file_format.hpp"
#include "test_support.hpp"

using namespace cellvae;
namespace cvt = cellvae::testing;

TEST(FileFormat, NamesRoundTrip) {
  for (auto f : {FileFormat::h5ad, FileFormat::tenx_h5, FileFormat::tenx_mtx, FileFormat::csv,
                 FileFormat::tsv})
    EXPECT_EQ(parse_file_format(to_string(f)), f);
  try {
    parse_file_format("loom");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "unknown format 'loom'; known: h5ad, 10x-h5, 10x-mtx, csv, tsv");
  }
}

TEST(FileFormat, OutputFromExtension) {
  EXPECT_EQ(detect_output_format("a/b.h5ad"), FileFormat::h5ad);
  EXPECT_EQ(detect_output_format("b.CSV"), FileFormat::csv);
  EXPECT_EQ(detect_output_format("b.tsv.gz"), FileFormat::tsv);
  EXPECT_EQ(detect_output_format("filtered_feature_bc_matrix"), FileFormat::tenx_mtx);
  EXPECT_EQ(detect_output_format("out/"), FileFormat::tenx_mtx);
  EXPECT_THROW(detect_output_format("x.loom"), InputError);
}

TEST(FileFormat, InputDetection) {
  cvt::ScratchDir dir;
  EXPECT_THROW(detect_input_format(dir / "missing.h5ad"), InputError);
  EXPECT_EQ(detect_input_format(dir.path()), FileFormat::tenx_mtx);
  cvt::write_text(dir / "x.csv.gz", "");
  EXPECT_EQ(detect_input_format(dir / "x.csv.gz"), FileFormat::csv);
  cvt::write_text(dir / "x.rds", "");
  EXPECT_THROW(detect_input_format(dir / "x.rds"), InputError);
}
