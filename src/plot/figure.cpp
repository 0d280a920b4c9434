// Axes recording and the Cairo renderer: layout from measured text, then grid, data, frame,
// labels and legends, on a PNG, SVG or PDF surface.
#include "cellvae/plot/figure.hpp"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>

#include "cellvae/error.hpp"

namespace cellvae::plot {

// ---- recording ------------------------------------------------------------------------------

namespace {
void check_sizes(const std::vector<double>& x, const std::vector<double>& y, const char* what) {
  if (x.size() != y.size())
    throw std::invalid_argument(std::string("Axes::") + what + ": x and y differ in size");
}
}  // namespace

void Axes::line(std::vector<double> x, std::vector<double> y, LineStyle style,
                std::string label) {
  check_sizes(x, y, "line");
  Item it;
  it.kind = ItemKind::line;
  it.x = std::move(x);
  it.y = std::move(y);
  it.line = style;
  it.label = std::move(label);
  items_.push_back(std::move(it));
}

void Axes::points(std::vector<double> x, std::vector<double> y, PointStyle style,
                  std::string label) {
  check_sizes(x, y, "points");
  Item it;
  it.kind = ItemKind::points;
  it.x = std::move(x);
  it.y = std::move(y);
  it.point = style;
  it.label = std::move(label);
  items_.push_back(std::move(it));
}

void Axes::points(std::vector<double> x, std::vector<double> y, std::vector<Color> colors,
                  double radius) {
  check_sizes(x, y, "points");
  if (colors.size() != x.size())
    throw std::invalid_argument("Axes::points: one colour per point needed");
  Item it;
  it.kind = ItemKind::points;
  it.x = std::move(x);
  it.y = std::move(y);
  it.colors = std::move(colors);
  it.point.radius = radius;
  items_.push_back(std::move(it));
}

void Axes::points(std::vector<double> x, std::vector<double> y, std::vector<Color> colors,
                  std::vector<Marker> markers, double radius) {
  if (markers.size() != x.size())
    throw std::invalid_argument("Axes::points: one marker per point needed");
  points(std::move(x), std::move(y), std::move(colors), radius);
  items_.back().markers = std::move(markers);
}

void Axes::histogram(const std::vector<double>& values, std::vector<double> edges,
                     HistogramStyle style, std::string label) {
  if (edges.size() < 2 || !std::is_sorted(edges.begin(), edges.end()))
    throw std::invalid_argument("Axes::histogram: need >= 2 increasing edges");
  const std::size_t nb = edges.size() - 1;
  std::vector<double> heights(nb, 0.0);
  double n_finite = 0;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    ++n_finite;
    if (v < edges.front() || v > edges.back()) continue;
    auto b = static_cast<std::size_t>(std::upper_bound(edges.begin(), edges.end(), v) -
                                      edges.begin());
    b = std::min(b == 0 ? 0 : b - 1, nb - 1);
    heights[b] += 1;
  }
  if (n_finite > 0)
    for (double& h : heights) h /= n_finite;
  Item it;
  it.kind = ItemKind::histogram;
  it.x = std::move(edges);
  it.y = std::move(heights);
  it.hist = style;
  it.line.color = style.color;
  it.label = std::move(label);
  items_.push_back(std::move(it));
}

void Axes::vline(double x, LineStyle style, std::string text) {
  Item it;
  it.kind = ItemKind::vline;
  it.x = {x};
  it.line = style;
  it.label = std::move(text);
  items_.push_back(std::move(it));
}

void Axes::legend_entry(std::string label, Color color, Marker marker) {
  LegendEntry e;
  e.label = std::move(label);
  e.color = color;
  e.marker = marker;
  legend_entries_.push_back(std::move(e));
}

void Axes::legend_heading(std::string text) {
  LegendEntry e;
  e.label = std::move(text);
  e.heading = true;
  legend_entries_.push_back(std::move(e));
}

namespace {
// Shapes that differ in outline come first: a circle, a triangle and a square stay apart even
// when small and overlapping; the stroked plus and cross next, the rest last.
constexpr Marker kMarkerOrder[kMarkerCount] = {
    Marker::circle,  Marker::triangle, Marker::square,        Marker::plus,
    Marker::diamond, Marker::cross,    Marker::triangle_down, Marker::star};
}  // namespace

Marker marker_cycle(std::size_t i) { return kMarkerOrder[i % kMarkerCount]; }

