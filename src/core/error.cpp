#include "cellvae/error.hpp"

namespace cellvae {

std::string join_names(const std::vector<std::string>& names, std::size_t limit) {
  std::string out;
  const std::size_t shown = names.size() < limit ? names.size() : limit;
  for (std::size_t i = 0; i < shown; ++i) {
    if (i) out += ", ";
    out += names[i];
  }
  if (names.size() > shown) out += " ... and " + std::to_string(names.size() - shown) + " more";
  if (names.empty()) out = "(none)";
  return out;
}

}  // namespace cellvae
