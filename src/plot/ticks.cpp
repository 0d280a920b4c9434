// Tick positions and labels, colours and bin edges: the Cairo-free part of the figure model.
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "cellvae/error.hpp"
#include "cellvae/plot/figure.hpp"

namespace cellvae::plot {

Color rgb(std::uint32_t hex, double alpha) {
  return {((hex >> 16) & 0xff) / 255.0, ((hex >> 8) & 0xff) / 255.0, (hex & 0xff) / 255.0,
          alpha};
}

namespace {
Color from_hsv(double h, double s, double v) {
  const double c = v * s, hp = std::fmod(h, 360.0) / 60.0;
  const double x = c * (1 - std::abs(std::fmod(hp, 2.0) - 1));
  double r = 0, g = 0, b = 0;
  if (hp < 1) r = c, g = x;
  else if (hp < 2) r = x, g = c;
  else if (hp < 3) g = c, b = x;
  else if (hp < 4) g = x, b = c;
  else if (hp < 5) r = x, b = c;
  else r = c, b = x;
  const double m = v - c;
  return {r + m, g + m, b + m, 1};
}
}  // namespace

Color category_color(std::size_t i) {
  // Okabe & Ito's colour-blind-safe set (black left out: it reads as an annotation), then two
  // more that stay apart from it.
  static const std::array<std::uint32_t, 10> palette = {
      0x0072B2, 0xD55E00, 0x009E73, 0xCC79A7, 0x56B4E9,
      0xE69F00, 0xF0E442, 0x6A3D9A, 0x8C564B, 0x7F7F7F};
  if (i < palette.size()) return rgb(palette[i]);
  // Golden-angle hue steps never repeat and keep neighbours far apart.
  const double hue = std::fmod(20.0 + 137.508 * static_cast<double>(i - palette.size()), 360.0);
  return from_hsv(hue, 0.65, (i % 2) ? 0.75 : 0.9);
}

Color ramp_color(double t) {
  // Anchor colours of matplotlib's viridis at t = 0, 0.25, 0.5, 0.75, 1, interpolated in RGB.
  static const std::array<std::uint32_t, 5> anchors = {0x440154, 0x3B528B, 0x21918C, 0x5EC962,
                                                       0xFDE725};
  if (!std::isfinite(t)) return rgb(0xBBBBBB);
  t = std::clamp(t, 0.0, 1.0) * (anchors.size() - 1);
  const auto k = std::min<std::size_t>(static_cast<std::size_t>(t), anchors.size() - 2);
  const double f = t - static_cast<double>(k);
  const Color a = rgb(anchors[k]), b = rgb(anchors[k + 1]);
  return {a.r + f * (b.r - a.r), a.g + f * (b.g - a.g), a.b + f * (b.b - a.b), 1};
}

std::string_view to_string(ImageFormat format) {
  switch (format) {
    case ImageFormat::png: return "png";
    case ImageFormat::svg: return "svg";
    case ImageFormat::pdf: return "pdf";
  }
  return "png";
}

ImageFormat image_format_for(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (ImageFormat f : {ImageFormat::png, ImageFormat::svg, ImageFormat::pdf})
    if (ext == "." + std::string(to_string(f))) return f;
  throw InputError("cannot tell the image format of " + path.string() + " from its extension '" +
                   path.extension().string() + "'; use one of: png, svg, pdf");
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi || target < 1)
    throw std::invalid_argument("nice_ticks: need finite lo <= hi and target >= 1");
  if (lo == hi) {
    const double d = lo == 0 ? 0.5 : std::abs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * mag;
  for (double m : {1.0, 2.0, 5.0}) {
    if (m * mag >= raw * (1 - 1e-9)) {
      step = m * mag;
      break;
    }
  }
  const int exponent = static_cast<int>(std::floor(std::log10(step) + 1e-9));
  const double scale = std::pow(10.0, std::max(0, -exponent));
  const auto k0 = static_cast<long long>(std::ceil(lo / step - 1e-9));
  const auto k1 = static_cast<long long>(std::floor(hi / step + 1e-9));
  std::vector<double> ticks;
  for (long long k = k0; k <= k1; ++k)
    ticks.push_back(std::round(static_cast<double>(k) * step * scale) / scale + 0.0);
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi, int max_ticks) {
  if (!(lo > 0) || !std::isfinite(hi) || lo > hi)
    throw std::invalid_argument("log_ticks: need 0 < lo <= hi");
  const auto e0 = static_cast<int>(std::ceil(std::log10(lo) - 1e-9));
  const auto e1 = static_cast<int>(std::floor(std::log10(hi) + 1e-9));
  const int decades = e1 - e0 + 1;
  if (decades >= 2) {
    const int every = std::max(1, (decades + max_ticks - 1) / std::max(1, max_ticks));
    std::vector<double> ticks;
    for (int e = e0; e <= e1; ++e)
      if (((e % every) + every) % every == 0) ticks.push_back(std::pow(10.0, e));
    if (ticks.size() >= 2) return ticks;
    ticks.clear();
    for (int e = e0; e <= e1; e += every) ticks.push_back(std::pow(10.0, e));
    return ticks;
  }
  std::vector<double> ticks;
  const auto f0 = static_cast<int>(std::floor(std::log10(lo))) - 1;
  const auto f1 = static_cast<int>(std::ceil(std::log10(hi)));
  for (int e = f0; e <= f1; ++e)
    for (double m : {1.0, 2.0, 5.0}) {
      const double v = m * std::pow(10.0, e);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push_back(v);
    }
  if (ticks.size() >= 2) return ticks;
  return nice_ticks(lo, hi, 4);
}

std::string format_tick(double value, double step) {
  if (value == 0) return "0";
  char buf[64];
  const double a = std::abs(value);
  if (a >= 1e6 || a < 1e-4) {
    int digits = 2;
    if (step > 0)
      digits = std::clamp(static_cast<int>(std::floor(std::log10(a)) -
                                           std::floor(std::log10(step) + 1e-9)),
                          0, 6);
    std::snprintf(buf, sizeof buf, "%.*e", digits, value);
    return buf;
  }
  int decimals = 0;
  if (step > 0)
    decimals = std::clamp(-static_cast<int>(std::floor(std::log10(step) + 1e-9)), 0, 10);
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  // A typographic minus: the hyphen is too short and sits too low beside digits.
  if (buf[0] == '-') return "−" + std::string(buf + 1);
  return buf;
}

std::string format_log_tick(double value) {
  if (!(value > 0)) return format_tick(value, 0);
  const auto e = static_cast<int>(std::lround(std::log10(value)));
  if (std::abs(value - std::pow(10.0, e)) <= 1e-9 * value) {
    if (e == 0) return "1";
    if (e == 1) return "10";
    static const char* const sup[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
    std::string s = "10";
    if (e < 0) s += "⁻";
    for (char c : std::to_string(std::abs(e))) s += sup[c - '0'];
    return s;
  }
  return format_tick(value, std::pow(10.0, std::floor(std::log10(value) + 1e-9)));
}

std::vector<double> linear_edges(double lo, double hi, int n) {
  if (n < 1) throw std::invalid_argument("linear_edges: n >= 1");
  if (lo == hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  std::vector<double> e(static_cast<std::size_t>(n) + 1);
  for (int i = 0; i <= n; ++i) e[static_cast<std::size_t>(i)] = lo + (hi - lo) * i / n;
  return e;
}

std::vector<double> log_edges(double lo, double hi, int n) {
  if (!(lo > 0)) throw std::invalid_argument("log_edges: lo > 0");
  if (lo == hi) {
    lo /= 1.5;
    hi *= 1.5;
  }
  std::vector<double> e = linear_edges(std::log10(lo), std::log10(hi), n);
  for (double& v : e) v = std::pow(10.0, v);
  return e;
}

}  // namespace cellvae::plot
