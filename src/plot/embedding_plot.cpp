// `cellvae plot embedding`: real and generated cells in one PCA, UMAP or t-SNE of both together.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <unordered_map>

#include "cellvae/analysis/pca.hpp"
#include "cellvae/analysis/tsne.hpp"
#include "cellvae/analysis/umap.hpp"
#include "cellvae/enum_names.hpp"
#include "cellvae/error.hpp"
#include "cellvae/plot/plots.hpp"
#include "cellvae/random.hpp"

namespace cellvae::plot {

namespace {

constexpr NameTable<EmbeddingMethod, 3> kMethodNames{{
    {EmbeddingMethod::pca, "pca"}, {EmbeddingMethod::umap, "umap"}, {EmbeddingMethod::tsne, "tsne"}}};

}  // namespace

std::string_view to_string(EmbeddingMethod method) { return name_of(kMethodNames, method); }

std::string_view display_name(EmbeddingMethod method) {
  switch (method) {
    case EmbeddingMethod::pca: return "PCA";
    case EmbeddingMethod::umap: return "UMAP";
    case EmbeddingMethod::tsne: return "t-SNE";
  }
  return "?";
}

EmbeddingMethod parse_embedding_method(std::string_view name) {
  return parse_name(kMethodNames, name, "embedding method");
}

namespace {

/// One data set's cells as (shared gene, log-normalised value) entries per row.
struct Sparse {
  std::vector<std::int64_t> indptr{0};
  std::vector<std::int64_t> genes;
  std::vector<double> values;
};

void append_lognorm(Sparse& s, const CsrMatrix& X, const std::vector<std::int64_t>& to_shared,
                    double scale_factor) {
  for (std::int64_t i = 0; i < X.n_rows; ++i) {
    const auto b = X.indptr[static_cast<std::size_t>(i)], e = X.indptr[static_cast<std::size_t>(i) + 1];
    double total = 0;
    for (auto k = b; k < e; ++k)
      if (to_shared[static_cast<std::size_t>(X.indices[static_cast<std::size_t>(k)])] >= 0)
        total += X.data[static_cast<std::size_t>(k)];
    for (auto k = b; k < e && total > 0; ++k) {
      const std::int64_t j = to_shared[static_cast<std::size_t>(X.indices[static_cast<std::size_t>(k)])];
      const double v = X.data[static_cast<std::size_t>(k)];
      if (j < 0 || v == 0) continue;
      s.genes.push_back(j);
      s.values.push_back(std::log1p(scale_factor * v / total));
    }
    s.indptr.push_back(static_cast<std::int64_t>(s.genes.size()));
  }
}

/// The colour of each cell and the legend or colour bar explaining it.
struct Coloring {
  std::vector<Color> colors;
  std::vector<std::pair<std::string, Color>> legend;
  std::optional<std::pair<double, double>> ramp;
  std::string title;
};

const Color kMissing = rgb(0xBBBBBB);
// Shape legend entries: dark enough to read the shape, neutral so as not to suggest a colour.
const Color kShapeInk = rgb(0x555555);

Coloring categorical(const std::vector<std::string>& labels,
                     std::vector<std::string> order, const std::string& title) {
  Coloring c;
  c.title = title;
  std::map<std::string, Color> color_of;
  std::size_t k = 0;
  for (const auto& name : order) {
    if (name.empty()) continue;
    color_of[name] = category_color(k++);
    c.legend.emplace_back(name, color_of[name]);
  }
  bool any_missing = false;
  for (const auto& l : labels) {
    if (l.empty()) any_missing = true;
    c.colors.push_back(l.empty() ? kMissing : color_of.at(l));
  }
  if (any_missing) c.legend.emplace_back("missing", kMissing);
  return c;
}

/// The column `key` of both data sets (either may lack it, not both), for `flag`.
struct ColumnPair {
  std::string key;
  const Column* real = nullptr;
  const Column* generated = nullptr;
};

ColumnPair find_column(const Dataset& real, const Dataset* generated, const std::string& key,
                       const char* flag, std::vector<std::string>& warnings) {
  ColumnPair c{key, real.obs.find(key), generated ? generated->obs.find(key) : nullptr};
  if (!c.real && !c.generated) {
    std::string where = real.source;
    if (generated) where += " or " + generated->source;
    throw InputError(std::string(flag) + ": column '" + key + "' is not in the obs of " + where +
                     "; available: " + join_names(real.obs.column_names()));
  }
  if (generated && (!c.real || !c.generated))
    warnings.push_back("column '" + key + "' is only in " +
                       (c.real ? real.source : generated->source) +
                       "; the other cells are drawn as missing");
  return c;
}

bool is_numeric(const Column* c) {
  return !c || c->kind == ColumnKind::number || c->kind == ColumnKind::integer;
}

/// Distinct values of the column (as text), counting up to 1001 of them.
std::map<std::string, int> distinct_values(const ColumnPair& c) {
  std::map<std::string, int> distinct;
  for (const Column* col : {c.real, c.generated})
    if (col)
      for (std::size_t i = 0; i < col->size() && distinct.size() <= 1000; ++i)
        ++distinct[col->text(i)];
  return distinct;
}

/// Each cell's value as text, real cells first; "" where the cell's data set lacks the column.
std::vector<std::string> cell_texts(const ColumnPair& c, std::size_t n_real,
                                    std::size_t n_generated) {
  std::vector<std::string> labels;
  auto add = [&](const Column* col, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) labels.push_back(col ? col->text(i) : std::string());
  };
  add(c.real, n_real);
  add(c.generated, n_generated);
  return labels;
}

/// The categories present among `labels`, in legend order: a categorical column's own order,
/// then the others sorted (numerically for integers).
std::vector<std::string> category_order(const ColumnPair& c,
                                        const std::map<std::string, int>& distinct,
                                        const std::vector<std::string>& labels) {
  std::vector<std::string> order;
  for (const Column* col : {c.real, c.generated})
    if (col && col->kind == ColumnKind::categorical)
      for (const auto& cat : col->categories)
        if (std::find(order.begin(), order.end(), cat) == order.end()) order.push_back(cat);
  std::vector<std::string> rest;
  for (const auto& [name, n] : distinct)
    if (std::find(order.begin(), order.end(), name) == order.end()) rest.push_back(name);
  if (is_numeric(c.real) && is_numeric(c.generated))
    std::sort(rest.begin(), rest.end(), [](const std::string& a, const std::string& b) {
      return std::stoll(a) < std::stoll(b);
    });
  order.insert(order.end(), rest.begin(), rest.end());
  // Only categories present in the cells drawn get a legend entry.
  std::map<std::string, int> present;
  for (const auto& l : labels) ++present[l];
  order.erase(std::remove_if(order.begin(), order.end(),
                             [&](const std::string& s) { return !present.count(s); }),
              order.end());
  return order;
}

/// Real vs generated as per-cell labels, or nothing when "origin" should be read from a
/// column (a single data set that has one).
std::optional<std::vector<std::string>> origin_labels(const Dataset& real, const Dataset* generated,
                                                      const EmbeddingPlotOptions& o) {
  if (!generated && real.obs.find("origin")) return std::nullopt;
  std::vector<std::string> labels(static_cast<std::size_t>(real.n_cells()), o.real_name);
  if (generated)
    labels.insert(labels.end(), static_cast<std::size_t>(generated->n_cells()), o.generated_name);
  return labels;
}

Coloring color_cells(const Dataset& real, const Dataset* generated, const EmbeddingPlotOptions& o,
                     std::vector<std::string>& warnings) {
  const std::size_t nr = static_cast<std::size_t>(real.n_cells());
  const std::size_t ng = generated ? static_cast<std::size_t>(generated->n_cells()) : 0;
  const bool origin = o.color_by.empty() || o.color_by == "origin";
  if (origin)
    if (auto labels = origin_labels(real, generated, o))
      return categorical(*labels,
                         generated ? std::vector<std::string>{o.real_name, o.generated_name}
                                   : std::vector<std::string>{o.real_name},
                         "origin");
  const ColumnPair col =
      find_column(real, generated, origin ? "origin" : o.color_by, "--color-by", warnings);
  const std::string& key = col.key;
  const Column *rc = col.real, *gc = col.generated;

  // Distinct values, to decide whether an integer column is a code or a quantity.
  const std::map<std::string, int> distinct = distinct_values(col);
  const bool any_number = (rc && rc->kind == ColumnKind::number) || (gc && gc->kind == ColumnKind::number);
  const bool numeric = is_numeric(rc) && is_numeric(gc) &&
                       (any_number || static_cast<std::int64_t>(distinct.size()) > o.max_categories);
  if (numeric) {
    std::vector<double> v;
    auto add = [&](const Column* c, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i)
        v.push_back(!c ? NAN
                       : c->kind == ColumnKind::number ? c->numbers[i]
                                                       : static_cast<double>(c->integers[i]));
    };
    add(rc, nr);
    add(gc, ng);
    double lo = INFINITY, hi = -INFINITY;
    for (double x : v)
      if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
    if (!(lo <= hi)) lo = 0, hi = 1;
    Coloring c;
    c.title = key;
    c.ramp = std::make_pair(lo, hi);
    for (double x : v)
      c.colors.push_back(std::isfinite(x) ? ramp_color(hi > lo ? (x - lo) / (hi - lo) : 0.5)
                                          : kMissing);
    if (std::any_of(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }))
      c.legend.emplace_back("missing", kMissing);
    return c;
  }
  const std::vector<std::string> labels = cell_texts(col, nr, ng);
  const std::vector<std::string> order = category_order(col, distinct, labels);
  if (static_cast<std::int64_t>(order.size()) > o.max_categories)
    throw InputError("--color-by: column '" + key + "' has " + std::to_string(order.size()) +
                     " distinct values; at most " + std::to_string(o.max_categories) +
                     " can be told apart by colour");
  return categorical(labels, order, key);
}