std::string_view to_string(Marker marker) {
  switch (marker) {
    case Marker::circle:
      return "circle";
    case Marker::square:
      return "square";
    case Marker::triangle:
      return "triangle";
    case Marker::diamond:
      return "diamond";
    case Marker::triangle_down:
      return "triangle_down";
    case Marker::plus:
      return "plus";
    case Marker::cross:
      return "cross";
    case Marker::star:
      return "star";
  }
  return "circle";
}

void Axes::colorbar(double lo, double hi, std::string label) {
  colorbar_ = Colorbar{lo, hi, std::move(label)};
}

Figure::Figure(int rows, int cols, double panel_width, double panel_height)
    : rows_(rows), cols_(cols), panel_width_(panel_width), panel_height_(panel_height) {
  if (rows < 1 || cols < 1 || !(panel_width >= 1) || !(panel_height >= 1))
    throw std::invalid_argument("Figure: rows, cols and panel sizes must be >= 1");
  axes_.resize(static_cast<std::size_t>(rows * cols));
}

Axes& Figure::axes(int row, int col) {
  if (row < 0 || row >= rows_ || col < 0 || col >= cols_)
    throw std::out_of_range("Figure::axes: no such panel");
  return axes_[static_cast<std::size_t>(row * cols_ + col)];
}
const Axes& Figure::axes(int row, int col) const {
  return const_cast<Figure*>(this)->axes(row, col);
}

namespace {
constexpr double kOuterPad = 8;   // around the grid
constexpr double kTitleBand = 30;  // the figure title, when there is one
}  // namespace

double Figure::width() const { return 2 * kOuterPad + cols_ * panel_width_; }
double Figure::height() const {
  return 2 * kOuterPad + (title_.empty() ? 0 : kTitleBand) + rows_ * panel_height_;
}
Box Figure::panel_box(int row, int col) const {
  return {kOuterPad + col * panel_width_,
          kOuterPad + (title_.empty() ? 0 : kTitleBand) + row * panel_height_, panel_width_,
          panel_height_};
}

// ---- rendering ------------------------------------------------------------------------------

