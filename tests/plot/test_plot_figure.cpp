// The figure layer: ticks and labels, formats by extension, and rendered files that show what
// was drawn.
#include <gtest/gtest.h>

#include <cmath>

#include "cellvae/error.hpp"
#include "cellvae/plot/figure.hpp"
#include "cellvae/plot/plots.hpp"
#include "png_check.hpp"
#include "test_support.hpp"

namespace cvt = cellvae::testing;
namespace cp = cellvae::plot;
using V = std::vector<double>;

namespace {
void expect_ticks(const V& got, const V& want) {
  ASSERT_EQ(got.size(), want.size()) << ::testing::PrintToString(got);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_DOUBLE_EQ(got[i], want[i]) << i;
}
}  // namespace

TEST(NiceTicks, StepsOfOneTwoOrFiveTimesAPowerOfTen) {
  expect_ticks(cp::nice_ticks(0, 1), {0, 0.2, 0.4, 0.6, 0.8, 1});
  expect_ticks(cp::nice_ticks(0, 100), {0, 20, 40, 60, 80, 100});
  expect_ticks(cp::nice_ticks(-3, 7), {-2, 0, 2, 4, 6});
  expect_ticks(cp::nice_ticks(1234, 1250), {1235, 1240, 1245, 1250});
  expect_ticks(cp::nice_ticks(0.0013, 0.0061, 4), {0.002, 0.004, 0.006});
  expect_ticks(cp::nice_ticks(0.05, 0.35, 3), {0.1, 0.2, 0.3});  // 0.1 * 3 prints as 0.3
  EXPECT_EQ(cp::format_tick(cp::nice_ticks(0.05, 0.35, 3)[2], 0.1), "0.3");
  // A single value widens to an interval around it.
  const V one = cp::nice_ticks(5, 5);
  EXPECT_GE(one.size(), 2u);
  EXPECT_LE(one.front(), 5);
  EXPECT_GE(one.back(), 5);
  EXPECT_THROW(cp::nice_ticks(1, 0), std::invalid_argument);
  EXPECT_THROW(cp::nice_ticks(0, NAN), std::invalid_argument);
}

TEST(NiceTicks, LogAxesUseDecadesOrOneTwoFive) {
  expect_ticks(cp::log_ticks(0.5, 2000), {1, 10, 100, 1000});
  expect_ticks(cp::log_ticks(200, 5000), {200, 500, 1000, 2000, 5000});
  // Many decades: every second one.
  expect_ticks(cp::log_ticks(1e-6, 1e6, 8), {1e-6, 1e-4, 1e-2, 1, 1e2, 1e4, 1e6});
}

TEST(NiceTicks, LabelsAreReadable) {
  EXPECT_EQ(cp::format_tick(0, 0.2), "0");
  EXPECT_EQ(cp::format_tick(0.25, 0.05), "0.25");
  EXPECT_EQ(cp::format_tick(1200, 200), "1200");
  EXPECT_EQ(cp::format_tick(2.5e6, 5e5), "2.5e+06");
  EXPECT_EQ(cp::format_log_tick(1000), "10³");
  EXPECT_EQ(cp::format_log_tick(0.01), "10⁻²");
  EXPECT_EQ(cp::format_log_tick(1), "1");
  EXPECT_EQ(cp::format_log_tick(500), "500");
}

TEST(ImageFormat, ByExtensionListingTheChoices) {
  EXPECT_EQ(cp::image_format_for("a/b.png"), cp::ImageFormat::png);
  EXPECT_EQ(cp::image_format_for("b.SVG"), cp::ImageFormat::svg);
  EXPECT_EQ(cp::image_format_for("b.pdf"), cp::ImageFormat::pdf);
  const std::string msg = cvt::error_of([] { cp::image_format_for("plot.jpg"); });
  EXPECT_NE(msg.find("plot.jpg"), std::string::npos) << msg;
  EXPECT_NE(msg.find("png, svg, pdf"), std::string::npos) << msg;
}

