// The figure layer: ticks and labels, formats by extension, and rendered files that show what
// was drawn.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "cellvae/error.hpp"
#include "cellvae/plot/figure.hpp"
#include "cellvae/plot/plots.hpp"
#include "cellvae/simulate.hpp"
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

TEST(EmbeddingMethod, NamesRoundTripAndUnknownListsThem) {
  for (auto m : {cp::EmbeddingMethod::pca, cp::EmbeddingMethod::umap, cp::EmbeddingMethod::tsne})
    EXPECT_EQ(cp::parse_embedding_method(cp::to_string(m)), m);
  EXPECT_EQ(cp::display_name(cp::EmbeddingMethod::tsne), "t-SNE");
  const std::string msg = cvt::error_of([] { cp::parse_embedding_method("mds"); });
  EXPECT_NE(msg.find("'mds'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("pca, umap, tsne"), std::string::npos) << msg;
}

// ---- markers and --shape-by ------------------------------------------------------------------

TEST(Markers, CycleThroughDistinctShapes) {
  std::set<cp::Marker> seen;
  for (std::size_t i = 0; i < cp::kMarkerCount; ++i) seen.insert(cp::marker_cycle(i));
  EXPECT_EQ(seen.size(), cp::kMarkerCount);
  EXPECT_EQ(cp::marker_cycle(0), cp::Marker::circle);
  EXPECT_EQ(cp::marker_cycle(cp::kMarkerCount), cp::marker_cycle(0));
  EXPECT_EQ(cp::to_string(cp::Marker::triangle_down), "triangle_down");
}

TEST(Markers, PerPointMarkersAreRecordedAndChecked) {
  cp::Figure fig(1, 1);
  cp::Axes& ax = fig.axes(0, 0);
  EXPECT_THROW(ax.points({1, 2}, {1, 2}, {cp::rgb(0), cp::rgb(0)}, {cp::Marker::square}, 2),
               std::invalid_argument);
  ax.points({1, 2}, {1, 2}, {cp::rgb(0), cp::rgb(0)}, {cp::Marker::square, cp::Marker::plus}, 2);
  ASSERT_EQ(ax.items().size(), 1u);
  EXPECT_EQ(ax.items()[0].markers, (std::vector<cp::Marker>{cp::Marker::square, cp::Marker::plus}));
  ax.legend_heading("kind");
  ax.legend_entry("a", cp::rgb(0x555555), cp::Marker::star);
  ASSERT_EQ(ax.legend_entries().size(), 2u);
  EXPECT_TRUE(ax.legend_entries()[0].heading);
  EXPECT_EQ(ax.legend_entries()[1].marker, cp::Marker::star);
}

TEST(Markers, EachShapeDrawsItsOwnPixels) {
  // One big marker per panel: every shape leaves ink, and no two the same pixels.
  cvt::ScratchDir dir;
  cp::Figure fig(1, static_cast<int>(cp::kMarkerCount), 120, 120);
  for (std::size_t i = 0; i < cp::kMarkerCount; ++i) {
    cp::Axes& ax = fig.axes(0, static_cast<int>(i));
    ax.set_xlim(-1, 1);
    ax.set_ylim(-1, 1);
    ax.set_legend(cp::LegendPlacement::none);
    ax.points({0}, {0}, cp::PointStyle{cp::rgb(0xFF0000), 14, cp::marker_cycle(i)});
  }
  const auto path = dir / "markers.png";
  fig.save(path, cp::ImageFormat::png);
  cvt::DecodedPng png(path);
  ASSERT_TRUE(png.ok());
  // Where the marker lands: the data point (0, 0) is the middle of the plot area, which is
  // not the middle of the panel; find it as the centre of the red pixels (text is grey).
  auto red = [&](int x, int y) {
    const std::uint32_t p = png.pixel(x, y);
    return ((p >> 16) & 0xff) > 200 && ((p >> 8) & 0xff) < 90 && (p & 0xff) < 90;
  };
  std::vector<std::vector<bool>> shapes;
  for (std::size_t i = 0; i < cp::kMarkerCount; ++i) {
    const cp::Box b = fig.panel_box(0, static_cast<int>(i));
    const double s = cp::kPngScale;
    const int x0 = static_cast<int>(b.x * s), x1 = static_cast<int>((b.x + b.width) * s);
    const int y0 = static_cast<int>(b.y * s), y1 = static_cast<int>((b.y + b.height) * s);
    double sx = 0, sy = 0, n = 0;
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x)
        if (red(x, y)) sx += x, sy += y, ++n;
    EXPECT_GT(n, 300) << cp::to_string(cp::marker_cycle(i));
    const int cx = static_cast<int>(sx / std::max(n, 1.0)),
              cy = static_cast<int>(sy / std::max(n, 1.0));
    std::vector<bool> bits;
    for (int y = cy - 50; y < cy + 50; ++y)
      for (int x = cx - 50; x < cx + 50; ++x) bits.push_back(red(x, y));
    shapes.push_back(std::move(bits));
  }
  for (std::size_t a = 0; a < shapes.size(); ++a)
    for (std::size_t b = a + 1; b < shapes.size(); ++b) {
      std::size_t differ = 0;
      for (std::size_t k = 0; k < shapes[a].size(); ++k) differ += shapes[a][k] != shapes[b][k];
      EXPECT_GT(differ, 100u) << cp::to_string(cp::marker_cycle(a)) << " vs "
                              << cp::to_string(cp::marker_cycle(b));
    }
}

namespace {
/// Simulated real and "generated" cells (two simulations), with group and batch columns.
struct TwoSets {
  cellvae::Dataset real, generated;
  TwoSets() {
    cellvae::SimulateOptions o;
    o.n_cells = 150;
    o.n_genes = 40;
    o.n_groups = 4;
    o.n_batches = 2;
    real = cellvae::simulate_counts(o);
    o.seed = 7;
    o.n_cells = 90;
    generated = cellvae::simulate_counts(o);
  }
};
}  // namespace

/// Fraction of cells whose 10 nearest neighbours in the drawn coordinates mostly share their
/// group: the simulated groups are distinct cell types, so a faithful embedding keeps them apart.
double group_agreement(const cp::EmbeddingFigure& fig, const cellvae::Column& group) {
  const std::size_t n = fig.x.size();
  std::size_t agree = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::pair<double, std::size_t>> d;
    for (std::size_t j = 0; j < n; ++j)
      if (j != i) d.push_back({std::hypot(fig.x[i] - fig.x[j], fig.y[i] - fig.y[j]), j});
    std::partial_sort(d.begin(), d.begin() + 10, d.end());
    int same = 0;
    for (int k = 0; k < 10; ++k) same += group.text(d[static_cast<std::size_t>(k)].second) == group.text(i);
    agree += same > 5;
  }
  return static_cast<double>(agree) / static_cast<double>(n);
}

