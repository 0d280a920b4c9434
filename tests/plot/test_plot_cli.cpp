// `cellvae plot history|qc|embedding` end to end: every format, pictures that are not blank,
// and errors that name the file, column or choice.
#include <gtest/gtest.h>

#include "png_check.hpp"
#include "test_support.hpp"

namespace cvt = cellvae::testing;
namespace fs = std::filesystem;

namespace {
using cellvae::testing::contains;
using cellvae::testing::quoted;

/// Simulated cells, a model fitted on them (with validation cells and early stopping
/// settings left at their defaults) and generated cells: made once for the file.
struct Inputs {
  cvt::ScratchDir dir;
  fs::path data = dir / "sim.h5ad";
  fs::path model = dir / "model";
  fs::path generated = dir / "gen.h5ad";
  Inputs() {
    auto r = cvt::run_cellvae("simulate -o " + quoted(data) +
                              " --cells 400 --genes 60 --groups 3 --batches 2 --seed 3");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    r = cvt::run_cellvae("fit " + quoted(data) + " -o " + quoted(model) +
                         " --label-key group --batch-key batch --epochs 12 --threads 1 --quiet");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    r = cvt::run_cellvae("generate " + quoted(model) + " -n 300 -o " + quoted(generated) + " --seed 4");
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
};

const Inputs& inputs() {
  static Inputs in;
  return in;
}

/// Runs a plot command writing `out`, expects success, a file of the right format and, for
/// PNG, ink in every one of the rows x cols panels.
void expect_picture(const std::string& command, const fs::path& out, int rows, int cols) {
  auto r = cvt::run_cellvae(command + " -o " + quoted(out));
  ASSERT_EQ(r.exit_code, 0) << command << "\n" << r.output;
  ASSERT_TRUE(fs::exists(out)) << out;
  EXPECT_GT(fs::file_size(out), 1000u) << out;
  const std::string ext = out.extension().string().substr(1);
  EXPECT_TRUE(cvt::has_magic(out, ext)) << out;
  for (const auto& e : fs::directory_iterator(out.parent_path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  if (ext != "png") return;
  cvt::DecodedPng png(out);
  ASSERT_TRUE(png.ok()) << out;
  EXPECT_GT(png.distinct_colors(), 100u) << out;
  EXPECT_GT(png.min_ink_per_panel(rows, cols), 400u) << out;
}
}  // namespace

class PlotFormats : public ::testing::TestWithParam<const char*> {};

TEST_P(PlotFormats, HistoryQcAndEmbedding) {
  const Inputs& in = inputs();
  cvt::ScratchDir dir;
  const std::string ext = GetParam();
  expect_picture("plot history " + quoted(in.model), dir / ("history." + ext), 1, 3);
  expect_picture("plot qc " + quoted(in.data) + " " + quoted(in.generated), dir / ("qc." + ext), 2, 2);
  expect_picture("plot embedding " + quoted(in.data) + " " + quoted(in.generated) + " --method pca",
                 dir / ("embedding." + ext), 1, 1);
}

INSTANTIATE_TEST_SUITE_P(Extensions, PlotFormats, ::testing::Values("png", "svg", "pdf"));

TEST(CliPlot, EmbeddingColoursByCategoricalAndNumericColumns) {
  const Inputs& in = inputs();
  cvt::ScratchDir dir;
  // 'group' is in both sets (generate writes the label under the model's label key or as
  // 'label'); a column in one set only still plots, with the others drawn as missing.
  expect_picture("plot embedding " + quoted(in.data) + " " + quoted(in.generated) + " --color-by group",
                 dir / "group.png", 1, 1);
  expect_picture("plot embedding " + quoted(in.data) + " --color-by batch", dir / "batch.png", 1, 1);
}

TEST(CliPlot, ExistingOutputIsKeptWithoutForce) {
  const Inputs& in = inputs();
  cvt::ScratchDir dir;
  const auto out = dir / "h.png";
  cvt::write_text(out, "keep me");
  auto r = cvt::run_cellvae("plot history " + quoted(in.model) + " -o " + quoted(out));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--force")) << r.output;
  EXPECT_EQ(cvt::read_text(out), "keep me");
  r = cvt::run_cellvae("plot history " + quoted(in.model) + " -o " + quoted(out) + " --force");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(cvt::has_magic(out, "png"));
}

TEST(CliPlot, BadInputExitsTwoNamingIt) {
  const Inputs& in = inputs();
  cvt::ScratchDir dir;
  auto r = cvt::run_cellvae("plot embedding " + quoted(in.data) + " " + quoted(in.generated) +
                            " --color-by no_such_column -o " + quoted(dir / "e.png"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "no_such_column")) << r.output;

  r = cvt::run_cellvae("plot history " + quoted(in.model) + " -o " + quoted(dir / "h.jpg"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "png, svg, pdf")) << r.output;

  r = cvt::run_cellvae("plot history " + quoted(dir.path()) + " -o " + quoted(dir / "h.png"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "history.json")) << r.output;

  r = cvt::run_cellvae("plot qc " + quoted(in.data) + " " + quoted(dir / "missing.h5ad") + " -o " +
                       quoted(dir / "q.png"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "missing.h5ad")) << r.output;

  for (const char* m : {"umap", "tsne"}) {
    r = cvt::run_cellvae("plot embedding " + quoted(in.data) + " --method " + m + " -o " +
                         quoted(dir / "e.png"));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_TRUE(contains(r.output, "only pca")) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir / "e.png"));
  EXPECT_FALSE(fs::exists(dir / "q.png"));
  EXPECT_FALSE(fs::exists(dir / "h.png"));
}

TEST(CliPlot, KangPbmcQcAndEmbedding) {
  CELLVAE_REQUIRE_SHARED(kang, "kang_pbmc/kang_pbmc.h5ad");
  cvt::ScratchDir dir;
  // Real against itself: the overlays must coincide, and the pictures must still render.
  expect_picture("plot qc " + quoted(kang) + " " + quoted(kang), dir / "qc.png", 2, 2);
  expect_picture("plot embedding " + quoted(kang) + " --color-by cell_type --threads 2",
                 dir / "cell_type.png", 1, 1);
  expect_picture("plot embedding " + quoted(kang) + " --color-by tsne1 --threads 2",
                 dir / "tsne1.pdf", 1, 1);
}
