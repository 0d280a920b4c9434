// `cellvae simulate -o FILE`: the built-in negative binomial simulator.
#include <iostream>

#include "cellvae/io.hpp"
#include "cellvae/simulate.hpp"
#include "commands.hpp"

namespace cellvae::cli {

void add_simulate_command(CLI::App& app) {
  struct Args {
    SimulateOptions sim;
    std::string out;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "simulate",
      "Simulate negative binomial counts with cell groups, batch effects and varying library "
      "sizes (the built-in demo data)");
  SimulateOptions& s = args->sim;
  cmd->add_option("-o,--output", args->out, "output file (.h5ad, .csv, .tsv or a 10x folder)")
      ->required();
  cmd->add_option("--cells", s.n_cells, "number of cells")->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--genes", s.n_genes, "number of genes")->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--groups", s.n_groups, "cell groups (types), each with its own DE genes")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--batches", s.n_batches, "batches, each with gene-specific effects")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--seed", s.seed, "random seed")->capture_default_str();
  cmd->add_option("--library-median", s.library_median, "median total counts per cell")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--de-fraction", s.de_fraction, "fraction of genes DE in each group")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--batch-sd", s.batch_sd, "sd of per-gene log batch effects")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->callback([args] {
    const Dataset ds = simulate_counts(args->sim);
    write_dataset(ds, args->out);
    std::cerr << "simulated " << ds.n_cells() << " cells x " << ds.n_genes() << " genes ("
              << args->sim.n_groups << " groups, " << args->sim.n_batches << " batches, seed "
              << args->sim.seed << ") -> " << args->out << '\n';
  });
}

}  // namespace cellvae::cli