namespace {

const char* const kFont = "DejaVu Sans";  // Debian's default sans; fontconfig falls back
constexpr double kTickFont = 9.5, kLabelFont = 11, kTitleFont = 12.5, kSubtitleFont = 9,
                 kLegendFont = 9.5, kFigureTitleFont = 14.5;
const Color kInk = rgb(0x222222), kGrid = rgb(0xE5E5E5), kFrame = rgb(0x555555);

void set_color(cairo_t* cr, Color c) { cairo_set_source_rgba(cr, c.r, c.g, c.b, c.a); }

void set_font(cairo_t* cr, double size, bool bold = false) {
  cairo_select_font_face(cr, kFont, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

double text_width(cairo_t* cr, const std::string& s, double size, bool bold = false) {
  set_font(cr, size, bold);
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  return e.x_advance;
}

/// Draws `s` with its anchor at (x, y): halign 0 left, 0.5 centre, 1 right; vertically centred
/// on y (by the font's ascent and descent, so labels of one row line up). `angle` in radians.
void draw_text(cairo_t* cr, const std::string& s, double x, double y, double size,
               double halign, Color color = kInk, bool bold = false, double angle = 0) {
  if (s.empty()) return;
  set_font(cr, size, bold);
  cairo_text_extents_t te;
  cairo_text_extents(cr, s.c_str(), &te);
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, angle);
  cairo_move_to(cr, -halign * te.x_advance, (fe.ascent - fe.descent) / 2);
  set_color(cr, color);
  cairo_show_text(cr, s.c_str());
  cairo_restore(cr);
}

void set_line(cairo_t* cr, const LineStyle& s) {
  set_color(cr, s.color);
  cairo_set_line_width(cr, s.width);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  switch (s.dash) {
    case Dash::solid:
      cairo_set_dash(cr, nullptr, 0, 0);
      cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
      break;
    case Dash::dashed: {
      const double d[] = {5 * s.width / 1.5, 3 * s.width / 1.5};
      cairo_set_dash(cr, d, 2, 0);
      cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
      break;
    }
    case Dash::dotted: {
      const double d[] = {0.01, 2.5 * s.width};
      cairo_set_dash(cr, d, 2, 0);
      cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
      break;
    }
  }
}

/// Draws `marker` centred at (x, y) in the current source colour. `r` is the radius of the
/// circle it stands in for; the polygons are enlarged to about the circle's area, the stroked
/// plus and cross a little more since lines carry less ink.
void draw_marker(cairo_t* cr, Marker marker, double x, double y, double r) {
  cairo_new_path(cr);
  auto polygon = [&](int n, double radius, double start, double inner = 0) {
    const int k = inner > 0 ? 2 * n : n;
    for (int i = 0; i < k; ++i) {
      const double a = start + 2 * M_PI * i / k;
      const double rr = inner > 0 && i % 2 ? inner : radius;
      const double px = x + rr * std::cos(a), py = y + rr * std::sin(a);
      if (i == 0)
        cairo_move_to(cr, px, py);
      else
        cairo_line_to(cr, px, py);
    }
    cairo_close_path(cr);
    cairo_fill(cr);
  };
  auto strokes = [&](double angle) {
    const double arm = 1.35 * r;
    cairo_save(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
    cairo_set_line_width(cr, std::max(0.55 * r, 0.6));
    for (double a : {angle, angle + M_PI / 2}) {
      cairo_move_to(cr, x - arm * std::cos(a), y - arm * std::sin(a));
      cairo_line_to(cr, x + arm * std::cos(a), y + arm * std::sin(a));
    }
    cairo_stroke(cr);
    cairo_restore(cr);
  };
  switch (marker) {
    case Marker::circle:
      cairo_arc(cr, x, y, r, 0, 2 * M_PI);
      cairo_fill(cr);
      break;
    case Marker::square:
      cairo_rectangle(cr, x - 0.89 * r, y - 0.89 * r, 1.78 * r, 1.78 * r);
      cairo_fill(cr);
      break;
    case Marker::triangle:  // apex up (y grows downwards)
      polygon(3, 1.35 * r, -M_PI / 2);
      break;
    case Marker::triangle_down:
      polygon(3, 1.35 * r, M_PI / 2);
      break;
    case Marker::diamond:
      polygon(4, 1.25 * r, -M_PI / 2);
      break;
    case Marker::star:
      polygon(5, 1.55 * r, -M_PI / 2, 0.62 * r);
      break;
    case Marker::plus:
      strokes(0);
      break;
    case Marker::cross:
      strokes(M_PI / 4);
      break;
  }
}

/// One axis: limits, scale and ticks, mapping data values onto a pixel interval.
struct AxisMap {
  Scale scale = Scale::linear;
  double lo = 0, hi = 1;        // data units
  double p0 = 0, p1 = 1;        // where lo and hi land
  std::vector<double> ticks;
  double step = 0;              // linear tick step, for the labels
  bool powers = false;          // log axis with ticks at powers of ten only: "10³" labels

  bool valid(double v) const { return std::isfinite(v) && (scale == Scale::linear || v > 0); }
  double t(double v) const { return scale == Scale::log10 ? std::log10(v) : v; }
  double operator()(double v) const {
    return p0 + (t(v) - t(lo)) / (t(hi) - t(lo)) * (p1 - p0);
  }
  std::string label(double v) const {
    if (scale == Scale::linear) return format_tick(v, step);
    // Mixed forms ("500", "10³", "2000") read badly: superscripts only for pure decades.
    return powers ? format_log_tick(v)
                  : format_tick(v, std::pow(10.0, std::floor(std::log10(v) + 1e-9)));
  }
};

/// Padded limits of the values (or the fixed ones) and the ticks inside them.
AxisMap make_axis(Scale scale, std::vector<double> values,
                  const std::optional<std::pair<double, double>>& fixed, bool zero_floor,
                  int target) {
  AxisMap a;
  a.scale = scale;
  double lo, hi;
  if (fixed) {
    lo = fixed->first;
    hi = fixed->second;
  } else {
    values.erase(std::remove_if(values.begin(), values.end(),
                                [&](double v) { return !a.valid(v); }),
                 values.end());
    if (values.empty()) {
      lo = scale == Scale::log10 ? 1 : 0;
      hi = scale == Scale::log10 ? 10 : 1;
    } else {
      const auto [mn, mx] = std::minmax_element(values.begin(), values.end());
      lo = a.t(*mn);
      hi = a.t(*mx);
      double span = hi - lo;
      if (span == 0) span = lo == 0 ? 1 : std::abs(lo) * 0.2;
      lo -= 0.04 * span;
      hi += 0.04 * span;
      if (zero_floor && scale == Scale::linear && *mn >= 0) {
        lo = 0;
        hi = a.t(*mx) + 0.08 * span;
      }
      if (scale == Scale::log10) {
        lo = std::pow(10.0, lo);
        hi = std::pow(10.0, hi);
      }
    }
  }
  if (!(hi > lo)) hi = lo + 1;
  a.lo = lo;
  a.hi = hi;
  if (scale == Scale::log10) {
    a.ticks = log_ticks(lo, hi, target + 2);
    a.powers = std::all_of(a.ticks.begin(), a.ticks.end(), [](double t) {
      return std::abs(std::log10(t) - std::round(std::log10(t))) < 1e-9;
    });
  } else {
    a.ticks = nice_ticks(lo, hi, target);
    a.step = a.ticks.size() >= 2 ? a.ticks[1] - a.ticks[0] : 0;
  }
  return a;
}

struct LegendRow {
  std::string label;
  Color color;
  Axes::ItemKind kind;
  LineStyle line;
  Marker marker = Marker::circle;
  bool heading = false;
};

struct PanelRenderer {
  cairo_t* cr;
  const Axes& ax;
  Box box;
  std::vector<LegendRow> legend;
  double legend_row_h = 13.5, legend_sample_w = 18, legend_pad = 5;

  std::vector<LegendRow> collect_legend() const {
    std::vector<LegendRow> rows;
    for (const auto& it : ax.items()) {
      if (it.label.empty() || it.kind == Axes::ItemKind::vline) continue;
      Color c = it.kind == Axes::ItemKind::points ? it.point.color : it.line.color;
      rows.push_back({it.label, c, it.kind, it.line, it.point.marker, false});
    }
    for (const auto& e : ax.legend_entries())
      rows.push_back({e.label, e.color, Axes::ItemKind::points, e.line, e.marker, e.heading});
    return rows;
  }

  /// Where each legend row goes: its column and its row within the column (in rows, from the
  /// top). Columns hold at most `rows_per_col` rows. A heading after other rows is set off by
  /// a little space, and starts a new column rather than end one (it belongs to the rows
  /// after it).
  struct Slot {
    std::size_t col = 0;
    double row = 0;
  };
  std::vector<Slot> legend_slots(double rows_per_col) const {
    std::vector<Slot> slots;
    Slot next;
    for (std::size_t i = 0; i < legend.size(); ++i) {
      if (legend[i].heading && next.row > 0) next.row += 0.4;
      const double need = legend[i].heading && i + 1 < legend.size() ? 2 : 1;
      if (next.row > 0 && next.row + need > rows_per_col + 1e-9) next = Slot{next.col + 1, 0};
      slots.push_back(next);
      next.row += 1;
    }
    return slots;
  }
  /// Rows used by the tallest column of legend_slots.
  double legend_rows(const std::vector<Slot>& slots) const {
    double rows = 0;
    for (const Slot& s : slots) rows = std::max(rows, s.row + 1);
    return rows;
  }

  /// Height in rows of the inside legend (one column).
  double inside_legend_rows() const {
    return legend_rows(legend_slots(static_cast<double>(legend.size()) + 1));
  }

  /// Width of the widest row's text; headings span the sample column too.
  double legend_text_width() const {
    double w = 0;
    for (const auto& r : legend)
      w = std::max(w, r.heading ? text_width(cr, r.label, kLegendFont, true) - legend_sample_w - 5
                                : text_width(cr, r.label, kLegendFont));
    return w;
  }

  void render() {
    legend = collect_legend();
    const bool have_hist = std::any_of(ax.items().begin(), ax.items().end(), [](const auto& it) {
      return it.kind == Axes::ItemKind::histogram;
    });

    // Vertical layout: title and subtitle on top, tick labels and x label at the bottom.
    double top = box.y + 6;
    if (!ax.title().empty()) top += 17;
    if (!ax.subtitle().empty()) top += 12;
    top += 6;
    const double bottom = box.y + box.height - 6 - (ax.xlabel().empty() ? 0 : 16) - 16;

    // Right side: an outside legend (in columns when tall) and the colour bar take room.
    double right = box.x + box.width - 14;
    const double plot_h = bottom - top;
    double legend_rows_per_col = static_cast<double>(legend.size()) + 1;
    double legend_col_w = 0;
    double legend_outside_w = 0;  // the colour bar goes right of an outside legend
    if (ax.legend_placement() == LegendPlacement::outside_right && !legend.empty()) {
      legend_rows_per_col = std::max(2.0, std::floor((plot_h - 2 * legend_pad) / legend_row_h));
      const std::size_t ncols = legend_slots(legend_rows_per_col).back().col + 1;
      legend_col_w = legend_sample_w + 5 + legend_text_width() + 10;
      legend_outside_w = static_cast<double>(ncols) * legend_col_w + 6;
      right -= legend_outside_w;
    }
    AxisMap cb;
    double cb_width = 0;
    if (ax.colorbar_spec()) {
      cb = make_axis(Scale::linear, {ax.colorbar_spec()->lo, ax.colorbar_spec()->hi},
                     std::make_pair(ax.colorbar_spec()->lo, ax.colorbar_spec()->hi), false, 5);
      double lw = 0;
      for (double t : cb.ticks) lw = std::max(lw, text_width(cr, cb.label(t), kTickFont));
      cb_width = 10 + 12 + 6 + lw + 6 + (ax.colorbar_spec()->label.empty() ? 0 : 14);
      right -= cb_width;
    }

    // Data limits.
    std::vector<double> xs, ys;
    for (const auto& it : ax.items()) {
      xs.insert(xs.end(), it.x.begin(), it.x.end());
      if (it.kind != Axes::ItemKind::vline) ys.insert(ys.end(), it.y.begin(), it.y.end());
      if (it.kind == Axes::ItemKind::histogram) ys.push_back(0);
    }
    const int ytarget = std::clamp(static_cast<int>(plot_h / 36), 2, 8);
    AxisMap ya = make_axis(ax.yscale(), ys, ax.ylim(), have_hist, ytarget);
    double ytick_w = 0;
    for (double t : ya.ticks) ytick_w = std::max(ytick_w, text_width(cr, ya.label(t), kTickFont));
    const double left = box.x + 6 + (ax.ylabel().empty() ? 0 : 17) + ytick_w + 8;
    const double plot_w = right - left;
    const int xtarget = std::clamp(static_cast<int>(plot_w / 62), 2, 10);
    AxisMap xa = make_axis(ax.xscale(), xs, ax.xlim(), false, xtarget);
    xa.p0 = left;
    xa.p1 = right;
    ya.p0 = bottom;
    ya.p1 = top;
    // When every corner of the plot area would hide data under the legend, raise the top of
    // the y axis so that the data stay below a legend in an upper corner.
    if (ax.legend_placement() == LegendPlacement::best && !legend.empty() && !ax.ylim()) {
      const double h = legend_pad * 2 + inside_legend_rows() * legend_row_h + 12;
      if (choose_legend_box(xa, ya, left, right, top, bottom).second >= 5 && h < 0.6 * plot_h) {
        const double lo = ya.t(ya.lo);
        const double hi = lo + (ya.t(ya.hi) - lo) * plot_h / (plot_h - h);
        ya = make_axis(ax.yscale(), {}, std::make_pair(ya.lo, ya.scale == Scale::log10
                                                                  ? std::pow(10.0, hi)
                                                                  : hi),
                       have_hist, ytarget);
        ya.p0 = bottom;
        ya.p1 = top;
      }
    }

    // Grid.
    cairo_set_line_width(cr, 0.6);
    cairo_set_dash(cr, nullptr, 0, 0);
    set_color(cr, kGrid);
    for (double t : xa.ticks) {
      cairo_move_to(cr, xa(t), top);
      cairo_line_to(cr, xa(t), bottom);
    }
    for (double t : ya.ticks) {
      cairo_move_to(cr, left, ya(t));
      cairo_line_to(cr, right, ya(t));
    }
    cairo_stroke(cr);

    // Data, clipped to the plot area.
    cairo_save(cr);
    cairo_rectangle(cr, left, top, right - left, bottom - top);
    cairo_clip(cr);
    for (const auto& it : ax.items()) draw_item(it, xa, ya, top, bottom);
    cairo_restore(cr);

    // Frame and ticks.
    set_line(cr, LineStyle{kFrame, 0.8, Dash::solid});
    cairo_rectangle(cr, left, top, right - left, bottom - top);
    for (double t : xa.ticks) {
      cairo_move_to(cr, xa(t), bottom);
      cairo_line_to(cr, xa(t), bottom + 3.5);
    }
    for (double t : ya.ticks) {
      cairo_move_to(cr, left, ya(t));
      cairo_line_to(cr, left - 3.5, ya(t));
    }
    cairo_stroke(cr);
    for (double t : xa.ticks) draw_text(cr, xa.label(t), xa(t), bottom + 11, kTickFont, 0.5);
    for (double t : ya.ticks) draw_text(cr, ya.label(t), left - 6, ya(t), kTickFont, 1);

    // Labels and titles.
    draw_text(cr, ax.xlabel(), (left + right) / 2, bottom + 28, kLabelFont, 0.5);
    draw_text(cr, ax.ylabel(), box.x + 12, (top + bottom) / 2, kLabelFont, 0.5, kInk, false,
              -M_PI / 2);
    double ty = box.y + 14;
    if (!ax.title().empty()) {
      draw_text(cr, ax.title(), (left + right) / 2, ty, kTitleFont, 0.5, kInk, true);
      ty += 14;
    }
    draw_text(cr, ax.subtitle(), (left + right) / 2, ty, kSubtitleFont, 0.5, rgb(0x666666));

    // Texts of the reference lines, at the top of the plot area, beside the line.
    for (const auto& it : ax.items()) {
      if (it.kind != Axes::ItemKind::vline || it.label.empty() || !xa.valid(it.x[0])) continue;
      const double x = xa(it.x[0]);
      if (x < left || x > right) continue;
      const double w = text_width(cr, it.label, kTickFont);
      const bool to_right = x + 4 + w <= right - 2;
      const double tx = to_right ? x + 4 : x - 4 - w;
      set_color(cr, Color{1, 1, 1, 0.85});
      cairo_rectangle(cr, tx - 2, top + 3, w + 4, 13);
      cairo_fill(cr);
      draw_text(cr, it.label, tx, top + 9.5, kTickFont, 0, it.line.color.with_alpha(1));
    }

    draw_legend(xa, ya, left, right, top, bottom, legend_rows_per_col, legend_col_w);
    if (ax.colorbar_spec()) draw_colorbar(cb, right + legend_outside_w, top, bottom);
  }

  void draw_item(const Axes::Item& it, const AxisMap& xa, const AxisMap& ya, double top,
                 double bottom) {
    using K = Axes::ItemKind;
    switch (it.kind) {
      case K::line: {
        set_line(cr, it.line);
        bool pen_down = false;
        for (std::size_t i = 0; i < it.x.size(); ++i) {
          if (!xa.valid(it.x[i]) || !ya.valid(it.y[i])) {
            pen_down = false;
            continue;
          }
          if (pen_down) cairo_line_to(cr, xa(it.x[i]), ya(it.y[i]));
          else cairo_move_to(cr, xa(it.x[i]), ya(it.y[i]));
          pen_down = true;
        }
        cairo_stroke(cr);
        break;
      }
      case K::points: {
        for (std::size_t i = 0; i < it.x.size(); ++i) {
          if (!xa.valid(it.x[i]) || !ya.valid(it.y[i])) continue;
          set_color(cr, it.colors.empty() ? it.point.color : it.colors[i]);
          draw_marker(cr, it.markers.empty() ? it.point.marker : it.markers[i], xa(it.x[i]),
                      ya(it.y[i]), it.point.radius);
        }
        break;
      }
      case K::histogram: {
        const double base = ya.scale == Scale::log10 ? bottom : ya(0);
        auto yh = [&](double h) { return ya.valid(h) ? ya(h) : base; };
        set_color(cr, it.hist.color.with_alpha(it.hist.fill_alpha));
        for (std::size_t b = 0; b < it.y.size(); ++b) {
          if (!(it.y[b] > 0) || !xa.valid(it.x[b]) || !xa.valid(it.x[b + 1])) continue;
          const double x0 = xa(it.x[b]), x1 = xa(it.x[b + 1]);
          cairo_rectangle(cr, x0, yh(it.y[b]), x1 - x0, base - yh(it.y[b]));
        }
        cairo_fill(cr);
        set_line(cr, LineStyle{it.hist.color.with_alpha(1), it.hist.line_width, Dash::solid});
        bool started = false;
        for (std::size_t b = 0; b < it.y.size(); ++b) {
          if (!xa.valid(it.x[b]) || !xa.valid(it.x[b + 1])) continue;
          if (!started) cairo_move_to(cr, xa(it.x[b]), base);
          started = true;
          cairo_line_to(cr, xa(it.x[b]), yh(it.y[b]));
          cairo_line_to(cr, xa(it.x[b + 1]), yh(it.y[b]));
        }
        if (started) cairo_line_to(cr, xa(it.x.back()), base);
        cairo_stroke(cr);
        break;
      }
      case K::vline: {
        if (!xa.valid(it.x[0])) break;
        set_line(cr, it.line);
        cairo_move_to(cr, xa(it.x[0]), top);
        cairo_line_to(cr, xa(it.x[0]), bottom);
        cairo_stroke(cr);
        break;
      }
    }
  }

  /// How much data a candidate legend box would cover: points and line vertices inside it,
  /// histogram bars crossing it (weighted, since a bar is a filled area).
  double coverage(const AxisMap& xa, const AxisMap& ya, const Box& b, double base) const {
    auto inside = [&](double x, double y) {
      return x >= b.x && x <= b.x + b.width && y >= b.y && y <= b.y + b.height;
    };
    double score = 0;
    for (const auto& it : ax.items()) {
      if (it.kind == Axes::ItemKind::histogram) {
        for (std::size_t k = 0; k < it.y.size(); ++k) {
          if (!(it.y[k] > 0) || !xa.valid(it.x[k]) || !xa.valid(it.x[k + 1])) continue;
          const double x0 = xa(it.x[k]), x1 = xa(it.x[k + 1]), y0 = ya(it.y[k]);
          if (x1 >= b.x && x0 <= b.x + b.width && y0 <= b.y + b.height && base >= b.y)
            score += 20;
        }
      } else if (it.kind != Axes::ItemKind::vline) {
        for (std::size_t i = 0; i < it.x.size(); ++i)
          if (xa.valid(it.x[i]) && ya.valid(it.y[i]) && inside(xa(it.x[i]), ya(it.y[i])))
            score += it.kind == Axes::ItemKind::line ? 5 : 1;
        // Line segments crossing the box without a vertex in it: sample them.
        if (it.kind == Axes::ItemKind::line)
          for (std::size_t i = 0; i + 1 < it.x.size(); ++i) {
            if (!xa.valid(it.x[i]) || !ya.valid(it.y[i]) || !xa.valid(it.x[i + 1]) ||
                !ya.valid(it.y[i + 1]))
              continue;
            for (double f : {0.25, 0.5, 0.75}) {
              const double x = xa(it.x[i]) + f * (xa(it.x[i + 1]) - xa(it.x[i]));
              const double y = ya(it.y[i]) + f * (ya(it.y[i + 1]) - ya(it.y[i]));
              if (inside(x, y)) score += 5;
            }
          }
      } else if (xa.valid(it.x[0])) {
        const double x = xa(it.x[0]);
        if (x >= b.x && x <= b.x + b.width) score += 10;
      }
    }
    return score;
  }

  void draw_legend_row(const LegendRow& r, double x, double y) {
    const double sx = x, sw = legend_sample_w;
    if (r.heading) {
      draw_text(cr, r.label, sx, y, kLegendFont, 0, kInk, true);
      return;
    }
    switch (r.kind) {
      case Axes::ItemKind::line:
        set_line(cr, r.line);
        cairo_move_to(cr, sx, y);
        cairo_line_to(cr, sx + sw, y);
        cairo_stroke(cr);
        break;
      case Axes::ItemKind::histogram:
        set_color(cr, r.color.with_alpha(0.35));
        cairo_rectangle(cr, sx + 3, y - 5, sw - 6, 10);
        cairo_fill_preserve(cr);
        set_line(cr, LineStyle{r.color.with_alpha(1), 1.2, Dash::solid});
        cairo_stroke(cr);
        break;
      default:
        set_color(cr, r.color.with_alpha(1));
        draw_marker(cr, r.marker, sx + sw / 2, y, 3.6);
        break;
    }
    draw_text(cr, r.label, sx + sw + 5, y, kLegendFont, 0);
  }

  /// The inside legend's box in the corner covering the least data, and how much it covers.
  std::pair<Box, double> choose_legend_box(const AxisMap& xa, const AxisMap& ya, double left,
                                           double right, double top, double bottom) const {
    const double w = legend_pad * 2 + legend_sample_w + 5 + legend_text_width();
    const double h = legend_pad * 2 + inside_legend_rows() * legend_row_h;
    const double inset = 6;
    const Box candidates[] = {{right - inset - w, top + inset, w, h},
                              {left + inset, top + inset, w, h},
                              {right - inset - w, bottom - inset - h, w, h},
                              {left + inset, bottom - inset - h, w, h}};
    const double base = ya.scale == Scale::log10 ? bottom : ya(std::max(ya.lo, 0.0));
    Box best = candidates[0];
    double best_score = std::numeric_limits<double>::infinity();
    for (const Box& b : candidates) {
      const double sc = coverage(xa, ya, b, base);
      if (sc < best_score) {
        best_score = sc;
        best = b;
      }
    }
    return {best, best_score};
  }

  void draw_legend(const AxisMap& xa, const AxisMap& ya, double left, double right, double top,
                   double bottom, double rows_per_col, double col_w) {
    if (legend.empty() || ax.legend_placement() == LegendPlacement::none) return;
    if (ax.legend_placement() == LegendPlacement::outside_right) {
      const std::vector<Slot> slots = legend_slots(rows_per_col);
      for (std::size_t i = 0; i < legend.size(); ++i)
        draw_legend_row(legend[i], right + 10 + static_cast<double>(slots[i].col) * col_w,
                        top + legend_pad + (slots[i].row + 0.5) * legend_row_h);
      return;
    }
    const std::vector<Slot> slots = legend_slots(static_cast<double>(legend.size()) + 1);
    const Box best = choose_legend_box(xa, ya, left, right, top, bottom).first;
    set_color(cr, Color{1, 1, 1, 0.88});
    cairo_rectangle(cr, best.x, best.y, best.width, best.height);
    cairo_fill_preserve(cr);
    set_line(cr, LineStyle{rgb(0xBBBBBB), 0.7, Dash::solid});
    cairo_stroke(cr);
    for (std::size_t i = 0; i < legend.size(); ++i)
      draw_legend_row(legend[i], best.x + legend_pad,
                      best.y + legend_pad + (slots[i].row + 0.5) * legend_row_h);
  }

  void draw_colorbar(AxisMap cb, double right, double top, double bottom) {
    const double x = right + 10, w = 12;
    const double h = std::min(bottom - top, 180.0), y0 = top + (bottom - top - h) / 2;
    cairo_pattern_t* grad = cairo_pattern_create_linear(0, y0 + h, 0, y0);
    for (int i = 0; i <= 16; ++i) {
      const Color c = ramp_color(i / 16.0);
      cairo_pattern_add_color_stop_rgb(grad, i / 16.0, c.r, c.g, c.b);
    }
    cairo_rectangle(cr, x, y0, w, h);
    cairo_set_source(cr, grad);
    cairo_fill(cr);
    cairo_pattern_destroy(grad);
    set_line(cr, LineStyle{kFrame, 0.7, Dash::solid});
    cairo_rectangle(cr, x, y0, w, h);
    cairo_stroke(cr);
    cb.p0 = y0 + h;
    cb.p1 = y0;
    double lw = 0;
    for (double t : cb.ticks) {
      draw_text(cr, cb.label(t), x + w + 5, cb(t), kTickFont, 0);
      lw = std::max(lw, text_width(cr, cb.label(t), kTickFont));
      set_line(cr, LineStyle{kFrame, 0.7, Dash::solid});
      cairo_move_to(cr, x + w, cb(t));
      cairo_line_to(cr, x + w + 3, cb(t));
      cairo_stroke(cr);
    }
    draw_text(cr, ax.colorbar_spec()->label, x + w + 5 + lw + 12, y0 + h / 2, kLabelFont, 0.5, kInk,
              false, -M_PI / 2);
  }
};

struct SurfaceDeleter {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
};

}  // namespace

void Figure::save(const std::filesystem::path& path, ImageFormat format) const {
  const double w = width(), h = height();
  std::unique_ptr<cairo_surface_t, SurfaceDeleter> surface;
  switch (format) {
    case ImageFormat::png:
      surface.reset(cairo_image_surface_create(CAIRO_FORMAT_ARGB32,
                                               static_cast<int>(std::ceil(w * kPngScale)),
                                               static_cast<int>(std::ceil(h * kPngScale))));
      break;
    case ImageFormat::svg:
      surface.reset(cairo_svg_surface_create(path.c_str(), w, h));
      break;
    case ImageFormat::pdf:
      surface.reset(cairo_pdf_surface_create(path.c_str(), w, h));
      if (!title_.empty())
        cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_TITLE, title_.c_str());
      cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_CREATOR, "cellvae");
      break;
  }
  auto fail = [&](cairo_status_t status) {
    throw InputError("cannot write " + path.string() + ": " + cairo_status_to_string(status));
  };
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
    fail(cairo_surface_status(surface.get()));
  {
    std::unique_ptr<cairo_t, ContextDeleter> cr(cairo_create(surface.get()));
    if (format == ImageFormat::png) cairo_scale(cr.get(), kPngScale, kPngScale);
    cairo_set_source_rgb(cr.get(), 1, 1, 1);
    cairo_paint(cr.get());
    if (!title_.empty())
      draw_text(cr.get(), title_, w / 2, kOuterPad + kTitleBand / 2, kFigureTitleFont, 0.5, kInk,
                true);
    for (int r = 0; r < rows_; ++r)
      for (int c = 0; c < cols_; ++c) {
        PanelRenderer p{cr.get(), axes(r, c), panel_box(r, c), {}};
        p.render();
      }
    if (cairo_status(cr.get()) != CAIRO_STATUS_SUCCESS) fail(cairo_status(cr.get()));
  }
  if (format == ImageFormat::png) {
    const cairo_status_t st = cairo_surface_write_to_png(surface.get(), path.c_str());
    if (st != CAIRO_STATUS_SUCCESS) fail(st);
  }
  cairo_surface_finish(surface.get());
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
    fail(cairo_surface_status(surface.get()));
}

}  // namespace cellvae::plot
