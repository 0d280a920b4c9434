#include "cellvae/analysis/fidelity.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "cellvae/analysis/classifier.hpp"
#include "cellvae/analysis/correlation.hpp"
#include "cellvae/analysis/neighbors.hpp"
#include "cellvae/analysis/pca.hpp"
#include "cellvae/analysis/roc_auc.hpp"
#include "cellvae/analysis/two_sample.hpp"
#include "cellvae/count_check.hpp"
#include "cellvae/error.hpp"
#include "cellvae/random.hpp"

namespace cellvae::analysis {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Independent seeds for each random choice, so that e.g. adding --control does not change the
/// generated row.
enum class Stream : std::uint64_t { real = 1, generated, control, train, pca, folds, forest };

std::uint64_t stream_seed(std::uint64_t seed, Stream s) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(s);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// One input restricted to the shared genes and subsampled: log-normalised values as a dense
/// tensor, the count statistics read straight from the sparse rows.
struct Sample {
  torch::Tensor logn;                ///< n x G float64, log1p(count / library * scale_factor)
  torch::Tensor library;             ///< n, total count over the shared genes
  torch::Tensor cell_zero_fraction;  ///< n, fraction of shared genes with count 0
  torch::Tensor gene_zero_fraction;  ///< G, fraction of cells with count 0
  double zero_fraction = 0;          ///< of all n x G entries
  std::vector<std::string> labels;   ///< per cell ("" = missing); empty without a label key
  std::int64_t n() const { return logn.size(0); }
};

/// Rows of a data set still to be read: the training cells, projected in chunks.
struct RowSource {
  const Dataset* ds = nullptr;
  std::vector<std::int64_t> rows;
  std::vector<std::int64_t> column_map;
};

std::string describe(const Dataset& ds, const std::string& role) {
  return ds.source.empty() ? role : role + " (" + ds.source + ")";
}

/// `k` of 0..n-1 without replacement, sorted (all of them when k >= n).
std::vector<std::int64_t> choose_rows(std::int64_t n, std::int64_t k, std::uint64_t seed) {
  std::vector<std::int64_t> all(static_cast<std::size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  if (k >= n) return all;
  Rng rng(seed);
  for (std::int64_t i = 0; i < k; ++i) {  // partial Fisher-Yates
    const auto j = i + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n - i)));
    std::swap(all[i], all[j]);
  }
  all.resize(static_cast<std::size_t>(k));
  std::sort(all.begin(), all.end());
  return all;
}

/// For each column of `ds`, its index among the shared genes or -1.
std::vector<std::int64_t> shared_columns(
    const Dataset& ds, const std::unordered_map<std::string, std::int64_t>& shared) {
  std::vector<std::int64_t> map(static_cast<std::size_t>(ds.n_genes()), -1);
  std::unordered_set<std::int64_t> taken;
  for (std::int64_t c = 0; c < ds.n_genes(); ++c) {
    auto it = shared.find(ds.var.index[c]);
    if (it != shared.end() && taken.insert(it->second).second) map[c] = it->second;
  }
  return map;
}

Sample make_sample(const Dataset& ds, const std::vector<std::int64_t>& rows,
                   const std::vector<std::int64_t>& column_map, std::int64_t n_genes,
                   double scale_factor, const std::string* label_key, const std::string& role) {
  Sample s;
  const auto n = static_cast<std::int64_t>(rows.size());
  s.logn = torch::zeros({n, n_genes}, torch::kFloat64);
  s.library = torch::zeros({n}, torch::kFloat64);
  s.cell_zero_fraction = torch::zeros({n}, torch::kFloat64);
  std::vector<std::int64_t> gene_nonzero(static_cast<std::size_t>(n_genes), 0);
  double* out = s.logn.data_ptr<double>();
  double* lib = s.library.data_ptr<double>();
  double* czf = s.cell_zero_fraction.data_ptr<double>();
  std::int64_t nonzero = 0;
  const CsrMatrix& X = ds.X;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t r = rows[i];
    double total = 0;
    std::int64_t expressed = 0;
    for (std::int64_t k = X.indptr[r]; k < X.indptr[r + 1]; ++k) {
      const std::int64_t g = column_map[X.indices[k]];
      if (g < 0 || X.data[k] == 0) continue;
      total += X.data[k];
      ++expressed;
      ++gene_nonzero[g];
    }
    lib[i] = total;
    czf[i] = 1.0 - static_cast<double>(expressed) / static_cast<double>(n_genes);
    nonzero += expressed;
    const double f = scale_factor / (total > 0 ? total : 1.0);
    for (std::int64_t k = X.indptr[r]; k < X.indptr[r + 1]; ++k) {
      const std::int64_t g = column_map[X.indices[k]];
      if (g >= 0 && X.data[k] != 0) out[i * n_genes + g] = std::log1p(X.data[k] * f);
    }
  }
  s.gene_zero_fraction = torch::zeros({n_genes}, torch::kFloat64);
  double* gzf = s.gene_zero_fraction.data_ptr<double>();
  for (std::int64_t g = 0; g < n_genes; ++g)
    gzf[g] = 1.0 - static_cast<double>(gene_nonzero[g]) / static_cast<double>(n);
  s.zero_fraction =
      1.0 - static_cast<double>(nonzero) / (static_cast<double>(n) * static_cast<double>(n_genes));
  if (label_key) {
    const Column* found = ds.obs.find(*label_key);
    if (!found)
      throw InputError(role + ": column '" + *label_key +
                       "' not in obs; available: " + join_names(ds.obs.column_names()));
    const Column& col = *found;
    s.labels.reserve(rows.size());
    for (auto r : rows) {
      std::string t = col.text(static_cast<std::size_t>(r));
      if (col.kind == ColumnKind::number && t == "nan") t.clear();
      s.labels.push_back(std::move(t));
    }
  }
  return s;
}