/// The marker of each cell and the legend explaining them.
struct Shaping {
  std::vector<Marker> markers;
  std::vector<std::pair<std::string, Marker>> legend;
  std::string title;
};

Shaping shape_cells(const Dataset& real, const Dataset* generated, const EmbeddingPlotOptions& o,
                    std::vector<std::string>& warnings) {
  const std::size_t nr = static_cast<std::size_t>(real.n_cells());
  const std::size_t ng = generated ? static_cast<std::size_t>(generated->n_cells()) : 0;
  std::vector<std::string> labels, order;
  std::string key = o.shape_by;
  std::optional<std::vector<std::string>> origin;
  if (key == "origin") origin = origin_labels(real, generated, o);
  if (origin) {
    labels = std::move(*origin);
    order = {o.real_name};
    if (generated) order.push_back(o.generated_name);
  } else {
    const ColumnPair col = find_column(real, generated, key, "--shape-by", warnings);
    for (const Column* c : {col.real, col.generated})
      if (c && c->kind == ColumnKind::number)
        throw InputError("--shape-by: column '" + key +
                         "' holds numbers; marker shapes need a categorical column (use "
                         "--color-by for numbers)");
    labels = cell_texts(col, nr, ng);
    order = category_order(col, distinct_values(col), labels);
  }
  const bool any_missing =
      std::any_of(labels.begin(), labels.end(), [](const std::string& l) { return l.empty(); });
  const std::size_t needed = order.size() + (any_missing ? 1 : 0);
  if (needed > kMarkerCount)
    throw InputError("--shape-by: column '" + key + "' has " + std::to_string(order.size()) +
                     " distinct values" + (any_missing ? " (and missing ones)" : "") + "; only " +
                     std::to_string(kMarkerCount) +
                     " marker shapes can be told apart: use --color-by for this column");
  Shaping s;
  s.title = key;
  std::map<std::string, Marker> marker_of;
  for (std::size_t k = 0; k < order.size(); ++k) {
    marker_of[order[k]] = marker_cycle(k);
    s.legend.emplace_back(order[k], marker_cycle(k));
  }
  const Marker missing = marker_cycle(order.size());
  for (const auto& l : labels) s.markers.push_back(l.empty() ? missing : marker_of.at(l));
  if (any_missing) s.legend.emplace_back("missing", missing);
  return s;
}

