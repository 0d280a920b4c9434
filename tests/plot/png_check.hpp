// Decoding a PNG the tests wrote, to check that it shows something: distinct colours and ink.
#pragma once

#include <cairo.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <filesystem>
#include <set>
#include <string>

namespace cellvae::testing {

/// A decoded PNG: size, distinct colours, and a count of non-white pixels in a region.
class DecodedPng {
 public:
  explicit DecodedPng(const std::filesystem::path& path)
      : surface_(cairo_image_surface_create_from_png(path.c_str())) {}
  ~DecodedPng() { cairo_surface_destroy(surface_); }
  DecodedPng(const DecodedPng&) = delete;
  DecodedPng& operator=(const DecodedPng&) = delete;

  bool ok() const { return cairo_surface_status(surface_) == CAIRO_STATUS_SUCCESS; }
  int width() const { return cairo_image_surface_get_width(surface_); }
  int height() const { return cairo_image_surface_get_height(surface_); }

  std::uint32_t pixel(int x, int y) const {
    const unsigned char* row = cairo_image_surface_get_data(surface_) +
                               static_cast<std::ptrdiff_t>(y) *
                                   cairo_image_surface_get_stride(surface_);
    return reinterpret_cast<const std::uint32_t*>(row)[x];
  }

  std::size_t distinct_colors() const {
    std::set<std::uint32_t> seen;
    for (int y = 0; y < height(); ++y)
      for (int x = 0; x < width(); ++x) seen.insert(pixel(x, y));
    return seen.size();
  }

  /// Pixels in [x0, x1) x [y0, y1) that are not (nearly) white.
  std::size_t ink(int x0, int y0, int x1, int y1) const {
    std::size_t n = 0;
    for (int y = std::max(0, y0); y < std::min(height(), y1); ++y)
      for (int x = std::max(0, x0); x < std::min(width(), x1); ++x) {
        const std::uint32_t p = pixel(x, y);
        const int r = (p >> 16) & 0xff, g = (p >> 8) & 0xff, b = p & 0xff;
        if (r < 235 || g < 235 || b < 235) ++n;
      }
    return n;
  }

  /// Non-white pixels in the inner part of each cell of a rows x cols grid below `top`
  /// (fraction of the height); returns the smallest count over the cells.
  std::size_t min_ink_per_panel(int rows, int cols, double top = 0.08) const {
    std::size_t least = SIZE_MAX;
    const int y_start = static_cast<int>(top * height());
    const double ch = (height() - y_start) / static_cast<double>(rows);
    const double cw = width() / static_cast<double>(cols);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) {
        // The middle of the cell: the plot area, not its labels.
        const int x0 = static_cast<int>(cw * (c + 0.25)), x1 = static_cast<int>(cw * (c + 0.85));
        const int y0 = y_start + static_cast<int>(ch * (r + 0.2));
        const int y1 = y_start + static_cast<int>(ch * (r + 0.75));
        least = std::min(least, ink(x0, y0, x1, y1));
      }
    return least;
  }

 private:
  cairo_surface_t* surface_;
};

/// The file's first bytes, to tell its format.
inline std::string file_head(const std::filesystem::path& p, std::size_t n = 256) {
  std::ifstream in(p, std::ios::binary);
  std::string s(n, '\0');
  in.read(s.data(), static_cast<std::streamsize>(n));
  s.resize(static_cast<std::size_t>(in.gcount()));
  return s;
}

/// Whether the file starts as a file of that extension should.
inline bool has_magic(const std::filesystem::path& p, const std::string& ext) {
  const std::string head = file_head(p);
  if (ext == "png") return head.rfind("\x89PNG\r\n\x1a\n", 0) == 0;
  if (ext == "pdf") return head.rfind("%PDF", 0) == 0;
  if (ext == "svg")
    return head.rfind("<?xml", 0) == 0 ? head.find("<svg") != std::string::npos
                                       : head.rfind("<svg", 0) == 0;
  return false;
}

}  // namespace cellvae::testing