std::vector<double> to_vector(const torch::Tensor& t) {
  auto c = t.to(torch::kFloat64).contiguous().view({-1});
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

double median(std::vector<double> v) {
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/// Quantile with linear interpolation between order statistics (numpy's default).
double quantile(std::vector<double> v, double q) {
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

/// Energy coefficient of two 2-D samples given as coordinate columns, each axis divided by its
/// pooled standard deviation.
double energy_2d(const torch::Tensor& ax, const torch::Tensor& ay, const torch::Tensor& bx,
                 const torch::Tensor& by) {
  auto a = torch::stack({ax, ay}, 1).to(torch::kFloat64);
  auto b = torch::stack({bx, by}, 1).to(torch::kFloat64);
  auto sd = torch::cat({a, b}).std(0);
  sd.masked_fill_(sd <= 0, 1.0);
  return energy_distance(a / sd, b / sd).coefficient;
}

/// Pearson correlations of all pairs of rows of `m` (i < j), leaving out constant rows.
std::vector<double> pairwise_row_correlations(const torch::Tensor& m) {
  auto centred = m - m.mean(1, true);
  auto norm = centred.norm(2, 1);
  auto keep = (norm > 1e-12 * (1 + m.abs().amax(1))).nonzero().squeeze(1);
  auto z = centred.index_select(0, keep) / norm.index_select(0, keep).unsqueeze(1);
  const std::int64_t r = z.size(0);
  if (r < 2) return {};
  auto c = z.matmul(z.t()).clamp_(-1, 1);
  return to_vector(c.masked_select(torch::ones({r, r}, torch::kBool).triu(1)));
}

/// Pearson correlations of all pairs of columns (i < j); NaN for pairs with a constant column,
/// so that the result is paired across samples.
std::vector<double> pairwise_column_correlations(const torch::Tensor& m) {
  auto centred = m - m.mean(0, true);
  auto norm = centred.norm(2, 0);
  auto constant = norm <= 1e-12 * (1 + m.abs().amax(0));
  auto z = centred / norm.masked_fill(constant, 1.0).unsqueeze(0);
  auto c = z.t().matmul(z).clamp_(-1, 1);
  auto bad = constant.unsqueeze(0) | constant.unsqueeze(1);
  c.masked_fill_(bad, kNaN);
  const std::int64_t g = m.size(1);
  return to_vector(c.masked_select(torch::ones({g, g}, torch::kBool).triu(1)));
}

MarginalScores marginal_scores(const Sample& real, const Sample& other,
                               const torch::Tensor& correlation_genes) {
  MarginalScores s;
  // per cell
  const auto& zf_r = real.cell_zero_fraction;
  const auto& zf_o = other.cell_zero_fraction;
  s.library_size_ks = ks_statistic(to_vector(real.library), to_vector(other.library));
  s.zero_fraction_ks = ks_statistic(to_vector(zf_r), to_vector(zf_o));
  s.library_zero_energy =
      energy_2d(torch::log1p(real.library), zf_r, torch::log1p(other.library), zf_o);
  // per gene
  auto mean_r = real.logn.mean(0), mean_o = other.logn.mean(0);
  auto var_r = real.logn.var(0, /*unbiased=*/false), var_o = other.logn.var(0, false);
  const auto& gz_r = real.gene_zero_fraction;
  const auto& gz_o = other.gene_zero_fraction;
  const auto mr = to_vector(mean_r), mo = to_vector(mean_o);
  const auto vr = to_vector(var_r), vo = to_vector(var_o);
  const auto zr = to_vector(gz_r), zo = to_vector(gz_o);
  s.gene_mean_ks = ks_statistic(mr, mo);
  s.gene_mean_spearman = spearman(mr, mo);
  s.gene_variance_ks = ks_statistic(vr, vo);
  s.gene_variance_spearman = spearman(vr, vo);
  s.gene_zero_fraction_ks = ks_statistic(zr, zo);
  s.gene_zero_fraction_spearman = spearman(zr, zo);
  s.mean_variance_energy = energy_2d(mean_r, var_r, mean_o, var_o);
  s.mean_zero_energy = energy_2d(mean_r, gz_r, mean_o, gz_o);
  // correlation structure over the most variable genes
  auto sub_r = real.logn.index_select(1, correlation_genes);
  auto sub_o = other.logn.index_select(1, correlation_genes);
  s.cell_correlation_ks =
      ks_statistic(pairwise_row_correlations(sub_r), pairwise_row_correlations(sub_o));
  const auto gg_r = pairwise_column_correlations(sub_r);
  const auto gg_o = pairwise_column_correlations(sub_o);
  s.gene_correlation_ks = ks_statistic(gg_r, gg_o);
  s.gene_correlation_spearman = spearman(gg_r, gg_o);
  // context
  s.median_library_size_real = median(to_vector(real.library));
  s.median_library_size_other = median(to_vector(other.library));
  s.zero_fraction_real = real.zero_fraction;
  s.zero_fraction_other = other.zero_fraction;
  return s;
}

ClassifierOptions classifier_options(Classifier kind, const FidelityOptions& o) {
  ClassifierOptions c;
  c.kind = kind;
  c.knn.k = o.n_neighbors;
  c.forest.n_trees = o.n_trees;
  c.forest.seed = stream_seed(o.seed, Stream::forest);
  c.forest.threads = o.threads;
  return c;
}

JointScores joint_scores(const torch::Tensor& zr, const torch::Tensor& zo,
                         const FidelityOptions& o) {
  JointScores j;
  j.n_real = zr.size(0);
  j.n_other = zo.size(0);
  const auto m = mmd_rbf(zr, zo);
  j.mmd2 = m.mmd2;
  j.mmd_bandwidth = m.bandwidth;
  auto z = torch::cat({zr, zo});
  std::vector<std::int32_t> y(static_cast<std::size_t>(j.n_real + j.n_other), 0);
  std::fill(y.begin() + j.n_real, y.end(), 1);
  CrossValidationOptions cv;
  cv.n_folds = o.n_folds;
  cv.seed = stream_seed(o.seed, Stream::folds);
  for (Classifier kind : o.classifiers) {
    auto proba = cross_validated_proba(z, y, 2, classifier_options(kind, o), cv);
    j.auc.push_back({kind, roc_auc(to_vector(proba.select(1, 1)), y)});
  }
  return j;
}

JointScores empty_joint(std::int64_t n_real, std::int64_t n_other, const FidelityOptions& o) {
  JointScores j;
  j.n_real = n_real;
  j.n_other = n_other;
  j.mmd2 = j.mmd_bandwidth = kNaN;
  for (Classifier kind : o.classifiers) j.auc.push_back({kind, kNaN});
  return j;
}

/// Label names in display order: a categorical column's categories, else first appearance;
/// only labels present in either sample.
std::vector<std::string> label_order(const Dataset& real, const std::string& key, const Sample& r,
                                     const Sample& o) {
  std::unordered_set<std::string> present(r.labels.begin(), r.labels.end());
  present.insert(o.labels.begin(), o.labels.end());
  present.erase("");
  std::vector<std::string> order;
  std::unordered_set<std::string> seen;
  const Column& col = real.obs.at(key, "obs");
  if (col.kind == ColumnKind::categorical)
    for (const auto& c : col.categories)
      if (present.count(c) && seen.insert(c).second) order.push_back(c);
  for (const auto* v : {&r.labels, &o.labels})
    for (const auto& l : *v)
      if (present.count(l) && seen.insert(l).second) order.push_back(l);
  return order;
}

struct Resolved {
  std::int64_t n_genes = 0;
  torch::Tensor correlation_genes;
};

Comparison compare(const std::string& name, const Dataset& real_ds, const Sample& real,
                   const Sample& other, const RowSource* train, const FidelityOptions& o,
                   const Resolved& resolved) {
  Comparison c;
  c.name = name;
  c.n_real = real.n();
  c.n_other = other.n();
  c.marginals = marginal_scores(real, other, resolved.correlation_genes);

  PcaOptions pca_options;
  pca_options.n_components = std::min({o.n_components, resolved.n_genes, c.n_real + c.n_other - 1});
  pca_options.method = o.pca_method;
  pca_options.seed = stream_seed(o.seed, Stream::pca);
  const auto pca = run_pca(torch::cat({real.logn, other.logn}), pca_options);
  c.n_components = pca.n_components;
  c.explained_variance_ratio = pca.explained_variance_ratio.sum().item<double>();
  auto zr = pca.scores.slice(0, 0, c.n_real);
  auto zo = pca.scores.slice(0, c.n_real);
  c.joint = joint_scores(zr, zo, o);

  if (o.label_key) {
    const auto labels = label_order(real_ds, *o.label_key, real, other);
    for (const auto& label : labels) {
      std::vector<std::int64_t> ir, io;
      for (std::int64_t i = 0; i < c.n_real; ++i)
        if (real.labels[i] == label) ir.push_back(i);
      for (std::int64_t i = 0; i < c.n_other; ++i)
        if (other.labels[i] == label) io.push_back(i);
      LabelScores ls;
      ls.label = label;
      const auto nr = static_cast<std::int64_t>(ir.size());
      const auto no = static_cast<std::int64_t>(io.size());
      if (nr >= o.min_cells_per_label && no >= o.min_cells_per_label)
        ls.joint = joint_scores(zr.index_select(0, torch::tensor(ir, torch::kLong)),
                                zo.index_select(0, torch::tensor(io, torch::kLong)), o);
      else
        ls.joint = empty_joint(nr, no, o);
      c.per_label.push_back(std::move(ls));
    }
    // label transfer: classifier trained on the real cells' components
    std::map<std::string, std::int32_t> code;
    for (const auto& l : real.labels)
      if (!l.empty()) code.emplace(l, 0);
    std::int32_t next = 0;
    for (auto& [l, v] : code) v = next++;
    std::vector<std::int64_t> train_rows;
    std::vector<std::int32_t> y;
    for (std::int64_t i = 0; i < c.n_real; ++i) {
      if (real.labels[i].empty()) continue;
      train_rows.push_back(i);
      y.push_back(code[real.labels[i]]);
    }
    std::vector<std::int64_t> test_rows;
    std::vector<std::int32_t> truth;
    for (std::int64_t i = 0; i < c.n_other; ++i) {
      if (other.labels[i].empty()) continue;
      test_rows.push_back(i);
      auto it = code.find(other.labels[i]);
      truth.push_back(it == code.end() ? -1 : it->second);
    }
    if (next >= 1 && !train_rows.empty() && !test_rows.empty()) {
      LabelTransfer t;
      t.classifier = o.label_classifier;
      auto copt = classifier_options(o.label_classifier, o);
      auto xtrain = zr.index_select(0, torch::tensor(train_rows, torch::kLong));
      auto pred =
          fit_predict_proba(xtrain, y, next,
                            zo.index_select(0, torch::tensor(test_rows, torch::kLong)), copt)
              .argmax(1);
      auto pred_v = pred.contiguous();
      const auto* pp = pred_v.data_ptr<std::int64_t>();
      std::int64_t right = 0;
      for (std::size_t i = 0; i < truth.size(); ++i) right += pp[i] == truth[i];
      t.accuracy = static_cast<double>(right) / static_cast<double>(truth.size());
      CrossValidationOptions cv;
      cv.n_folds = o.n_folds;
      cv.seed = stream_seed(o.seed, Stream::folds);
      auto cvpred = cross_validated_proba(xtrain, y, next, copt, cv).argmax(1).contiguous();
      const auto* cp = cvpred.data_ptr<std::int64_t>();
      std::int64_t cv_right = 0;
      for (std::size_t i = 0; i < y.size(); ++i) cv_right += cp[i] == y[i];
      t.real_cv_accuracy = static_cast<double>(cv_right) / static_cast<double>(y.size());
      c.label_transfer = t;
    }
  }

  if (train) {
    MemorisationScores m;
    m.n_train = static_cast<std::int64_t>(train->rows.size());
    // Projected in chunks: the training cells are never dense all at once.
    std::vector<torch::Tensor> parts;
    constexpr std::size_t kChunk = 512;
    for (std::size_t b = 0; b < train->rows.size(); b += kChunk) {
      const std::vector<std::int64_t> rows(
          train->rows.begin() + static_cast<std::ptrdiff_t>(b),
          train->rows.begin() +
              static_cast<std::ptrdiff_t>(std::min(b + kChunk, train->rows.size())));
      parts.push_back(
          pca_transform(pca, make_sample(*train->ds, rows, train->column_map, resolved.n_genes,
                                         o.scale_factor, nullptr, "training data")
                                 .logn));
    }
    auto zt = torch::cat(parts);
    NeighborOptions nn;
    nn.k = 1;
    auto dg = to_vector(nearest_neighbors(zt, zo, nn).distances.select(1, 0));
    auto dr = to_vector(nearest_neighbors(zt, zr, nn).distances.select(1, 0));
    m.median_distance_other = median(dg);
    m.median_distance_real = median(dr);
    m.ratio = m.median_distance_other / std::max(m.median_distance_real, 1e-12);
    const double p5 = quantile(dr, 0.05);
    std::int64_t close = 0;
    for (double v : dg) close += v < p5;
    m.close_fraction = static_cast<double>(close) / static_cast<double>(dg.size());
    c.memorisation = m;
  }
  return c;
}

void check_options(const FidelityOptions& o) {
  auto fail = [](const std::string& msg) { throw InputError("evaluate: " + msg); };
  if (o.max_cells < 10) fail("max_cells must be at least 10");
  if (o.max_train_cells < 1) fail("max_train_cells must be at least 1");
  if (o.n_components < 1) fail("n_components must be at least 1");
  if (!(o.scale_factor > 0)) fail("scale_factor must be positive");
  // The pairwise statistics hold max_cells^2 and n_correlation_genes^2 values in memory.
  if (o.max_cells > 5000) fail("max_cells must be at most 5000");
  if (o.n_correlation_genes < 2 || o.n_correlation_genes > 5000)
    fail("n_correlation_genes must be between 2 and 5000");
  if (o.min_shared_genes < 2) fail("min_shared_genes must be at least 2");
  if (o.n_neighbors < 1) fail("n_neighbors must be at least 1");
  if (o.n_trees < 1) fail("n_trees must be at least 1");
  if (o.n_folds < 2) fail("n_folds must be at least 2");
  if (o.min_cells_per_label < o.n_folds)
    fail("min_cells_per_label must be at least n_folds (" + std::to_string(o.n_folds) + ")");
  if (o.threads < 1) fail("threads must be at least 1");
  if (o.generated_label_key && !o.label_key) fail("generated_label_key needs label_key");
}

void check_input(const Dataset& ds, const std::string& role, const FidelityOptions& o) {
  try {
    ds.validate();
    CountCheckOptions cc;
    cc.allow_non_integer = o.allow_non_integer;
    check_counts(ds, cc);
  } catch (const InputError& e) {
    if (!ds.source.empty()) throw;
    throw InputError(role + ": " + e.what());
  }
}

}  // namespace

FidelityResult evaluate_fidelity(const Dataset& real, const Dataset& generated,
                                 const FidelityOptions& options, const Dataset* train,
                                 const Dataset* control) {
  check_options(options);
  check_input(real, "real data", options);
  check_input(generated, "generated data", options);
  if (train) check_input(*train, "training data", options);
  if (control) check_input(*control, "control data", options);
  torch::NoGradGuard no_grad;

  FidelityResult result;
  result.options = options;
  result.n_genes_real = real.n_genes();
  result.n_genes_generated = generated.n_genes();

  // Shared genes, in the real data's order.
  std::vector<const Dataset*> others{&generated};
  if (train) others.push_back(train);
  if (control) others.push_back(control);
  std::vector<std::unordered_set<std::string>> names;
  for (const auto* ds : others) names.emplace_back(ds->var.index.begin(), ds->var.index.end());
  std::unordered_map<std::string, std::int64_t> shared;
  std::vector<std::string> shared_names;
  for (const auto& g : real.var.index) {
    if (shared.count(g)) continue;
    bool everywhere = true;
    for (const auto& s : names) everywhere = everywhere && s.count(g);
    if (!everywhere) continue;
    shared.emplace(g, static_cast<std::int64_t>(shared_names.size()));
    shared_names.push_back(g);
  }
  const auto n_shared = static_cast<std::int64_t>(shared_names.size());
  result.n_shared_genes = n_shared;
  std::string counts_text = describe(real, "real data") + " has " + std::to_string(real.n_genes()) +
                            " genes, " + describe(generated, "generated data") + " " +
                            std::to_string(generated.n_genes());
  if (train)
    counts_text +=
        ", " + describe(*train, "training data") + " " + std::to_string(train->n_genes());
  if (control)
    counts_text +=
        ", " + describe(*control, "control data") + " " + std::to_string(control->n_genes());
  if (n_shared < options.min_shared_genes)
    throw InputError("only " + std::to_string(n_shared) + " genes are shared (" + counts_text +
                     "); evaluate needs at least " + std::to_string(options.min_shared_genes) +
                     ". Are the gene names of the same kind (symbols vs Ensembl ids)?");
  if (2 * n_shared < std::max(real.n_genes(), generated.n_genes()))
    result.warnings.push_back("only " + std::to_string(n_shared) +
                              " genes are shared and compared (" + counts_text + ")");

  const std::string* key = options.label_key ? &*options.label_key : nullptr;
  const std::string* gen_key = options.generated_label_key ? &*options.generated_label_key : key;

  auto sample_of = [&](const Dataset& ds, std::int64_t max_cells, Stream stream,
                       const std::string* label_key, const std::string& role) {
    const auto rows = choose_rows(ds.n_cells(), max_cells, stream_seed(options.seed, stream));
    if (static_cast<std::int64_t>(rows.size()) < 2 * options.n_folds)
      throw InputError(describe(ds, role) + " has " + std::to_string(rows.size()) +
                       " cells; evaluate needs at least " + std::to_string(2 * options.n_folds));
    return make_sample(ds, rows, shared_columns(ds, shared), n_shared, options.scale_factor,
                       label_key, describe(ds, role));
  };
  const Sample r = sample_of(real, options.max_cells, Stream::real, key, "real data");
  const Sample g =
      sample_of(generated, options.max_cells, Stream::generated, gen_key, "generated data");
  std::optional<Sample> c;
  std::optional<RowSource> t;
  if (train) {
    t = RowSource{train,
                  choose_rows(train->n_cells(), options.max_train_cells,
                              stream_seed(options.seed, Stream::train)),
                  shared_columns(*train, shared)};
  }
  if (control) c = sample_of(*control, options.max_cells, Stream::control, gen_key, "control data");

  // The most variable genes of the real cells, for the correlation scores.
  Resolved resolved;
  resolved.n_genes = n_shared;
  {
    const auto var = to_vector(r.logn.var(0, false));
    std::vector<std::int64_t> order(var.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::int64_t a, std::int64_t b) { return var[a] > var[b]; });
    order.resize(static_cast<std::size_t>(std::min(options.n_correlation_genes, n_shared)));
    std::sort(order.begin(), order.end());
    resolved.correlation_genes = torch::tensor(order, torch::kLong);
    result.n_correlation_genes = static_cast<std::int64_t>(order.size());
  }

  if (key) {
    std::unordered_set<std::string> known(r.labels.begin(), r.labels.end());
    std::vector<std::string> unknown;
    std::unordered_set<std::string> seen;
    for (const auto& l : g.labels)
      if (!l.empty() && !known.count(l) && seen.insert(l).second) unknown.push_back(l);
    if (!unknown.empty())
      result.warnings.push_back("generated labels not among the real cells' labels: " +
                                join_names(unknown));
  }

  result.generated = compare("generated", real, r, g, t ? &*t : nullptr, options, resolved);
  if (c) result.control = compare("control", real, r, *c, t ? &*t : nullptr, options, resolved);
  return result;
}

// ---- rendering ------------------------------------------------------------------------------

namespace {

nlohmann::json number(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

std::string auc_key(Classifier c) {
  std::string s(to_string(c));
  std::replace(s.begin(), s.end(), '-', '_');
  return s + "_auc";
}

nlohmann::json joint_json(const JointScores& j) {
  nlohmann::json o{{"n_real", j.n_real},
                   {"n_other", j.n_other},
                   {"mmd_rbf", number(j.mmd2)},
                   {"mmd_bandwidth", number(j.mmd_bandwidth)}};
  for (const auto& a : j.auc) o[auc_key(a.classifier)] = number(a.auc);
  return o;
}

nlohmann::json comparison_json(const Comparison& c) {
  const auto& m = c.marginals;
  nlohmann::json o;
  o["n_real"] = c.n_real;
  o["n_other"] = c.n_other;
  o["marginals"] = {
      {"library_size_ks", number(m.library_size_ks)},
      {"zero_fraction_ks", number(m.zero_fraction_ks)},
      {"library_zero_energy", number(m.library_zero_energy)},
      {"gene_mean_ks", number(m.gene_mean_ks)},
      {"gene_mean_spearman", number(m.gene_mean_spearman)},
      {"gene_variance_ks", number(m.gene_variance_ks)},
      {"gene_variance_spearman", number(m.gene_variance_spearman)},
      {"gene_zero_fraction_ks", number(m.gene_zero_fraction_ks)},
      {"gene_zero_fraction_spearman", number(m.gene_zero_fraction_spearman)},
      {"mean_variance_energy", number(m.mean_variance_energy)},
      {"mean_zero_energy", number(m.mean_zero_energy)},
      {"cell_correlation_ks", number(m.cell_correlation_ks)},
      {"gene_correlation_ks", number(m.gene_correlation_ks)},
      {"gene_correlation_spearman", number(m.gene_correlation_spearman)},
      {"median_library_size_real", number(m.median_library_size_real)},
      {"median_library_size_other", number(m.median_library_size_other)},
      {"zero_fraction_real", number(m.zero_fraction_real)},
      {"zero_fraction_other", number(m.zero_fraction_other)},
  };
  auto joint = joint_json(c.joint);
  joint["n_components"] = c.n_components;
  joint["explained_variance_ratio"] = number(c.explained_variance_ratio);
  o["joint"] = joint;
  if (!c.per_label.empty() || c.label_transfer) {
    nlohmann::json labels = nlohmann::json::array();
    for (const auto& l : c.per_label) {
      auto j = joint_json(l.joint);
      j["label"] = l.label;
      labels.push_back(j);
    }
    o["per_label"] = labels;
  }
  if (c.label_transfer) {
    o["label_transfer"] = {{"classifier", std::string(to_string(c.label_transfer->classifier))},
                           {"accuracy", number(c.label_transfer->accuracy)},
                           {"real_cv_accuracy", number(c.label_transfer->real_cv_accuracy)}};
  }
  if (c.memorisation) {
    const auto& mm = *c.memorisation;
    o["memorisation"] = {{"n_train", mm.n_train},
                         {"median_distance_other", number(mm.median_distance_other)},
                         {"median_distance_real", number(mm.median_distance_real)},
                         {"nn_ratio", number(mm.ratio)},
                         {"close_fraction", number(mm.close_fraction)}};
  }
  return o;
}

}  // namespace

std::string to_json(const FidelityResult& r, int indent) {
  const auto& o = r.options;
  nlohmann::json j;
  j["n_genes_real"] = r.n_genes_real;
  j["n_genes_generated"] = r.n_genes_generated;
  j["n_shared_genes"] = r.n_shared_genes;
  j["n_correlation_genes"] = r.n_correlation_genes;
  nlohmann::json classifiers = nlohmann::json::array();
  for (auto c : o.classifiers) classifiers.push_back(std::string(to_string(c)));
  j["options"] = {{"max_cells", o.max_cells},
                  {"max_train_cells", o.max_train_cells},
                  {"n_components", o.n_components},
                  {"pca_method", std::string(to_string(o.pca_method))},
                  {"scale_factor", o.scale_factor},
                  {"n_correlation_genes", o.n_correlation_genes},
                  {"classifiers", classifiers},
                  {"n_neighbors", o.n_neighbors},
                  {"n_trees", o.n_trees},
                  {"n_folds", o.n_folds},
                  {"label_key", o.label_key ? nlohmann::json(*o.label_key) : nullptr},
                  {"generated_label_key",
                   o.generated_label_key ? nlohmann::json(*o.generated_label_key) : nullptr},
                  {"min_cells_per_label", o.min_cells_per_label},
                  {"label_classifier", std::string(to_string(o.label_classifier))},
                  {"allow_non_integer", o.allow_non_integer},
                  {"seed", o.seed},
                  {"threads", o.threads}};
  j["generated"] = comparison_json(r.generated);
  if (r.control) j["control"] = comparison_json(*r.control);
  j["warnings"] = r.warnings;
  return j.dump(indent);
}

namespace {

std::string fixed(double v, int digits) {
  if (!std::isfinite(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

/// A table of labelled rows with one value column per comparison.
class Table {
 public:
  explicit Table(std::vector<std::string> columns) : columns_(std::move(columns)) {}
  void section(const std::string& title) { rows_.push_back({title, {}, "", true}); }
  void row(const std::string& label, std::vector<std::string> values, const std::string& ideal) {
    rows_.push_back({"  " + label, std::move(values), ideal, false});
  }
  std::string str() const {
    std::size_t w = 0;
    for (const auto& r : rows_)
      if (!r.heading) w = std::max(w, r.label.size());
    w = std::max<std::size_t>(w + 2, 36);
    std::ostringstream os;
    auto pad = [](const std::string& s, std::size_t width) {
      return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
    };
    os << std::string(w, ' ');
    for (const auto& c : columns_) os << pad(c, 12);
    os << pad("ideal", 9) << '\n';
    for (const auto& r : rows_) {
      if (r.heading) {
        os << r.label << '\n';
        continue;
      }
      os << r.label << std::string(w - r.label.size(), ' ');
      for (const auto& v : r.values) os << pad(v, 12);
      os << pad(r.ideal, 9) << '\n';
    }
    return os.str();
  }

 private:
  struct Row {
    std::string label;
    std::vector<std::string> values;
    std::string ideal;
    bool heading;
  };
  std::vector<std::string> columns_;
  std::vector<Row> rows_;
};

}  // namespace

std::string format_table(const FidelityResult& r) {
  std::vector<const Comparison*> cs{&r.generated};
  if (r.control) cs.push_back(&*r.control);
  std::vector<std::string> names;
  for (const auto* c : cs) names.push_back(c->name);
  Table t(names);
  auto values = [&](auto get, int digits) {
    std::vector<std::string> v;
    for (const auto* c : cs) v.push_back(fixed(get(*c), digits));
    return v;
  };
#define CELLVAE_ROW(label, expr, digits, ideal) \
  t.row(label, values([&](const Comparison& c) { return (expr); }, digits), ideal)

  t.section("marginals (KS and energy: 0 = same distribution; Spearman: 1 = same gene order)");
  CELLVAE_ROW("library size KS", c.marginals.library_size_ks, 3, "0");
  CELLVAE_ROW("zero fraction per cell KS", c.marginals.zero_fraction_ks, 3, "0");
  CELLVAE_ROW("library size x zero fraction energy", c.marginals.library_zero_energy, 3, "0");
  CELLVAE_ROW("gene mean KS", c.marginals.gene_mean_ks, 3, "0");
  CELLVAE_ROW("gene mean Spearman", c.marginals.gene_mean_spearman, 3, "1");
  CELLVAE_ROW("gene variance KS", c.marginals.gene_variance_ks, 3, "0");
  CELLVAE_ROW("gene variance Spearman", c.marginals.gene_variance_spearman, 3, "1");
  CELLVAE_ROW("gene zero fraction KS", c.marginals.gene_zero_fraction_ks, 3, "0");
  CELLVAE_ROW("gene zero fraction Spearman", c.marginals.gene_zero_fraction_spearman, 3, "1");
  CELLVAE_ROW("mean x variance energy", c.marginals.mean_variance_energy, 3, "0");
  CELLVAE_ROW("mean x zero fraction energy", c.marginals.mean_zero_energy, 3, "0");
  CELLVAE_ROW("cell-cell correlation KS", c.marginals.cell_correlation_ks, 3, "0");
  CELLVAE_ROW("gene-gene correlation KS", c.marginals.gene_correlation_ks, 3, "0");
  CELLVAE_ROW("gene-gene correlation Spearman", c.marginals.gene_correlation_spearman, 3, "1");
  CELLVAE_ROW(
      "median library size (real " + fixed(r.generated.marginals.median_library_size_real, 0) + ")",
      c.marginals.median_library_size_other, 0, "");
  CELLVAE_ROW("zero fraction (real " + fixed(r.generated.marginals.zero_fraction_real, 3) + ")",
              c.marginals.zero_fraction_other, 3, "");

  t.section("joint structure on " + std::to_string(r.generated.n_components) +
            " principal components (AUC: 0.5 = indistinguishable)");
  CELLVAE_ROW("PCs' share of variance", c.explained_variance_ratio, 3, "");
  CELLVAE_ROW("MMD^2, RBF kernel", c.joint.mmd2, 4, "0");
  for (std::size_t a = 0; a < r.options.classifiers.size(); ++a) {
    const Classifier kind = r.options.classifiers[a];
    std::string label = std::string(to_string(kind)) + " AUC";
    if (kind == Classifier::knn) label += " (" + std::to_string(r.options.n_neighbors) + "-NN)";
    if (kind == Classifier::random_forest)
      label += " (" + std::to_string(r.options.n_trees) + " trees)";
    label += ", " + std::to_string(r.options.n_folds) + "-fold";
    CELLVAE_ROW(label, c.joint.auc[a].auc, 3, "0.5");
  }

  if (!r.generated.per_label.empty()) {
    t.section("per label (cells real/other; scores need " +
              std::to_string(r.options.min_cells_per_label) + " of each)");
    for (std::size_t l = 0; l < r.generated.per_label.size(); ++l) {
      const std::string& name = r.generated.per_label[l].label;
      auto find = [&](const Comparison& c) -> const LabelScores* {
        for (const auto& ls : c.per_label)
          if (ls.label == name) return &ls;
        return nullptr;
      };
      std::vector<std::string> counts;
      for (const auto* c : cs) {
        const auto* ls = find(*c);
        counts.push_back(
            ls ? std::to_string(ls->joint.n_real) + "/" + std::to_string(ls->joint.n_other) : "-");
      }
      t.row(name + ": cells", counts, "");
      auto label_value = [&](auto get) {
        std::vector<std::string> v;
        for (const auto* c : cs) {
          const auto* ls = find(*c);
          v.push_back(ls ? get(*ls) : "-");
        }
        return v;
      };
      t.row(name + ": MMD^2",
            label_value([](const LabelScores& ls) { return fixed(ls.joint.mmd2, 4); }), "0");
      for (std::size_t a = 0; a < r.options.classifiers.size(); ++a)
        t.row(name + ": " + std::string(to_string(r.options.classifiers[a])) + " AUC",
              label_value([a](const LabelScores& ls) { return fixed(ls.joint.auc[a].auc, 3); }),
              "0.5");
    }
  }
  if (r.generated.label_transfer) {
    t.section("label transfer (" + std::string(to_string(r.generated.label_transfer->classifier)) +
              " trained on the real cells)");
    CELLVAE_ROW("accuracy (real cells, cross-validated: " +
                    fixed(r.generated.label_transfer->real_cv_accuracy, 3) + ")",
                c.label_transfer ? c.label_transfer->accuracy : kNaN, 3, "");
  }
  if (r.generated.memorisation) {
    t.section("memorisation (distances to the nearest of " +
              std::to_string(r.generated.memorisation->n_train) + " training cells)");
    CELLVAE_ROW("nearest-neighbour distance ratio", c.memorisation ? c.memorisation->ratio : kNaN,
                3, "1");
    CELLVAE_ROW("fraction closer than real's 5th pct.",
                c.memorisation ? c.memorisation->close_fraction : kNaN, 3, "0.05");
  }
#undef CELLVAE_ROW

  std::ostringstream os;
  os << "cellvae evaluate: " << r.generated.n_real << " real vs " << r.generated.n_other
     << " generated cells";
  if (r.control) os << " (control: " << r.control->n_other << ")";
  os << "; " << r.n_shared_genes << " shared genes (real " << r.n_genes_real << ", generated "
     << r.n_genes_generated << ")\n\n"
     << t.str();
  return os.str();
}

}  // namespace cellvae::analysis
