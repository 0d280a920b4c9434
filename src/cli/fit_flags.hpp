// The model and training flags of `cellvae fit` (and of `augment`, which fits too). Every flag
// is optional: the options start from --preset, then --config FILE.json, then the flags given.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "cellvae/pipeline/fit_options.hpp"

namespace cellvae::cli {

struct FitFlags {
  std::string preset = "scvi";
  std::string config;  ///< JSON file with FitOptions keys
  std::optional<std::string> label_key, batch_key, likelihood, dispersion, library, prior,
      activation, norm, input, injection, optimizer, device, hidden, decoder_hidden, sparse_input;
  std::optional<std::int64_t> latent_dim, components, epochs, batch_size, patience, lr_patience,
      n_top_genes, min_cells, min_genes;
  std::optional<double> dropout, kl_weight, kl_warmup, lr, weight_decay, validation_split,
      min_delta, clip, min_counts, lr_factor;
  std::optional<std::uint64_t> seed;
  std::optional<int> threads;
  bool no_restore_best = false;
  bool no_batch_covariate = false;
  bool allow_non_integer = false;
  bool plain_kernels = false;
  bool zi_expected_library = false;
};

/// Adds the flags to `cmd`, stored into `flags`.
void add_fit_flags(CLI::App* cmd, FitFlags& flags);

/// Preset, then config file, then flags. Throws InputError for unknown names (naming the flag)
/// and an unreadable or invalid config file.
pipeline::FitOptions resolve_fit_options(const FitFlags& flags);

}  // namespace cellvae::cli