TEST(EmbeddingFigure, UmapAndTsneKeepTheGroupsApartAndNameTheirAxes) {
  // Four cell types with clear marker genes (a fifth of the genes DE, ~2.7-fold each).
  cellvae::SimulateOptions so;
  so.n_cells = 200;
  so.n_genes = 200;
  so.n_groups = 4;
  so.de_fraction = 0.2;
  const cellvae::Dataset real = cellvae::simulate_counts(so);
  cp::EmbeddingPlotOptions o;
  o.color_by = "group";
  const auto& group = *real.obs.find("group");
  o.method = cp::EmbeddingMethod::pca;
  const double pca_agreement = group_agreement(cp::embedding_figure(real, nullptr, o), group);
  for (auto m : {cp::EmbeddingMethod::umap, cp::EmbeddingMethod::tsne}) {
    o.method = m;
    const cp::EmbeddingFigure fig = cp::embedding_figure(real, nullptr, o);
    ASSERT_EQ(fig.x.size(), 200u);
    // Starting from 50 PCs, the neighbour-based layouts separate the types at least as well
    // as the first two PCs do.
    const double agreement = group_agreement(fig, group);
    EXPECT_GT(agreement, 0.9) << cp::to_string(m);
    EXPECT_GE(agreement, pca_agreement - 0.02) << cp::to_string(m);
    const cp::Axes& ax = fig.figure.axes(0, 0);
    EXPECT_EQ(ax.xlabel(), m == cp::EmbeddingMethod::umap ? "UMAP1" : "t-SNE 1");
    EXPECT_EQ(ax.title().rfind(std::string(cp::display_name(m)) + " of cells", 0), 0u) << ax.title();
    // Seeded: the same picture again, another seed another layout.
    EXPECT_EQ(cp::embedding_figure(real, nullptr, o).x, fig.x);
    o.seed = 3;
    EXPECT_NE(cp::embedding_figure(real, nullptr, o).x, fig.x);
    o.seed = 0;
  }
}

