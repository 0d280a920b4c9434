// A small figure model for cellvae's pictures: a grid of panels (Axes) holding lines, points,
// histograms, reference lines and legends, rendered with Cairo to PNG, SVG or PDF.
//
// Everything is recorded first and laid out at save(): margins follow the measured tick labels,
// axis limits follow the data (with a little padding) unless set, and the legend goes where it
// covers the fewest data. Sizes are in points (1/72 inch); PNG is rendered at kPngScale pixels
// per point. Cairo stays an implementation detail: this header does not include it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cellvae::plot {

/// An RGBA colour, components in [0, 1].
struct Color {
  double r = 0, g = 0, b = 0, a = 1;
  Color with_alpha(double alpha) const { return {r, g, b, alpha}; }
};

/// A colour from 0xRRGGBB.
Color rgb(std::uint32_t hex, double alpha = 1);

/// Colour of category i in a qualitative palette chosen to stay distinguishable (and mostly
/// colour-blind safe) for the first 10; further categories get evenly spaced hues.
Color category_color(std::size_t i);

/// A perceptually ordered ramp (dark purple -> blue -> green -> yellow, like viridis) for
/// numeric values; t is clamped to [0, 1].
Color ramp_color(double t);

/// Output file formats, chosen by the output's extension.
enum class ImageFormat { png, svg, pdf };

/// "png", "svg", "pdf".
std::string_view to_string(ImageFormat format);

/// The format of an output path by its extension (case-insensitive). Throws InputError naming
/// the path and listing png, svg, pdf when the extension is none of them.
ImageFormat image_format_for(const std::filesystem::path& path);

/// PNG pixels per point (144 dpi: sharp on screens and in slides).
inline constexpr double kPngScale = 2.0;

/// Tick positions on a linear axis: multiples of a step of 1, 2 or 5 times a power of ten,
/// the smallest such step giving at most about `target` intervals, that lie in [lo, hi]
/// (inclusive, with a tolerance of 1e-9 steps). Ticks are rounded to the step's decimals, so
/// 0.1 * 3 comes out as 0.3. lo == hi is widened to a unit (or 10%) interval around the value.
/// Throws std::invalid_argument when lo or hi is not finite, lo > hi or target < 1.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

/// Tick positions (data values, lo > 0) on a log10 axis: powers of ten in [lo, hi] when at
/// least two fit (every k-th decade when there are more than `max_ticks`), else the values
/// 1, 2 and 5 times a power of ten in the range, else nice_ticks(lo, hi).
std::vector<double> log_ticks(double lo, double hi, int max_ticks = 8);

/// A tick label for `value` with as many decimals as `step` needs ("0.25", "1200"); values
/// of magnitude >= 1e6 or < 1e-4 (but not 0) in scientific form ("2.5e+06").
std::string format_tick(double value, double step);

/// A log-axis tick label: powers of ten as "10" with a superscript exponent ("10³", "10⁻²"),
/// other values as format_tick with the value's own precision.
std::string format_log_tick(double value);

/// Bin edges: n equal intervals of [lo, hi] (linear) or of [log10 lo, log10 hi] (log_edges,
/// lo > 0). n >= 1.
std::vector<double> linear_edges(double lo, double hi, int n);
std::vector<double> log_edges(double lo, double hi, int n);

enum class Scale { linear, log10 };
enum class Dash { solid, dashed, dotted };

struct LineStyle {
  Color color;
  double width = 1.5;  ///< points
  Dash dash = Dash::solid;
};

/// The shape drawn for a point. Filled shapes (circle to star) are drawn in the point's
/// colour; plus and cross are stroked in it. Sizes are matched so that every shape of one
/// radius looks about as heavy as the circle of that radius.
enum class Marker { circle, square, triangle, diamond, triangle_down, plus, cross, star };

/// Number of distinct markers: marker_cycle(i) repeats after this many.
inline constexpr std::size_t kMarkerCount = 8;

/// The i-th marker of a fixed order chosen so that the first few are the easiest to tell apart
/// in a dense scatter (circle, triangle, square, plus, diamond, cross, triangle_down, star);
/// i is taken modulo kMarkerCount.
Marker marker_cycle(std::size_t i);

/// "circle", "square", "triangle", "diamond", "triangle_down", "plus", "cross", "star".
std::string_view to_string(Marker marker);

struct PointStyle {
  Color color;
  double radius = 1.5;  ///< points; a circle's radius, the other markers are sized to match
  Marker marker = Marker::circle;
};

struct HistogramStyle {
  Color color;
  double fill_alpha = 0.3;   ///< the bars' fill; the outline is drawn opaque
  double line_width = 1.3;
};

/// Where an Axes puts its legend. best: inside the plot area, in the corner covering the
/// fewest data; outside_right: to the right of the plot area (many entries, dense data).
enum class LegendPlacement { best, outside_right, none };

/// One panel: a title, x and y axes, and what is drawn in it (in insertion order).
/// Values that are not finite, or not positive on a log axis, are skipped (lines break there).
class Axes {
 public:
  void set_title(std::string title) { title_ = std::move(title); }
  void set_xlabel(std::string label) { xlabel_ = std::move(label); }
  void set_ylabel(std::string label) { ylabel_ = std::move(label); }
  void set_xscale(Scale scale) { xscale_ = scale; }
  void set_yscale(Scale scale) { yscale_ = scale; }
  /// Fixed axis limits (data units) instead of the padded data range.
  void set_xlim(double lo, double hi) { xlim_ = {lo, hi}; }
  void set_ylim(double lo, double hi) { ylim_ = {lo, hi}; }
  void set_legend(LegendPlacement placement) { legend_ = placement; }

