// A built-in simulator of single-cell count data: the default data for `make demo` and tests.
#pragma once

#include <cstdint>

#include "cellvae/dataset.hpp"

namespace cellvae {

/// Negative binomial counts with cell groups, batches and varying library sizes.
///
/// Generative model, per gene g, group k, batch b, cell c:
/// - base expression proportion q_g ~ Gamma(base_shape, 1), normalised over genes, so that a few
///   genes take most of the counts and many are rarely seen (realistic sparsity);
/// - each group has a `de_fraction` of genes differentially expressed: log fold change
///   ±LogNormal(de_log_mean, de_log_sd), up or down with equal chance;
/// - each batch multiplies every gene by exp(N(0, batch_sd)) (a gene-specific batch effect);
/// - library size L_c ~ LogNormal(log(library_median), library_sdlog);
/// - count x_cg ~ NB(mean = L_c p_{g|k,b}, inverse dispersion theta_g), with
///   theta_g ~ LogNormal(log(theta_median), 0.5), where p_{.|k,b} are the proportions above
///   renormalised per group and batch.
/// Group sizes follow weights drawn from Gamma(group_weight_shape) (unequal, as real cell types
/// are); batches are assigned uniformly.
struct SimulateOptions {
  std::int64_t n_cells = 2000;     ///< > 0
  std::int64_t n_genes = 1000;     ///< > 0
  std::int64_t n_groups = 3;       ///< cell types, >= 1
  std::int64_t n_batches = 1;      ///< >= 1
  std::uint64_t seed = 42;
  double library_median = 1500.0;  ///< median total counts per cell, > 0
  double library_sdlog = 0.35;     ///< spread of log library sizes, >= 0
  double base_shape = 0.35;        ///< Gamma shape of gene proportions; smaller = sparser
  double de_fraction = 0.1;        ///< fraction of genes DE per group, in [0, 1]
  double de_log_mean = 0.0;        ///< mean of the log of |log fold change|: exp(0) = 1 nat
  double de_log_sd = 0.4;
  double batch_sd = 0.25;          ///< sd of per-gene log batch effects, >= 0
  double theta_median = 3.0;       ///< median NB inverse dispersion, > 0
  double group_weight_shape = 4.0; ///< Gamma shape of group weights (larger = more equal)
};

/// Simulated data set: X counts (cells x genes), obs `group` and `batch` (categorical) and
/// `library_size` (integer total count), var `de_group` (the group a gene is DE in, "" if none),
/// uns with the simulator and its options. Cells are named cell1.., genes gene1...
/// Throws InputError on options out of range.
Dataset simulate_counts(const SimulateOptions& options);

}  // namespace cellvae