std::string percent(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100 * f);
  return buf;
}

}  // namespace

EmbeddingFigure embedding_figure(const Dataset& real, const Dataset* generated,
                                 const EmbeddingPlotOptions& o) {
  if (o.n_top_genes < 2) throw InputError("--n-top-genes must be at least 2");
  if (!(o.scale_factor > 0)) throw InputError("scale factor must be positive");
  EmbeddingFigure out{Figure(1, 1, 560, 430), {}, {}, {}, 0, {}};
  // Colours first: a bad column should fail before the PCA's work.
  const Coloring coloring = color_cells(real, generated, o, out.warnings);
  std::optional<Shaping> shaping;
  if (!o.shape_by.empty()) shaping = shape_cells(real, generated, o, out.warnings);

  // Shared genes by name (all of the real data's genes without a generated set).
  std::vector<std::int64_t> real_to(static_cast<std::size_t>(real.n_genes()), -1);
  std::vector<std::int64_t> gen_to(generated ? static_cast<std::size_t>(generated->n_genes()) : 0,
                                   -1);
  std::int64_t n_shared = 0;
  if (generated) {
    std::unordered_map<std::string, std::int64_t> gen_col;
    for (std::size_t j = 0; j < generated->var.index.size(); ++j)
      gen_col.emplace(generated->var.index[j], static_cast<std::int64_t>(j));
    for (std::size_t j = 0; j < real.var.index.size(); ++j) {
      auto it = gen_col.find(real.var.index[j]);
      if (it == gen_col.end()) continue;
      real_to[j] = n_shared;
      gen_to[static_cast<std::size_t>(it->second)] = n_shared++;
    }
  } else {
    std::iota(real_to.begin(), real_to.end(), 0);
    n_shared = real.n_genes();
  }
  if (n_shared < 2)
    throw InputError((generated ? real.source + " and " + generated->source + " share " : real.source + " has ") +
                     std::to_string(n_shared) + " genes; an embedding needs at least 2");

  Sparse s;
  append_lognorm(s, real.X, real_to, o.scale_factor);
  if (generated) append_lognorm(s, generated->X, gen_to, o.scale_factor);
  const auto n = static_cast<std::int64_t>(s.indptr.size()) - 1;
  if (n < 3) throw InputError("an embedding needs at least 3 cells; got " + std::to_string(n));

  // The most variable genes of the pooled log-normalised values (ties by gene order).
  const auto g = static_cast<std::size_t>(n_shared);
  std::vector<double> sum(g, 0), sumsq(g, 0);
  for (std::size_t k = 0; k < s.genes.size(); ++k) {
    sum[static_cast<std::size_t>(s.genes[k])] += s.values[k];
    sumsq[static_cast<std::size_t>(s.genes[k])] += s.values[k] * s.values[k];
  }
  std::vector<double> var(g);
  for (std::size_t j = 0; j < g; ++j) {
    const double m = sum[j] / static_cast<double>(n);
    var[j] = (sumsq[j] - static_cast<double>(n) * m * m) / static_cast<double>(n - 1);
  }
  std::vector<std::int64_t> order(g);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return var[static_cast<std::size_t>(a)] > var[static_cast<std::size_t>(b)];
  });
  const auto k = static_cast<std::int64_t>(std::min<std::size_t>(g, static_cast<std::size_t>(o.n_top_genes)));
  std::vector<std::int64_t> column(g, -1);
  for (std::int64_t c = 0; c < k; ++c) column[static_cast<std::size_t>(order[static_cast<std::size_t>(c)])] = c;
  out.n_genes_used = k;

  torch::Tensor x = torch::zeros({n, k}, torch::kFloat32);
  auto xa = x.accessor<float, 2>();
  for (std::int64_t i = 0; i < n; ++i)
    for (auto p = s.indptr[static_cast<std::size_t>(i)]; p < s.indptr[static_cast<std::size_t>(i) + 1]; ++p) {
      const std::int64_t c = column[static_cast<std::size_t>(s.genes[static_cast<std::size_t>(p)])];
      if (c >= 0) xa[i][c] = static_cast<float>(s.values[static_cast<std::size_t>(p)]);
    }
  const bool pca_only = o.method == EmbeddingMethod::pca;
  analysis::PcaOptions po;
  po.n_components = pca_only ? 2 : std::max<std::int64_t>(2, std::min({o.n_pcs, k, n - 1}));
  po.seed = o.seed;
  const analysis::PcaResult pca = analysis::run_pca(x, po);
  torch::Tensor coords = pca.scores.to(torch::kFloat64).contiguous();
  if (o.method == EmbeddingMethod::umap) {
    analysis::UmapOptions uo;
    uo.n_neighbors = std::min<std::int64_t>(uo.n_neighbors, n - 1);
    uo.seed = o.seed;
    coords = analysis::umap(coords, uo).embedding;
  } else if (o.method == EmbeddingMethod::tsne) {
    analysis::TsneOptions to;
    // Perplexity must stay below the number of cells; 30 is the default for real data.
    to.perplexity = std::min(to.perplexity, std::max(1.0, static_cast<double>(n - 1) / 3.0));
    to.seed = o.seed;
    coords = analysis::tsne(coords, to).embedding;
  }
  coords = coords.to(torch::kFloat64).contiguous();
  const auto sa = coords.accessor<double, 2>();
  for (std::int64_t i = 0; i < n; ++i) {
    out.x.push_back(sa[i][0]);
    out.y.push_back(coords.size(1) > 1 ? sa[i][1] : 0.0);
  }
  const torch::Tensor ratio = pca.explained_variance_ratio.to(torch::kFloat64);
  for (std::int64_t c = 0; c < pca.n_components; ++c) out.explained_variance_ratio.push_back(ratio[c].item<double>());

  // Drawn in a seeded random order so neither data set (nor any category) hides the others.
  std::vector<std::int64_t> draw(static_cast<std::size_t>(n));
  std::iota(draw.begin(), draw.end(), 0);
  Rng rng(o.seed ^ 0x9E3779B97F4A7C15ULL);
  rng.shuffle(draw);
  std::vector<double> px, py;
  std::vector<Color> pc;
  std::vector<Marker> pm;
  const double alpha = n > 20000 ? 0.55 : n > 3000 ? 0.7 : 0.85;
  for (std::int64_t i : draw) {
    px.push_back(out.x[static_cast<std::size_t>(i)]);
    py.push_back(out.y[static_cast<std::size_t>(i)]);
    pc.push_back(coloring.colors[static_cast<std::size_t>(i)].with_alpha(alpha));
    if (shaping) pm.push_back(shaping->markers[static_cast<std::size_t>(i)]);
  }
  double radius = std::clamp(3.4 - 0.55 * std::log10(static_cast<double>(n)), 0.9, 2.6);
  // Shapes need a little more room than dots to be told apart.
  if (shaping) radius *= 1.3;

  Axes& ax = out.figure.axes(0, 0);
  if (shaping) {
    ax.points(std::move(px), std::move(py), std::move(pc), std::move(pm), radius);
    // Two legends in one: headed, colours first, then the shapes in a neutral grey.
    if (!coloring.legend.empty())
      ax.legend_heading(coloring.ramp ? coloring.title + " (colour)" : coloring.title);
    for (const auto& [label, color] : coloring.legend) ax.legend_entry(label, color);
    ax.legend_heading(shaping->title);
    for (const auto& [label, marker] : shaping->legend) ax.legend_entry(label, kShapeInk, marker);
  } else {
    ax.points(std::move(px), std::move(py), std::move(pc), radius);
    for (const auto& [label, color] : coloring.legend) ax.legend_entry(label, color);
  }
  if (coloring.ramp) ax.colorbar(coloring.ramp->first, coloring.ramp->second, coloring.title);
  ax.set_legend(LegendPlacement::outside_right);
  const auto evr = out.explained_variance_ratio;
  const std::string method(display_name(o.method));
  if (pca_only) {
    ax.set_xlabel("PC1" + (evr.size() > 0 ? " (" + percent(evr[0]) + " of variance)" : ""));
    ax.set_ylabel("PC2" + (evr.size() > 1 ? " (" + percent(evr[1]) + " of variance)" : ""));
  } else {
    const std::string sep = o.method == EmbeddingMethod::tsne ? " " : "";
    ax.set_xlabel(method + sep + "1");
    ax.set_ylabel(method + sep + "2");
  }
  std::string title = o.title;
  if (title.empty()) title = method + (generated ? " of real and generated cells" : " of cells");
  ax.set_title(title);
  std::string sub = std::to_string(real.n_cells()) + " " + o.real_name;
  if (generated) sub += " + " + std::to_string(generated->n_cells()) + " " + o.generated_name;
  // Short enough to fit above the panel when the legend takes the right side.
  sub += " cells; top " + std::to_string(k) + " of " + std::to_string(n_shared) +
         (generated ? " shared" : "") + " genes";
  if (!pca_only) sub += ", " + std::to_string(pca.n_components) + " PCs";
  ax.set_subtitle(sub);
  return out;
}

}  // namespace cellvae::plot
