#include "cellvae/report/html.hpp"

#include <cstdint>

#include "cellvae/error.hpp"

namespace cellvae::report {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  // Three bytes -> four 6-bit digits; a short last group is padded with '='.
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                            (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                            std::uint32_t{static_cast<unsigned char>(bytes[i + 2])};
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    if (rest == 2) v |= std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string data_uri(std::string_view mime, std::string_view bytes) {
  return "data:" + std::string(mime) + ";base64," + base64_encode(bytes);
}

namespace {

/// Removes every ` xmlns="..."` and ` xmlns:prefix="..."` attribute from an opening tag.
std::string without_xmlns(std::string tag) {
  for (std::size_t at = tag.find(" xmlns"); at != std::string::npos; at = tag.find(" xmlns", at)) {
    const std::size_t eq = tag.find('=', at);
    if (eq == std::string::npos || eq + 1 >= tag.size()) break;
    const char quote = tag[eq + 1];
    const std::size_t close =
        (quote == '"' || quote == '\'') ? tag.find(quote, eq + 2) : std::string::npos;
    if (close == std::string::npos) break;
    tag.erase(at, close + 1 - at);
  }
  return tag;
}

}  // namespace

std::string inline_svg(std::string_view svg) {
  const std::size_t start = svg.find("<svg");
  if (start == std::string_view::npos) throw InputError("not an SVG document: no <svg element");
  const std::size_t tag_end = svg.find('>', start);
  if (tag_end == std::string_view::npos)
    throw InputError("not an SVG document: the <svg element is not closed");
  return without_xmlns(std::string(svg.substr(start, tag_end + 1 - start))) +
         std::string(svg.substr(tag_end + 1));
}

}  // namespace cellvae::report
