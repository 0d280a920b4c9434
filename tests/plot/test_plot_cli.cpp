// `cellvae plot history|qc|embedding|architecture` end to end: every format, pictures that are
// not blank, and errors that name the file, column or choice.
#include <gtest/gtest.h>

#include <regex>

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
  expect_picture("plot embedding " + quoted(in.data) + " " + quoted(in.generated) +
                     " --color-by origin --shape-by group",
                 dir / ("shapes." + ext), 1, 1);
  for (const char* method : {"umap", "tsne"})
    expect_picture("plot embedding " + quoted(in.data) + " " + quoted(in.generated) +
                       " --method " + method + " --shape-by group",
                   dir / (std::string(method) + "." + ext), 1, 1);
  expect_picture("plot architecture " + quoted(in.model), dir / ("architecture." + ext), 1, 1);
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

  r = cvt::run_cellvae("plot embedding " + quoted(in.data) + " --method mds -o " +
                       quoted(dir / "e.png"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "pca, umap, tsne")) << r.output;
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
  expect_picture("plot embedding " + quoted(kang) + " --method umap --color-by cell_type "
                 "--threads 2", dir / "umap.png", 1, 1);
}

TEST(CliPlot, ShapeByUnknownOrNumericColumnExitsTwoNamingIt) {
  const Inputs& in = inputs();
  cvt::ScratchDir dir;
  auto r = cvt::run_cellvae("plot embedding " + quoted(in.data) + " " + quoted(in.generated) +
                            " --shape-by no_such_column -o " + quoted(dir / "e.png"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--shape-by")) << r.output;
  EXPECT_TRUE(contains(r.output, "no_such_column")) << r.output;
  EXPECT_FALSE(fs::exists(dir / "e.png"));
}

// ---- plot architecture -----------------------------------------------------------------------

namespace {
/// Runs cellvae with environment assignments ("NAME='value'") before it.
cvt::CommandResult run_with_env(const std::string& env, const std::string& args) {
  std::string cmd = env + " \"" + std::string(CELLVAE_BINARY) + "\" " + args + " 2>&1";
  cvt::CommandResult result;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return result;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) result.output.append(buf, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

/// Pixels of a PNG within 2 of 0xRRGGBB in every channel.
std::size_t pixels_of(const fs::path& png_path, std::uint32_t rgb) {
  cvt::DecodedPng png(png_path);
  std::size_t n = 0;
  for (int y = 0; y < png.height(); ++y)
    for (int x = 0; x < png.width(); ++x) {
      const std::uint32_t p = png.pixel(x, y);
      bool near = true;
      for (int shift : {16, 8, 0})
        near = near && std::abs(static_cast<int>((p >> shift) & 0xff) -
                                static_cast<int>((rgb >> shift) & 0xff)) <= 2;
      n += near;
    }
  return n;
}
}  // namespace

TEST(CliPlotArchitecture, DotTextShowsTheFittedModelsLayersAndCovariates) {
  const Inputs& in = inputs();
  cvt::ScratchDir dir;
  const auto out = dir / "arch.dot";
  auto r = cvt::run_cellvae("plot architecture " + quoted(in.model) + " -o " + quoted(out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string dot = cvt::read_text(out);
  EXPECT_TRUE(contains(dot, "digraph")) << dot;
  // The default fit is scVI's: labels in encoder and decoder, batches in the decoder. Quotes
  // are escaped as HTML entities, which Graphviz draws as quotes.
  EXPECT_TRUE(contains(dot, "labels &#39;group&#39;")) << dot;
  EXPECT_TRUE(contains(dot, "batches &#39;batch&#39;")) << dot;
  EXPECT_TRUE(std::regex_search(
      dot, std::regex("Linear [0-9]+\\+3→128 · BatchNorm · ReLU · Dropout 0\\.1")))
      << dot;
  EXPECT_TRUE(contains(dot, "Linear 10+5→128 · BatchNorm · ReLU")) << dot;
  EXPECT_TRUE(contains(dot, "ZINB")) << dot;
  EXPECT_TRUE(contains(dot, "model · scvi preset")) << dot;  // the default title

  r = cvt::run_cellvae("plot architecture " + quoted(in.model) + " -o " + quoted(out) +
                       " --force --title '' --rankdir lr");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(contains(cvt::read_text(out), "labelloc"));
  EXPECT_TRUE(contains(cvt::read_text(out), "rankdir=LR"));
}

TEST(CliPlotArchitecture, ColorsAndRankdirChangeThePicture) {
  const Inputs& in = inputs();
  cvt::ScratchDir dir;
  const auto plain = dir / "plain.png", blue = dir / "blue.png", wide = dir / "wide.png";
  auto r = cvt::run_cellvae("plot architecture " + quoted(in.model) + " -o " + quoted(plain));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = cvt::run_cellvae("plot architecture " + quoted(in.model) + " -o " + quoted(blue) +
                       " --colors 'encoder=#0000FF, decoder=#00FF00'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(cvt::read_text(plain), cvt::read_text(blue));
  EXPECT_GT(pixels_of(plain, 0xFF6347), 2000u);  // tomato encoder by default
  EXPECT_EQ(pixels_of(plain, 0x0000FF), 0u);
  EXPECT_GT(pixels_of(blue, 0x0000FF), 2000u);
  EXPECT_GT(pixels_of(blue, 0x00FF00), 2000u);
  EXPECT_EQ(pixels_of(blue, 0xFF6347), 0u);
  r = cvt::run_cellvae("plot architecture " + quoted(in.model) + " -o " + quoted(wide) +
                       " --rankdir LR");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  cvt::DecodedPng tall_png(plain), wide_png(wide);
  EXPECT_GT(tall_png.height(), tall_png.width());
  EXPECT_GT(wide_png.width(), wide_png.height());
}

TEST(CliPlotArchitecture, BadOptionsExitTwoNamingThem) {
  const Inputs& in = inputs();
  cvt::ScratchDir dir;
  const auto out = dir / "a.png";
  const std::string base = "plot architecture " + quoted(in.model) + " -o " + quoted(out);
  struct Case {
    std::string flags, named;
  };
  for (const Case& c :
       {Case{" --colors encodr=#000000", "encodr"}, Case{" --colors encoder=blue", "blue"},
        Case{" --colors 'decoder=#12'", "#12"}, Case{" --rankdir XY", "--rankdir"}}) {
    auto r = cvt::run_cellvae(base + c.flags);
    EXPECT_EQ(r.exit_code, 2) << c.flags << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, c.named)) << c.flags << "\n" << r.output;
  }
  auto r = cvt::run_cellvae("plot architecture " + quoted(dir.path()) + " -o " + quoted(out));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "model.json")) << r.output;
  r = cvt::run_cellvae("plot architecture " + quoted(in.model) + " -o " + quoted(dir / "a.jpg"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "png, svg, pdf")) << r.output;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(dir / "a.jpg"));
}

TEST(CliPlotArchitecture, NeedsNoWeightsNorGraphvizsPluginConfiguration) {
  const Inputs& in = inputs();
  cvt::ScratchDir dir;
  // model.json and preprocess.json are all it reads.
  const auto model = dir / "bare_model";
  fs::create_directories(model);
  fs::copy_file(in.model / "model.json", model / "model.json");
  fs::copy_file(in.model / "preprocess.json", model / "preprocess.json");
  // GVBINDIR pointing at an empty folder: Graphviz finds no plugin configuration, as where
  // Debian's postinst never ran; the plugins are then loaded directly.
  const auto empty = dir / "no_plugins";
  fs::create_directories(empty);
  for (const char* ext : {"svg", "png", "pdf"}) {
    const auto out = dir / (std::string("a.") + ext);
    auto r = run_with_env("GVBINDIR=" + quoted(empty),
                          "plot architecture " + quoted(model) + " -o " + quoted(out));
    ASSERT_EQ(r.exit_code, 0) << ext << "\n" << r.output;
    EXPECT_TRUE(cvt::has_magic(out, ext)) << ext;
    EXPECT_GT(fs::file_size(out), 2000u) << ext;
  }
  cvt::DecodedPng png(dir / "a.png");
  ASSERT_TRUE(png.ok());
  EXPECT_GT(png.distinct_colors(), 100u);
  EXPECT_GT(pixels_of(dir / "a.png", 0xFF6347), 2000u);
}