namespace {
cp::Figure sample_figure() {
  cp::Figure fig(1, 2, 300, 240);
  fig.set_title("Sample");
  cp::Axes& a = fig.axes(0, 0);
  a.set_title("Lines");
  a.set_xlabel("x");
  a.set_ylabel("y");
  V x, y1, y2;
  for (int i = 0; i <= 50; ++i) {
    x.push_back(i);
    y1.push_back(std::sin(i / 8.0));
    y2.push_back(std::cos(i / 8.0));
  }
  a.line(x, y1, {cp::category_color(0)}, "sin");
  a.line(x, y2, {cp::category_color(1), 1.5, cp::Dash::dashed}, "cos");
  a.vline(20, {cp::rgb(0x444444), 1, cp::Dash::dotted}, "here");
  cp::Axes& b = fig.axes(0, 1);
  b.set_title("Histogram");
  b.set_xscale(cp::Scale::log10);
  V values;
  for (int i = 1; i <= 500; ++i) values.push_back(std::pow(10.0, 1 + 3.0 * ((i * 37) % 500) / 500));
  b.histogram(values, cp::log_edges(10, 1e4, 30), {cp::category_color(2)}, "counts");
  return fig;
}
}  // namespace

TEST(Figure, WritesEachFormatWithItsSignature) {
  cvt::ScratchDir dir;
  const cp::Figure fig = sample_figure();
  for (const char* ext : {"png", "svg", "pdf"}) {
    const auto path = dir / (std::string("f.") + ext);
    fig.save(path, cp::image_format_for(path));
    ASSERT_TRUE(std::filesystem::exists(path)) << ext;
    EXPECT_GT(std::filesystem::file_size(path), 1000u) << ext;
    EXPECT_TRUE(cvt::has_magic(path, ext)) << ext;
  }
}

TEST(Figure, PngShowsEveryPanel) {
  cvt::ScratchDir dir;
  const cp::Figure fig = sample_figure();
  const auto path = dir / "f.png";
  fig.save(path, cp::ImageFormat::png);
  cvt::DecodedPng png(path);
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(png.width(), static_cast<int>(std::ceil(fig.width() * cp::kPngScale)));
  EXPECT_GT(png.distinct_colors(), 50u);  // antialiased lines, fills, text
  for (int c = 0; c < 2; ++c) {
    const cp::Box b = fig.panel_box(0, c);
    const double s = cp::kPngScale;
    const auto ink = png.ink(static_cast<int>((b.x + 0.3 * b.width) * s),
                             static_cast<int>((b.y + 0.3 * b.height) * s),
                             static_cast<int>((b.x + 0.8 * b.width) * s),
                             static_cast<int>((b.y + 0.7 * b.height) * s));
    EXPECT_GT(ink, 500u) << "panel " << c;
  }
}

TEST(Figure, UnwritablePathIsAnInputErrorNamingIt) {
  const cp::Figure fig = sample_figure();
  for (auto f : {cp::ImageFormat::png, cp::ImageFormat::svg, cp::ImageFormat::pdf}) {
    const std::string msg = cvt::error_of([&] { fig.save("/nonexistent-dir/x.img", f); });
    EXPECT_NE(msg.find("/nonexistent-dir/x.img"), std::string::npos) << msg;
  }
}

TEST(HistoryFigure, NeedsEpochs) {
  cellvae::train::History h;
  EXPECT_THROW(cp::history_figure(h), cellvae::InputError);
}

TEST(EmbeddingMethod, OnlyPcaForNow) {
  EXPECT_EQ(cp::parse_embedding_method("pca"), cp::EmbeddingMethod::pca);
  for (const char* m : {"umap", "tsne"}) {
    const std::string msg = cvt::error_of([&] { cp::parse_embedding_method(m); });
    EXPECT_NE(msg.find(m), std::string::npos) << msg;
    EXPECT_NE(msg.find("only pca"), std::string::npos) << msg;
  }
}
