// Helpers of the report tests: reading back what a page embeds.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace cellvae::testing {

/// Decodes standard base64 (RFC 4648, '=' padding); stops at the first character outside the
/// alphabet. Written independently of the encoder it checks.
inline std::string base64_decode(const std::string& text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  unsigned bits = 0;
  int n_bits = 0;
  for (const char c : text) {
    const int v = value(c);
    if (v < 0) break;
    bits = (bits << 6) | static_cast<unsigned>(v);
    n_bits += 6;
    if (n_bits >= 8) {
      n_bits -= 8;
      out += static_cast<char>((bits >> n_bits) & 0xff);
    }
  }
  return out;
}

/// The values of every `name=...` attribute in an HTML text, however quoted and whatever its
/// prefix (so "href" also finds xlink:href), e.g. all src and href values.
inline std::vector<std::string> attribute_values(const std::string& html, const std::string& name) {
  std::vector<std::string> values;
  const std::string key = name + "=";
  for (std::size_t at = html.find(key); at != std::string::npos; at = html.find(key, at + 1)) {
    std::size_t start = at + key.size();
    if (start >= html.size()) break;
    const char quote = html[start];
    std::size_t end;
    if (quote == '"' || quote == '\'') {
      ++start;
      end = html.find(quote, start);
    } else {
      end = html.find_first_of(" \t\n>", start);
    }
    if (end == std::string::npos) end = html.size();
    values.push_back(html.substr(start, end - start));
  }
  return values;
}

/// A small augment run (simulated cells with labels, a few epochs), made once per test program:
/// its run folder holds everything a report draws from.
struct AugmentRun {
  ScratchDir dir;
  std::filesystem::path data = dir / "sim.h5ad";
  std::filesystem::path output = dir / "augmented.h5ad";
  std::filesystem::path run = dir / "augmented_run";
  CommandResult augment;
  AugmentRun() {
    auto r =
        run_cellvae("simulate -o " + quoted(data) + " --cells 400 --genes 60 --groups 3 --seed 3");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    augment = run_cellvae("augment " + quoted(data) + " -n 300 -o " + quoted(output) +
                          " --label-key group --epochs 6 --test-fraction 0.25 --threads 1 -q");
    EXPECT_EQ(augment.exit_code, 0) << augment.output;
  }
};

inline const AugmentRun& augment_run() {
  static AugmentRun run;
  return run;
}

}  // namespace cellvae::testing
