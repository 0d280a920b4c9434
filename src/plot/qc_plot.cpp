// `cellvae plot qc`: per-cell and per-gene count statistics of real and generated cells.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "cellvae/error.hpp"
#include "cellvae/plot/plots.hpp"

namespace cellvae::plot {

namespace {

struct CountStats {
  std::vector<double> library, zero_fraction;  // per cell
  std::vector<double> mean, variance, gene_zero_fraction;  // per shared gene
};

/// Statistics over the shared genes; `to_shared` maps a column to its shared index or -1.
CountStats count_stats(const CsrMatrix& X, const std::vector<std::int64_t>& to_shared,
                       std::int64_t n_shared) {
  CountStats s;
  const auto g = static_cast<std::size_t>(n_shared);
  std::vector<double> sum(g, 0), sumsq(g, 0), nnz(g, 0);
  for (std::int64_t i = 0; i < X.n_rows; ++i) {
    double lib = 0, expressed = 0;
    for (auto k = X.indptr[static_cast<std::size_t>(i)];
         k < X.indptr[static_cast<std::size_t>(i) + 1]; ++k) {
      const std::int64_t j = to_shared[static_cast<std::size_t>(X.indices[static_cast<std::size_t>(k)])];
      const double v = X.data[static_cast<std::size_t>(k)];
      if (j < 0 || v == 0) continue;
      lib += v;
      expressed += 1;
      sum[static_cast<std::size_t>(j)] += v;
      sumsq[static_cast<std::size_t>(j)] += v * v;
      nnz[static_cast<std::size_t>(j)] += 1;
    }
    s.library.push_back(lib);
    s.zero_fraction.push_back(1 - expressed / static_cast<double>(n_shared));
  }
  const auto n = static_cast<double>(X.n_rows);
  for (std::size_t j = 0; j < g; ++j) {
    const double m = sum[j] / n;
    s.mean.push_back(m);
    s.variance.push_back(n > 1 ? std::max(0.0, (sumsq[j] - n * m * m) / (n - 1)) : 0.0);
    s.gene_zero_fraction.push_back(1 - nnz[j] / n);
  }
  return s;
}

std::pair<double, double> finite_range(const std::vector<double>& a, const std::vector<double>& b,
                                       bool positive) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto* v : {&a, &b})
    for (double x : *v)
      if (std::isfinite(x) && (!positive || x > 0)) {
        lo = std::min(lo, x);
        hi = std::max(hi, x);
      }
  if (!(lo <= hi)) return positive ? std::make_pair(1.0, 10.0) : std::make_pair(0.0, 1.0);
  return {lo, hi};
}

}  // namespace

