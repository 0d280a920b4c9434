#include "cellvae/generate/generate_options.hpp"

#include <cctype>
#include <set>
#include <string>

#include "cellvae/enum_names.hpp"
#include "cellvae/error.hpp"

namespace cellvae::generate {
namespace {

constexpr NameTable<SamplerKind, 3> kSamplerNames{{
    {SamplerKind::gmm, "gmm"},
    {SamplerKind::prior, "prior"},
    {SamplerKind::posterior, "posterior"},
}};

constexpr NameTable<MixtureInput, 2> kMixtureInputNames{{
    {MixtureInput::samples, "samples"},
    {MixtureInput::means, "means"},
}};

constexpr NameTable<LibrarySource, 2> kLibrarySourceNames{{
    {LibrarySource::regression, "regression"},
    {LibrarySource::cells, "cells"},
}};

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

}  // namespace

std::string_view to_string(SamplerKind kind) { return name_of(kSamplerNames, kind); }

SamplerKind parse_sampler_kind(std::string_view name) {
  return parse_name(kSamplerNames, name, "sampler");
}

std::string_view to_string(MixtureInput input) { return name_of(kMixtureInputNames, input); }

MixtureInput parse_mixture_input(std::string_view name) {
  return parse_name(kMixtureInputNames, name, "mixture input");
}

std::string_view to_string(LibrarySource source) { return name_of(kLibrarySourceNames, source); }

LibrarySource parse_library_source(std::string_view name) {
  return parse_name(kLibrarySourceNames, name, "library source");
}

std::vector<std::pair<std::string, std::int64_t>> parse_label_counts(std::string_view text,
                                                                     std::string_view flag) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  std::set<std::string> seen;
  const std::string where(flag);
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view entry = text.substr(start, comma - start);
    // The last '=' splits, so that a label may itself contain '='.
    const std::size_t eq = entry.rfind('=');
    if (eq == std::string_view::npos)
      throw InputError(where + ": expected NAME=COUNT, got '" + trim(entry) + "'");
    const std::string name = trim(entry.substr(0, eq));
    const std::string count = trim(entry.substr(eq + 1));
    if (name.empty()) throw InputError(where + ": empty label name in '" + trim(entry) + "'");
    std::size_t used = 0;
    long long n = -1;
    try {
      n = std::stoll(count, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != count.size() || count.empty() || n < 0)
      throw InputError(where + ": count of '" + name + "' must be an integer >= 0, got '" +
                       count + "'");
    if (!seen.insert(name).second) throw InputError(where + ": label '" + name + "' given twice");
    out.emplace_back(name, n);
    start = comma + 1;
  }
  return out;
}

}  // namespace cellvae::generate
