// The command line: exit codes, messages that name the flag or file, and that every option has
// an observable effect.
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace cvt = cellvae::testing;
namespace fs = std::filesystem;

namespace {
using cellvae::testing::contains;
using cellvae::testing::quoted;
}  // namespace

TEST(Cli, VersionAndHelp) {
  auto r = cvt::run_cellvae("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.output, "cellvae 0.1.0")) << r.output;
  EXPECT_TRUE(contains(r.output, "LibTorch")) << r.output;
  r = cvt::run_cellvae("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* sub : {"info", "convert", "simulate"}) EXPECT_TRUE(contains(r.output, sub));
  r = cvt::run_cellvae("convert --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.output, "--genes-as-rows"));
}

TEST(Cli, UsageErrorsExitTwoAndNameTheFlag) {
  auto r = cvt::run_cellvae("");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = cvt::run_cellvae("info x.h5ad --bogus");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "--bogus")) << r.output;
  r = cvt::run_cellvae("simulate -o x.h5ad --cells 0");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "--cells")) << r.output;
  r = cvt::run_cellvae("simulate --cells 10");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "--output")) << r.output;
}

TEST(Cli, MissingFileExitsTwo) {
  auto r = cvt::run_cellvae("info /nonexistent/data.h5ad");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "file not found: /nonexistent/data.h5ad")) << r.output;
}

TEST(Cli, SimulateThenInfo) {
  cvt::ScratchDir dir;
  const auto sim = dir / "sim.h5ad";
  auto r = cvt::run_cellvae("simulate -o " + quoted(sim) +
                            " --cells 300 --genes 120 --groups 3 --batches 2 --seed 5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = cvt::run_cellvae("info " + quoted(sim));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "cells       300")) << r.output;
  EXPECT_TRUE(contains(r.output, "genes       120")) << r.output;
  EXPECT_TRUE(contains(r.output, "integers (counts)")) << r.output;
  EXPECT_TRUE(contains(r.output, "group")) << r.output;
  EXPECT_TRUE(contains(r.output, "3 categories")) << r.output;
  r = cvt::run_cellvae("info --json " + quoted(sim));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "\"cells\": 300")) << r.output;
}

TEST(Cli, EverySimulateOptionChangesTheOutput) {
  cvt::ScratchDir dir;
  const std::string base = " --cells 60 --genes 30";
  auto make = [&](const std::string& name, const std::string& extra) {
    const auto p = dir / (name + ".csv");
    const auto r = cvt::run_cellvae("simulate -o " + quoted(p) + base + extra);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return cvt::read_text(p);
  };
  const std::string defaults = " --groups 2 --seed 1 --batches 2";
  const std::string reference = make("ref", defaults);
  EXPECT_EQ(reference, make("same", defaults));
  int i = 0;
  for (const std::string changed :
       {" --groups 2 --seed 2 --batches 2", " --groups 2 --seed 1 --batches 2 --library-median 300",
        " --groups 2 --seed 1 --batches 2 --de-fraction 0.5", " --groups 2 --seed 1 --batches 3",
        " --groups 2 --seed 1 --batches 2 --batch-sd 1.0", " --groups 3 --seed 1 --batches 2"}) {
    EXPECT_NE(reference, make("x" + std::to_string(i++), changed)) << changed;
  }
}