QcFigure qc_figure(const Dataset& real, const Dataset& generated, const QcPlotOptions& options) {
  if (options.bins < 2) throw InputError("qc plot: bins must be at least 2");
  for (const Dataset* d : {&real, &generated})
    if (d->n_cells() == 0) throw InputError(d->source + " has no cells");

  // Shared genes by name, in the real data's order.
  std::unordered_map<std::string, std::int64_t> gen_col;
  for (std::size_t j = 0; j < generated.var.index.size(); ++j)
    gen_col.emplace(generated.var.index[j], static_cast<std::int64_t>(j));
  std::vector<std::int64_t> real_to(static_cast<std::size_t>(real.n_genes()), -1),
      gen_to(static_cast<std::size_t>(generated.n_genes()), -1);
  std::int64_t n_shared = 0;
  for (std::size_t j = 0; j < real.var.index.size(); ++j) {
    auto it = gen_col.find(real.var.index[j]);
    if (it == gen_col.end()) continue;
    real_to[j] = n_shared;
    gen_to[static_cast<std::size_t>(it->second)] = n_shared;
    ++n_shared;
  }
  if (n_shared < options.min_shared_genes)
    throw InputError(real.source + " and " + generated.source + " share " +
                     std::to_string(n_shared) + " gene names; the qc plot needs at least " +
                     std::to_string(options.min_shared_genes));

  const CountStats r = count_stats(real.X, real_to, n_shared);
  const CountStats g = count_stats(generated.X, gen_to, n_shared);

  QcFigure out{Figure(2, 2, 330, 270)};
  out.n_shared_genes = n_shared;
  auto count_if = [](const std::vector<double>& v, auto pred) {
    return static_cast<std::int64_t>(std::count_if(v.begin(), v.end(), pred));
  };
  out.real_empty_cells = count_if(r.library, [](double v) { return !(v > 0); });
  out.generated_empty_cells = count_if(g.library, [](double v) { return !(v > 0); });
  out.real_dropped_genes = count_if(r.mean, [](double v) { return !(v > 0); });
  out.generated_dropped_genes = count_if(g.mean, [](double v) { return !(v > 0); });

  Figure& fig = out.figure;
  fig.set_title(options.title);
  const Color rc = category_color(0), gc = category_color(1);
  const std::string rn = options.real_name + " (" + std::to_string(real.n_cells()) + " cells)";
  const std::string gn =
      options.generated_name + " (" + std::to_string(generated.n_cells()) + " cells)";

  {
    Axes& ax = fig.axes(0, 0);
    ax.set_title("Library size");
    ax.set_subtitle("total counts over " + std::to_string(n_shared) + " shared genes");
    ax.set_xlabel("total counts per cell");
    ax.set_ylabel("fraction of cells");
    ax.set_xscale(Scale::log10);
    const auto [lo, hi] = finite_range(r.library, g.library, true);
    const auto edges = log_edges(lo, hi, options.bins);
    ax.histogram(r.library, edges, HistogramStyle{rc}, rn);
    ax.histogram(g.library, edges, HistogramStyle{gc}, gn);
  }
  {
    Axes& ax = fig.axes(0, 1);
    ax.set_title("Zero fraction per cell");
    ax.set_subtitle("share of the " + std::to_string(n_shared) + " genes with count 0");
    ax.set_xlabel("fraction of genes with zero count");
    ax.set_ylabel("fraction of cells");
    const auto [lo, hi] = finite_range(r.zero_fraction, g.zero_fraction, false);
    const auto edges = linear_edges(lo, hi, options.bins);
    ax.histogram(r.zero_fraction, edges, HistogramStyle{rc}, options.real_name);
    ax.histogram(g.zero_fraction, edges, HistogramStyle{gc}, options.generated_name);
  }
  // Smaller, translucent points when there are many genes, so that density still reads.
  const double radius = n_shared > 5000 ? 1.1 : n_shared > 1000 ? 1.5 : 2.2;
  const double alpha = n_shared > 5000 ? 0.35 : 0.6;
  const auto [mlo, mhi] = finite_range(r.mean, g.mean, true);
  const auto mgrid = log_edges(mlo, mhi, 100);
  {
    Axes& ax = fig.axes(1, 0);
    ax.set_title("Gene mean vs variance");
    ax.set_subtitle("per gene, raw counts (genes with mean 0 left out)");
    ax.set_xlabel("mean count");
    ax.set_ylabel("variance");
    ax.set_xscale(Scale::log10);
    ax.set_yscale(Scale::log10);
    ax.points(r.mean, r.variance, PointStyle{rc.with_alpha(alpha), radius}, options.real_name);
    ax.points(g.mean, g.variance, PointStyle{gc.with_alpha(alpha), radius},
              options.generated_name);
    ax.line(mgrid, mgrid, LineStyle{rgb(0x333333), 1.1, Dash::dashed}, "Poisson (var = mean)");
  }
  {
    Axes& ax = fig.axes(1, 1);
    ax.set_title("Gene mean vs zero fraction");
    ax.set_subtitle("per gene, raw counts");
    ax.set_xlabel("mean count");
    ax.set_ylabel("fraction of cells with zero count");
    ax.set_xscale(Scale::log10);
    ax.points(r.mean, r.gene_zero_fraction, PointStyle{rc.with_alpha(alpha), radius},
              options.real_name);
    ax.points(g.mean, g.gene_zero_fraction, PointStyle{gc.with_alpha(alpha), radius},
              options.generated_name);
    std::vector<double> pz;
    for (double m : mgrid) pz.push_back(std::exp(-m));
    ax.line(mgrid, pz, LineStyle{rgb(0x333333), 1.1, Dash::dashed}, "Poisson exp(−mean)");
  }
  return out;
}

}  // namespace cellvae::plot
