// The generation flags of `cellvae generate` (and of `augment`, which generates too).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cellvae/generate/cell_generator.hpp"

namespace cellvae::cli {

struct GenerateFlags {
  std::optional<std::int64_t> n_cells;
  std::string sampler;  ///< empty: the model's default
  std::string mixture_input = "samples";
  std::string library_source = "regression";
  std::string labels;  ///< "B cells=100,NK cells=50"
  std::optional<std::string> batch;
  std::optional<std::int64_t> component;
  std::optional<double> library_size;
  bool mean = false, counts = false;
  std::uint64_t seed = 0;
  std::int64_t max_components = 9;
};

/// Adds -n, --sampler, --mixture-on, --library-from, --labels, --batch, --component,
/// --library-size, --mean, --counts, --max-components and, with `with_seed`, --seed to `cmd`
/// (augment shares fit's --seed).
void add_generate_flags(CLI::App* cmd, GenerateFlags& flags, bool with_seed = true);

/// The options the flags ask for. -n defaults to the sum of --labels, else 1000. Throws
/// InputError naming the flag for malformed values.
generate::GenerateOptions resolve_generate_options(const GenerateFlags& flags);

/// "generate: 1000 cells, sampler gmm, counts drawn from the likelihood", the chosen latent
/// mixtures (per ensemble member, named by `names`, when there are several generators), then
/// "generate: done in 1.2 s (830 cells/s) -> out.h5ad", on stderr.
void print_generation_summary(const std::vector<generate::CellGenerator*>& generators,
                              const std::vector<std::string>& names, std::int64_t n_cells,
                              double seconds, const std::string& output);

}  // namespace cellvae::cli