TEST(EmbeddingShapes, OneMarkerPerCategoryAndTwoHeadedLegends) {
  const TwoSets d;
  cp::EmbeddingPlotOptions o;
  o.color_by = "origin";
  o.shape_by = "group";
  const cp::EmbeddingFigure fig = cp::embedding_figure(d.real, &d.generated, o);
  EXPECT_TRUE(fig.warnings.empty());
  const cp::Axes& ax = fig.figure.axes(0, 0);
  ASSERT_EQ(ax.items().size(), 1u);
  const auto& item = ax.items()[0];
  ASSERT_EQ(item.markers.size(), item.x.size());
  // The legend: "origin", real, generated, then "group" and one shape per group.
  const auto& legend = ax.legend_entries();
  ASSERT_EQ(legend.size(), 2u + 1u + 1u + 4u);
  EXPECT_TRUE(legend[0].heading);
  EXPECT_EQ(legend[0].label, "origin");
  EXPECT_EQ(legend[1].label, "real");
  EXPECT_EQ(legend[2].label, "generated");
  EXPECT_TRUE(legend[3].heading);
  EXPECT_EQ(legend[3].label, "group");
  std::map<std::string, cp::Marker> marker_of;
  for (std::size_t i = 4; i < legend.size(); ++i) marker_of[legend[i].label] = legend[i].marker;
  std::set<cp::Marker> legend_markers;
  for (const auto& [label, marker] : marker_of) legend_markers.insert(marker);
  EXPECT_EQ(legend_markers.size(), 4u);
  // Points: the markers drawn are exactly the legend's, each used.
  std::set<cp::Marker> drawn(item.markers.begin(), item.markers.end());
  EXPECT_EQ(drawn, legend_markers);
  // Colours still tell origin apart (shape and colour are independent).
  std::set<std::tuple<double, double, double>> colours;
  for (const auto& c : item.colors) colours.insert({c.r, c.g, c.b});
  EXPECT_EQ(colours.size(), 2u);

  // Without --shape-by nothing changes: dots, no headings.
  o.shape_by.clear();
  const cp::EmbeddingFigure plain = cp::embedding_figure(d.real, &d.generated, o);
  EXPECT_TRUE(plain.figure.axes(0, 0).items()[0].markers.empty());
  for (const auto& e : plain.figure.axes(0, 0).legend_entries()) EXPECT_FALSE(e.heading);
}

TEST(EmbeddingShapes, MarkersFollowTheCategoryOfEachCell) {
  const TwoSets d;
  cp::EmbeddingPlotOptions o;
  o.color_by = "group";
  o.shape_by = "batch";
  // Only real cells: x[i] is cell i; items are drawn in a shuffled order, so match by position.
  const cp::EmbeddingFigure fig = cp::embedding_figure(d.real, nullptr, o);
  const auto& item = fig.figure.axes(0, 0).items()[0];
  const auto& batch = *d.real.obs.find("batch");
  std::map<std::string, std::set<cp::Marker>> markers_of_batch;
  for (std::size_t k = 0; k < item.x.size(); ++k)
    for (std::size_t i = 0; i < fig.x.size(); ++i)
      if (fig.x[i] == item.x[k] && fig.y[i] == item.y[k]) {
        markers_of_batch[batch.text(i)].insert(item.markers[k]);
        break;
      }
  ASSERT_EQ(markers_of_batch.size(), 2u);
  for (const auto& [b, markers] : markers_of_batch) EXPECT_EQ(markers.size(), 1u) << b;
  EXPECT_NE(*markers_of_batch.begin()->second.begin(), *markers_of_batch.rbegin()->second.begin());
}

