#include "cellvae/error.hpp"

#include <limits>
#include <sstream>

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

std::string format_number(double value) {
  std::ostringstream s;
  s.precision(std::numeric_limits<double>::max_digits10 - 2);
  s << value;
  return s.str();
}

}  // namespace cellvae
