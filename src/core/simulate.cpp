#include "cellvae/simulate.hpp"

#include <cmath>
#include <string>

#include "cellvae/error.hpp"
#include "cellvae/random.hpp"

namespace cellvae {

namespace {
void require(bool ok, const char* message) {
  if (!ok) throw InputError(std::string("simulate: ") + message);
}
}  // namespace

Dataset simulate_counts(const SimulateOptions& o) {
  require(o.n_cells > 0, "--cells must be positive");
  require(o.n_genes > 0 && o.n_genes < INT32_MAX, "--genes must be positive");
  require(o.n_groups >= 1, "--groups must be at least 1");
  require(o.n_batches >= 1, "--batches must be at least 1");
  require(o.library_median > 0, "--library-median must be positive");
  require(o.library_sdlog >= 0 && o.batch_sd >= 0 && o.de_log_sd >= 0, "spreads must be >= 0");
  require(o.de_fraction >= 0 && o.de_fraction <= 1, "DE fraction must be in [0, 1]");
  require(o.base_shape > 0 && o.theta_median > 0 && o.group_weight_shape > 0,
          "shapes and dispersion must be positive");

  Rng rng(o.seed);
  const std::int64_t G = o.n_genes, K = o.n_groups, B = o.n_batches;

  std::vector<double> base(G), theta(G);
  for (auto& q : base) q = rng.gamma(o.base_shape) + 1e-6;
  for (auto& t : theta) t = o.theta_median * std::exp(0.5 * rng.normal());

  // Log fold changes: each group gets its own DE genes.
  std::vector<double> log_fc(static_cast<std::size_t>(K * G), 0.0);
  std::vector<std::string> de_group(G);
  if (K > 1) {
    for (std::int64_t k = 0; k < K; ++k) {
      for (std::int64_t g = 0; g < G; ++g) {
        if (rng.uniform() >= o.de_fraction) continue;
        const double magnitude = std::exp(o.de_log_mean + o.de_log_sd * rng.normal());
        log_fc[k * G + g] = rng.uniform() < 0.5 ? magnitude : -magnitude;
        if (de_group[g].empty()) de_group[g] = "group" + std::to_string(k + 1);
      }
    }
  }
  std::vector<double> batch_effect(static_cast<std::size_t>(B * G), 0.0);
  if (B > 1)
    for (auto& e : batch_effect) e = o.batch_sd * rng.normal();

  // Expression proportions per (group, batch), normalised over genes.
  std::vector<double> prop(static_cast<std::size_t>(K * B * G));
  for (std::int64_t k = 0; k < K; ++k) {
    for (std::int64_t b = 0; b < B; ++b) {
      double* p = &prop[(k * B + b) * G];
      double total = 0;
      for (std::int64_t g = 0; g < G; ++g) {
        p[g] = base[g] * std::exp(log_fc[k * G + g] + batch_effect[b * G + g]);
        total += p[g];
      }
      for (std::int64_t g = 0; g < G; ++g) p[g] /= total;
    }
  }

  std::vector<double> weights(K);
  double weight_total = 0;
  for (auto& w : weights) weight_total += (w = rng.gamma(o.group_weight_shape));

  Dataset ds;
  ds.X.n_rows = o.n_cells;
  ds.X.n_cols = G;
  ds.X.indptr.assign(o.n_cells + 1, 0);
  std::vector<std::int32_t> group_code(o.n_cells), batch_code(o.n_cells);
  std::vector<std::int64_t> library(o.n_cells);
  ds.obs.index.resize(o.n_cells);
  for (std::int64_t c = 0; c < o.n_cells; ++c) {
    double u = rng.uniform() * weight_total;
    std::int32_t k = 0;
    while (k + 1 < K && u >= weights[k]) u -= weights[k++];
    const auto b = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(B)));
    const double lib = o.library_median * std::exp(o.library_sdlog * rng.normal());
    const double* p = &prop[(k * B + b) * G];
    std::int64_t total = 0;
    for (std::int64_t g = 0; g < G; ++g) {
      const std::int64_t x = rng.negative_binomial(lib * p[g], theta[g]);
      if (x == 0) continue;
      ds.X.indices.push_back(static_cast<std::int32_t>(g));
      ds.X.data.push_back(static_cast<float>(x));
      total += x;
    }
    ds.X.indptr[c + 1] = ds.X.nnz();
    group_code[c] = k;
    batch_code[c] = b;
    library[c] = total;
    ds.obs.index[c] = "cell" + std::to_string(c + 1);
  }

  std::vector<std::string> groups, batches;
  for (std::int64_t k = 0; k < K; ++k) groups.push_back("group" + std::to_string(k + 1));
  for (std::int64_t b = 0; b < B; ++b) batches.push_back("batch" + std::to_string(b + 1));
  ds.obs.set(Column::make_categorical("group", groups, std::move(group_code)));
  ds.obs.set(Column::make_categorical("batch", batches, std::move(batch_code)));
  ds.obs.set(Column::make_integer("library_size", std::move(library)));

  ds.var.index.resize(G);
  for (std::int64_t g = 0; g < G; ++g) ds.var.index[g] = "gene" + std::to_string(g + 1);
  ds.var.set(Column::make_string("de_group", std::move(de_group)));

  ds.uns["simulator"] = std::string("cellvae negative binomial simulator");
  ds.uns["seed"] = static_cast<std::int64_t>(o.seed);
  ds.uns["library_median"] = o.library_median;
  ds.uns["label_key"] = std::string("group");
  ds.uns["batch_key"] = std::string("batch");
  return ds;
}

}  // namespace cellvae