TEST(EmbeddingShapes, MissingColumnTooManyCategoriesAndNumbers) {
  TwoSets d;
  cp::EmbeddingPlotOptions o;
  o.shape_by = "no_such_column";
  std::string msg = cvt::error_of([&] { cp::embedding_figure(d.real, &d.generated, o); });
  EXPECT_TRUE(cvt::contains(msg, "--shape-by")) << msg;
  EXPECT_TRUE(cvt::contains(msg, "no_such_column")) << msg;

  // Nine categories: more than the shapes there are.
  std::vector<std::string> nine;
  for (std::size_t i = 0; i < d.real.obs.n_rows(); ++i) nine.push_back("c" + std::to_string(i % 9));
  d.real.obs.set(cellvae::Column::make_string("nine", nine));
  o.shape_by = "nine";
  msg = cvt::error_of([&] { cp::embedding_figure(d.real, nullptr, o); });
  EXPECT_TRUE(cvt::contains(msg, "9 distinct values")) << msg;
  EXPECT_TRUE(cvt::contains(msg, "only 8 marker shapes")) << msg;

  o.shape_by = "score";
  d.real.obs.set(
      cellvae::Column::make_number("score", std::vector<double>(d.real.obs.n_rows(), 0.5)));
  msg = cvt::error_of([&] { cp::embedding_figure(d.real, nullptr, o); });
  EXPECT_TRUE(cvt::contains(msg, "numbers")) << msg;

  // A column in one set only: the other set's cells get a "missing" shape, with a warning.
  std::vector<std::string> kinds;
  for (std::size_t i = 0; i < d.real.obs.n_rows(); ++i) kinds.push_back(i % 2 ? "odd" : "even");
  d.real.obs.set(cellvae::Column::make_string("parity", kinds));
  o.shape_by = "parity";
  const cp::EmbeddingFigure fig = cp::embedding_figure(d.real, &d.generated, o);
  EXPECT_EQ(fig.warnings.size(), 1u);
  const auto& legend = fig.figure.axes(0, 0).legend_entries();
  EXPECT_EQ(legend.back().label, "missing");
  std::set<cp::Marker> drawn(fig.figure.axes(0, 0).items()[0].markers.begin(),
                             fig.figure.axes(0, 0).items()[0].markers.end());
  EXPECT_EQ(drawn.size(), 3u);
}

TEST(Figure, ColourBarGoesBesideAnOutsideLegend) {
  // A numeric colour with a shape legend: the colour bar must not be drawn over the legend.
  cvt::ScratchDir dir;
  cp::Figure fig(1, 1, 520, 300);
  cp::Axes& ax = fig.axes(0, 0);
  ax.points({0, 1, 2}, {0, 1, 2}, cp::PointStyle{cp::rgb(0x0000FF), 3});
  ax.set_legend(cp::LegendPlacement::outside_right);
  ax.legend_heading("kind");
  ax.legend_entry("a rather long category name", cp::rgb(0xFF0000), cp::Marker::square);
  ax.colorbar(0, 1, "value");
  const auto path = dir / "bar.png";
  fig.save(path, cp::ImageFormat::png);
  cvt::DecodedPng png(path);
  ASSERT_TRUE(png.ok());
  auto x_range = [&](auto match) {
    int lo = png.width(), hi = -1;
    for (int y = 0; y < png.height(); ++y)
      for (int x = 0; x < png.width(); ++x)
        if (match(png.pixel(x, y))) lo = std::min(lo, x), hi = std::max(hi, x);
    return std::make_pair(lo, hi);
  };
  auto near = [](std::uint32_t p, cp::Color c) {
    return std::abs(static_cast<int>((p >> 16) & 0xff) - static_cast<int>(c.r * 255)) < 12 &&
           std::abs(static_cast<int>((p >> 8) & 0xff) - static_cast<int>(c.g * 255)) < 12 &&
           std::abs(static_cast<int>(p & 0xff) - static_cast<int>(c.b * 255)) < 12;
  };
  const auto marker = x_range([&](std::uint32_t p) { return near(p, cp::rgb(0xFF0000)); });
  const auto bar = x_range([&](std::uint32_t p) { return near(p, cp::ramp_color(1)); });
  ASSERT_GE(marker.second, 0);
  ASSERT_GE(bar.second, 0);
  // The entry's text runs about 130 points right of its marker; the bar starts after it.
  EXPECT_GT(bar.first, marker.second + static_cast<int>(100 * cp::kPngScale))
      << "bar " << bar.first << ".." << bar.second << ", marker " << marker.first << ".."
      << marker.second;
}
