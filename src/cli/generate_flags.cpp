#include "generate_flags.hpp"

#include <iostream>

#include "cellvae/error.hpp"
#include "progress.hpp"

namespace cellvae::cli {

void add_generate_flags(CLI::App* cmd, GenerateFlags& f, bool with_seed) {
  cmd->add_option("-n,--cells", f.n_cells,
                  "cells to generate (default: the sum of --labels, else 1000)");
  cmd->add_option("--sampler", f.sampler,
                  "gmm (latent Gaussian mixture per label, BIC-chosen; default) | prior | "
                  "posterior (around --from cells; default for --prior gmm models: prior)");
  cmd->add_option("--mixture-on", f.mixture_input,
                  "--sampler gmm: fit the latent mixtures to posterior samples (the aggregate "
                  "posterior) or to posterior means (VAExprs)")
      ->capture_default_str();
  cmd->add_option("--library-from", f.library_source,
                  "--sampler gmm: library sizes given z, from a per-label regression of log "
                  "library on z (regression), or from training cells of the same label and "
                  "batch, independent of z (cells)")
      ->capture_default_str();
  cmd->add_option("--labels", f.labels,
                  "exact cells per label, e.g. \"B cells=100,NK cells=50\" (default: drawn "
                  "with the training frequencies)");
  cmd->add_option("--batch", f.batch, "generate every cell as from this batch");
  cmd->add_option("--component", f.component,
                  "--sampler prior of a --prior gmm model: draw from this component (0-based)");
  cmd->add_option("--library-size", f.library_size,
                  "fix every cell's total count (default: see --library-from)");
  cmd->add_flag("--mean", f.mean, "expected expression instead of counts drawn from the model");
  cmd->add_flag("--counts", f.counts,
                "bernoulli/gaussian (vaexprs) models: counts through the training size factors "
                "instead of de-scaled log-normalized values");
  if (with_seed)
    cmd->add_option("--seed", f.seed, "random seed: the same seed gives the same cells")
        ->capture_default_str();
  cmd->add_option("--max-components", f.max_components,
                  "--sampler gmm: most mixture components tried per label (BIC picks)")
      ->capture_default_str();
}

generate::GenerateOptions resolve_generate_options(const GenerateFlags& f) {
  generate::GenerateOptions o;
  if (!f.sampler.empty()) {
    try {
      o.sampler = generate::parse_sampler_kind(f.sampler);
    } catch (const InputError& e) {
      throw InputError(std::string("--sampler: ") + e.what());
    }
  }
  try {
    o.mixture_input = generate::parse_mixture_input(f.mixture_input);
  } catch (const InputError& e) {
    throw InputError(std::string("--mixture-on: ") + e.what());
  }
  try {
    o.library_source = generate::parse_library_source(f.library_source);
  } catch (const InputError& e) {
    throw InputError(std::string("--library-from: ") + e.what());
  }
  if (!f.labels.empty()) o.label_counts = generate::parse_label_counts(f.labels, "--labels");
  std::int64_t label_total = 0;
  for (const auto& entry : o.label_counts) label_total += entry.second;
  o.n_cells = f.n_cells ? *f.n_cells : (o.label_counts.empty() ? 1000 : label_total);
  o.batch = f.batch;
  o.component = f.component;
  o.library_size = f.library_size;
  o.mean = f.mean;
  o.counts = f.counts;
  o.seed = f.seed;
  o.max_components = f.max_components;
  return o;
}

void print_generation_summary(const std::vector<generate::CellGenerator*>& generators,
                              const std::vector<std::string>& names, std::int64_t n_cells,
                              double seconds, const std::string& output) {
  const bool ensemble = generators.size() > 1;
  const nlohmann::json& first = generators.front()->provenance();
  std::cerr << "generate: " << n_cells << " cells";
  if (ensemble) std::cerr << " from an ensemble of " << generators.size() << " models";
  std::cerr << ", sampler " << first.at("sampler").get<std::string>() << ", "
            << first.at("values").get<std::string>() << '\n';
  for (std::size_t m = 0; m < generators.size(); ++m) {
    const nlohmann::json& p = generators[m]->provenance();
    std::string indent = "  ";
    if (ensemble) {
      std::cerr << "  " << names.at(m) << ": " << generators[m]->n_cells() << " cells\n";
      indent = "    ";
    }
    if (p.contains("mixtures"))
      for (const auto& mix : p.at("mixtures"))
        std::cerr << indent << "latent mixture for " << mix.at("label").get<std::string>() << ": "
                  << mix.at("components").get<long long>() << " x "
                  << mix.at("covariance").get<std::string>() << " (BIC "
                  << mix.at("bic").get<double>() << ", " << mix.at("fitted_cells").get<long long>()
                  << " cells)\n";
  }
  std::cerr << "generate: done in " << format_duration(seconds) << " ("
            << static_cast<long long>(seconds > 0 ? n_cells / seconds : 0) << " cells/s) -> "
            << output << '\n';
}

}  // namespace cellvae::cli