TEST(Cli, ConvertRoundTripThroughCsvAndTenx) {
  cvt::ScratchDir dir;
  const auto sim = dir / "sim.h5ad";
  ASSERT_EQ(cvt::run_cellvae("simulate -o " + quoted(sim) + " --cells 80 --genes 40").exit_code, 0);
  auto r = cvt::run_cellvae("convert " + quoted(sim) + " " + quoted(dir / "t.csv") + " --genes-as-rows");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = cvt::run_cellvae("convert " + quoted(dir / "t.csv") + " " + quoted(dir / "tenx") + " --transpose");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = cvt::run_cellvae("convert " + quoted(dir / "tenx") + " " + quoted(dir / "back.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = cvt::run_cellvae("convert " + quoted(sim) + " " + quoted(dir / "direct.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(cvt::read_text(dir / "back.csv"), cvt::read_text(dir / "direct.csv"));
}

TEST(Cli, FailedConvertLeavesExistingOutputUntouched) {
  cvt::ScratchDir dir;
  cvt::write_text(dir / "out.csv", "precious");
  cvt::write_text(dir / "bad.csv", ",g1,g2\nc1,1,2\nc2,3\n");  // ragged row
  auto r = cvt::run_cellvae("convert " + quoted(dir / "bad.csv") + " " + quoted(dir / "out.csv"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "bad.csv")) << r.output;
  EXPECT_EQ(cvt::read_text(dir / "out.csv"), "precious");
  // Nothing else was left behind (no temporary files).
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2);
  r = cvt::run_cellvae("convert " + quoted(dir / "out.csv") + " " + quoted(dir / "no/such/dir/x.h5ad"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

TEST(Cli, InfoReportsNonCountValues) {
  cvt::ScratchDir dir;
  cvt::write_text(dir / "neg.csv", ",g1,g2\nc1,1,-2\nc2,0.5,3\n");
  const auto r = cvt::run_cellvae("info " + quoted(dir / "neg.csv"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "non-integer")) << r.output;
  EXPECT_TRUE(contains(r.output, "NEGATIVE")) << r.output;
}

TEST(Cli, LayerOnlyAppliesToH5ad) {
  cvt::ScratchDir dir;
  cvt::write_text(dir / "x.csv", ",g1\nc1,1\n");
  const auto r = cvt::run_cellvae("info --layer counts " + quoted(dir / "x.csv"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "--layer")) << r.output;
}

TEST(Cli, DuplicateNamesAreMadeUniqueWithAWarning) {
  cvt::ScratchDir dir;
  cvt::write_text(dir / "dup.csv", ",g1,g1,g2\nc1,1,2,0\nc2,0,3,4\n");
  const auto r = cvt::run_cellvae("info " + quoted(dir / "dup.csv"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "warning: 1 duplicate gene names made unique")) << r.output;
  ASSERT_EQ(cvt::run_cellvae("convert " + quoted(dir / "dup.csv") + " " + quoted(dir / "u.csv")).exit_code,
            0);
  EXPECT_EQ(cvt::read_text(dir / "u.csv").substr(0, 12), ",g1,g1-1,g2\n");
}

TEST(Cli, PreprocessRejectsNonCountsUnlessAllowed) {
  cvt::ScratchDir dir;
  cvt::write_text(dir / "frac.csv", ",g1,g2\nc1,1,2.5\nc2,3,4\n");
  auto r = cvt::run_cellvae("preprocess " + quoted(dir / "frac.csv") + " -o " + quoted(dir / "o.h5ad"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "non-integer value 2.5 at cell 'c1'")) << r.output;
  EXPECT_FALSE(fs::exists(dir / "o.h5ad"));
  r = cvt::run_cellvae("preprocess " + quoted(dir / "frac.csv") + " -o " + quoted(dir / "o.h5ad") +
                       " --allow-non-integer");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "o.h5ad"));
  cvt::write_text(dir / "neg.csv", ",g1,g2\nc1,1,2\nc2,-3,4\n");
  r = cvt::run_cellvae("preprocess " + quoted(dir / "neg.csv") + " -o " + quoted(dir / "n.h5ad") +
                       " --allow-non-integer");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "negative value -3 at cell 'c2'")) << r.output;
  cvt::write_text(dir / "nan.csv", ",g1,g2\nc1,1,NA\nc2,3,4\n");
  r = cvt::run_cellvae("preprocess " + quoted(dir / "nan.csv") + " -o " + quoted(dir / "n.h5ad"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "non-finite value nan")) << r.output;
}

TEST(Cli, PreprocessSelectsGenesAndWritesState) {
  cvt::ScratchDir dir;
  const auto sim = dir / "sim.h5ad";
  ASSERT_EQ(cvt::run_cellvae("simulate -o " + quoted(sim) + " --cells 300 --genes 200 --batches 2")
                .exit_code, 0);
  auto r = cvt::run_cellvae("preprocess " + quoted(sim) + " -o " + quoted(dir / "p.h5ad") + " --state " +
                            quoted(dir / "state.json") +
                            " --n-top-genes 50 --batch-key batch --label-key group");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "50 of 200 genes")) << r.output;
  const std::string state = cvt::read_text(dir / "state.json");
  EXPECT_TRUE(contains(state, "\"batch\"")) << state.substr(0, 400);
  EXPECT_TRUE(contains(state, "\"group1\"")) << state.substr(0, 400);
  r = cvt::run_cellvae("info " + quoted(dir / "p.h5ad"));
  EXPECT_TRUE(contains(r.output, "genes       50")) << r.output;
  // A wrong column name is a usage error that lists the available columns.
  r = cvt::run_cellvae("preprocess " + quoted(sim) + " -o " + quoted(dir / "p2.h5ad") +
                       " --batch-key donor");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "'donor'")) << r.output;
  EXPECT_TRUE(contains(r.output, "group, batch, library_size")) << r.output;
  EXPECT_FALSE(fs::exists(dir / "p2.h5ad"));
}