  /// A polyline through (x[i], y[i]); x and y must have the same size (std::invalid_argument).
  /// A non-empty label adds a legend entry.
  void line(std::vector<double> x, std::vector<double> y, LineStyle style,
            std::string label = "");
  /// Filled circles of one colour.
  void points(std::vector<double> x, std::vector<double> y, PointStyle style,
              std::string label = "");
  /// Filled circles, one colour each (colors.size() == x.size()); legend entries are added
  /// separately with legend_entry.
  void points(std::vector<double> x, std::vector<double> y, std::vector<Color> colors,
              double radius);
  /// Points with a colour and a marker each (colors and markers the size of x, else
  /// std::invalid_argument); legend entries are added separately with legend_entry.
  void points(std::vector<double> x, std::vector<double> y, std::vector<Color> colors,
              std::vector<Marker> markers, double radius);
  /// A histogram of `values` over bin `edges` (increasing, >= 2), drawn as filled bars with a
  /// step outline. Heights are the fraction of all finite values falling in each bin (the last
  /// bin includes its right edge), so samples of different sizes compare.
  void histogram(const std::vector<double>& values, std::vector<double> edges,
                 HistogramStyle style, std::string label = "");
  /// A vertical reference line across the plot area, with `text` written beside its top.
  void vline(double x, LineStyle style, std::string text = "");
  /// A legend entry drawn as a marker (a dot unless given) without data.
  void legend_entry(std::string label, Color color, Marker marker = Marker::circle);
  /// A bold line of text in the legend, above the entries added after it: with two legends
  /// in one (colour and shape), each gets a heading naming what it encodes.
  void legend_heading(std::string text);
  /// A colour bar for ramp_color over [lo, hi], outside right of the plot area.
  void colorbar(double lo, double hi, std::string label);
  /// A line of small text under the title (sample sizes, what was dropped).
  void set_subtitle(std::string text) { subtitle_ = std::move(text); }

  /// What has been added, for the renderer (and tests).
  enum class ItemKind { line, points, histogram, vline };
  struct Item {
    ItemKind kind = ItemKind::line;
    std::vector<double> x, y;       ///< points; histogram: edges in x, heights in y
    std::vector<Color> colors;      ///< per-point colours (points), else empty
    std::vector<Marker> markers;    ///< per-point markers (points), else empty: point.marker
    LineStyle line;                 ///< line, vline, histogram outline colour
    PointStyle point;
    HistogramStyle hist;
    std::string label;              ///< legend label (line, points, histogram) or vline text
  };
  struct LegendEntry {
    std::string label;
    Color color;
    ItemKind kind = ItemKind::points;
    LineStyle line;
    Marker marker = Marker::circle;
    bool heading = false;  ///< a heading (legend_heading): text only, no sample
  };
  struct Colorbar {
    double lo = 0, hi = 1;
    std::string label;
  };

  const std::vector<Item>& items() const { return items_; }
  const std::vector<LegendEntry>& legend_entries() const { return legend_entries_; }
  const std::string& title() const { return title_; }
  const std::string& subtitle() const { return subtitle_; }
  const std::string& xlabel() const { return xlabel_; }
  const std::string& ylabel() const { return ylabel_; }
  Scale xscale() const { return xscale_; }
  Scale yscale() const { return yscale_; }
  const std::optional<std::pair<double, double>>& xlim() const { return xlim_; }
  const std::optional<std::pair<double, double>>& ylim() const { return ylim_; }
  LegendPlacement legend_placement() const { return legend_; }
  const std::optional<Colorbar>& colorbar_spec() const { return colorbar_; }

 private:
  std::string title_, subtitle_, xlabel_, ylabel_;
  Scale xscale_ = Scale::linear, yscale_ = Scale::linear;
  std::optional<std::pair<double, double>> xlim_, ylim_;
  LegendPlacement legend_ = LegendPlacement::best;
  std::vector<Item> items_;
  std::vector<LegendEntry> legend_entries_;
  std::optional<Colorbar> colorbar_;
};

/// A rectangle in points, origin top left.
struct Box {
  double x = 0, y = 0, width = 0, height = 0;
};

/// Panels in a grid under an optional title.
class Figure {
 public:
  /// rows x cols panels of panel_width x panel_height points each (all >= 1, else
  /// std::invalid_argument).
  Figure(int rows, int cols, double panel_width = 320, double panel_height = 250);

  Axes& axes(int row, int col);
  const Axes& axes(int row, int col) const;
  void set_title(std::string title) { title_ = std::move(title); }

  int rows() const { return rows_; }
  int cols() const { return cols_; }
  /// Size of the whole figure in points.
  double width() const;
  double height() const;
  /// Where panel (row, col) sits in the figure, in points (multiply by kPngScale for PNG
  /// pixels).
  Box panel_box(int row, int col) const;

  /// Renders to `path` in `format` (the path's extension is not looked at, so that an
  /// AtomicOutput's temporary path can be used). Throws InputError when the file cannot be
  /// written, naming it.
  void save(const std::filesystem::path& path, ImageFormat format) const;

 private:
  int rows_, cols_;
  double panel_width_, panel_height_;
  std::string title_;
  std::vector<Axes> axes_;
};

}  // namespace cellvae::plot
