#include "cellvae/analysis/umap.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include <torch/torch.h>

#include "cellvae/analysis/neighbors.hpp"
#include "cellvae/analysis/pca.hpp"
#include "cellvae/enum_names.hpp"
#include "cellvae/error.hpp"
#include "cellvae/random.hpp"
#include "checked_matrix.hpp"

namespace cellvae::analysis {

namespace {

constexpr NameTable<UmapInit, 3> kUmapInitNames{{
    {UmapInit::spectral, "spectral"},
    {UmapInit::pca, "pca"},
    {UmapInit::random, "random"},
}};

constexpr std::int64_t kDenseEigenLimit = 1000;  // larger components use Lanczos
constexpr double kLanczosTolerance = 1e-4;
constexpr std::int64_t kLanczosMaxProducts = 2000;

[[noreturn]] void bad(const std::string& what) { throw InputError("UMAP: " + what); }

// ---- step 1: the fuzzy graph -----------------------------------------------------------------

/// sigma of one row: bisection on sum_j exp(-max(0, d_j - rho) / sigma) = target over the
/// row's distances to its other neighbours (64 steps, to 1e-5, as umap-learn).
double bandwidth(const double* d, std::int64_t count, double rho, double target) {
  double lo = 0, hi = std::numeric_limits<double>::infinity(), mid = 1;
  for (int step = 0; step < 64; ++step) {
    double sum = 0;
    for (std::int64_t j = 0; j < count; ++j) {
      const double excess = d[j] - rho;
      sum += excess > 0 ? std::exp(-excess / mid) : 1.0;
    }
    if (std::abs(sum - target) < 1e-5) break;
    if (sum > target) {
      hi = mid;
      mid = (lo + hi) / 2;
    } else {
      lo = mid;
      mid = std::isinf(hi) ? mid * 2 : (lo + hi) / 2;
    }
  }
  return mid;
}

// ---- step 2: the curve -----------------------------------------------------------------------

/// Sum of squared residuals of 1 / (1 + a x^(2b)) against y; +inf outside a, b > 0.
double curve_cost(const std::vector<double>& x, const std::vector<double>& y, double a, double b) {
  if (!(a > 0 && b > 0)) return std::numeric_limits<double>::infinity();
  double cost = 0;
  for (std::size_t t = 0; t < x.size(); ++t) {
    const double r = 1 / (1 + a * std::pow(x[t], 2 * b)) - y[t];
    cost += r * r;
  }
  return cost;
}

// ---- step 3: the start -----------------------------------------------------------------------

/// A connected piece of the graph: its rows and its edges in local indices.
struct Component {
  std::vector<std::int64_t> rows;
  std::vector<std::int64_t> indptr, indices;
  std::vector<double> weights;
};

std::vector<Component> components_of(const UmapGraph& g) {
  const std::int64_t n = g.n;
  std::vector<std::int64_t> label(static_cast<std::size_t>(n), -1),
      local(static_cast<std::size_t>(n));
  std::vector<Component> out;
  std::vector<std::int64_t> queue;
  for (std::int64_t s = 0; s < n; ++s) {
    if (label[s] >= 0) continue;
    Component c;
    const auto id = static_cast<std::int64_t>(out.size());
    queue.assign(1, s);
    label[s] = id;
    for (std::size_t q = 0; q < queue.size(); ++q) {
      const std::int64_t i = queue[q];
      for (std::int64_t e = g.indptr[i]; e < g.indptr[i + 1]; ++e) {
        const std::int64_t j = g.indices[e];
        if (label[j] < 0) {
          label[j] = id;
          queue.push_back(j);
        }
      }
    }
    c.rows = queue;
    std::sort(c.rows.begin(), c.rows.end());
    for (std::size_t t = 0; t < c.rows.size(); ++t) local[c.rows[t]] = static_cast<std::int64_t>(t);
    c.indptr.push_back(0);
    for (std::int64_t i : c.rows) {
      for (std::int64_t e = g.indptr[i]; e < g.indptr[i + 1]; ++e) {
        c.indices.push_back(local[g.indices[e]]);
        c.weights.push_back(g.weights[e]);
      }
      c.indptr.push_back(static_cast<std::int64_t>(c.indices.size()));
    }
    out.push_back(std::move(c));
  }
  return out;
}

/// The `dim` leading non-trivial eigenvectors (m x dim, float64) of M = D^-1/2 W D^-1/2 for a
/// connected component, i.e. those of the normalised Laplacian I - M with the smallest
/// eigenvalues after 0. `residual` receives the largest |M v - lambda v| among them.
torch::Tensor spectral_vectors(const Component& c, std::int64_t dim, Rng& rng, double& residual) {
  const auto m = static_cast<std::int64_t>(c.rows.size());
  std::vector<double> scale(static_cast<std::size_t>(m));
  for (std::int64_t i = 0; i < m; ++i) {
    double deg = 0;
    for (std::int64_t e = c.indptr[i]; e < c.indptr[i + 1]; ++e) deg += c.weights[e];
    scale[i] = 1 / std::sqrt(deg);
  }
  residual = 0;
  // Lanczos needs a basis well short of the component's size.
  if (m <= kDenseEigenLimit || 4 * dim + 20 >= m - 1) {
    auto dense = torch::zeros({m, m}, torch::kFloat64);
    auto* p = dense.data_ptr<double>();
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t e = c.indptr[i]; e < c.indptr[i + 1]; ++e) {
        const std::int64_t j = c.indices[e];
        p[i * m + j] = scale[i] * c.weights[e] * scale[j];
      }
    auto [values, vectors] = torch::linalg_eigh(dense);
    // Ascending eigenvalues of M: the last is the trivial 1; the ones before it are wanted.
    return vectors.slice(1, m - 1 - dim, m - 1).flip(1).contiguous();
  }

  // Thick-restart Lanczos (Wu & Simon 2000) with full reorthogonalisation, in the complement of
  // the known trivial eigenvector sqrt(degree): the basis V and M V are kept, Ritz pairs come
  // from V^T M V, and a restart keeps the best `keep` Ritz vectors plus the newest direction.
  auto product = [&](const double* v, double* out) {
    for (std::int64_t i = 0; i < m; ++i) {
      double sum = 0;
      for (std::int64_t e = c.indptr[i]; e < c.indptr[i + 1]; ++e) {
        const std::int64_t j = c.indices[e];
        sum += c.weights[e] * scale[j] * v[j];
      }
      out[i] = scale[i] * sum;
    }
  };
  auto trivial = torch::empty({m}, torch::kFloat64);
  for (std::int64_t i = 0; i < m; ++i) trivial[i] = 1 / scale[i];
  trivial /= trivial.norm();
  const std::int64_t cap = std::min<std::int64_t>(m - 1, std::max<std::int64_t>(80, 4 * dim + 20));
  const std::int64_t keep = std::max<std::int64_t>(dim + 1, cap * 3 / 8);
  auto basis = torch::zeros({m, cap}, torch::kFloat64);  // columns: orthonormal V
  auto image = torch::zeros({m, cap}, torch::kFloat64);  // columns: M V
  auto orthogonalise = [&](torch::Tensor w, std::int64_t used) {
    for (int pass = 0; pass < 2; ++pass) {  // twice is enough (Kahan's "twice is enough")
      w -= trivial * trivial.dot(w);
      if (used > 0) {
        auto v = basis.slice(1, 0, used);
        w -= v.mv(v.t().mv(w));
      }
    }
    return w;
  };
  auto random_direction = [&](std::int64_t used) {
    auto w = torch::empty({m}, torch::kFloat64);
    for (std::int64_t i = 0; i < m; ++i) w[i] = rng.normal();
    w = orthogonalise(w, used);
    return w / w.norm();
  };
  torch::Tensor next = random_direction(0);
  std::int64_t used = 0, products = 0;
  while (true) {
    for (; used < cap; ++used) {
      basis.select(1, used).copy_(next);
      auto av = torch::empty({m}, torch::kFloat64);
      product(next.data_ptr<double>(), av.data_ptr<double>());
      ++products;
      image.select(1, used).copy_(av);
      auto w = orthogonalise(av.clone(), used + 1);
      const double norm = w.norm().item<double>();
      // An invariant subspace was found: continue from any new direction.
      next = norm > 1e-10 ? w / norm : random_direction(used + 1);
    }
    auto h = basis.t().mm(image);
    h = (h + h.t()) / 2;
    auto [theta, y] = torch::linalg_eigh(h);
    // The `keep` largest Ritz values, largest first.
    auto order = torch::arange(cap - 1, cap - 1 - keep, -1, torch::kLong);
    auto yk = y.index_select(1, order);
    auto ritz = basis.mm(yk);
    auto ritz_image = image.mm(yk);
    auto lambda = theta.index_select(0, order);
    auto res = (ritz_image - ritz * lambda.unsqueeze(0)).norm(2, 0);
    residual = res.slice(0, 0, dim).max().item<double>();
    if (residual < kLanczosTolerance || products >= kLanczosMaxProducts)
      return ritz.slice(1, 0, dim).contiguous();
    basis.slice(1, 0, keep).copy_(ritz);
    image.slice(1, 0, keep).copy_(ritz_image);
    used = keep;
    // `next` is orthogonal to the old basis, hence to the Ritz vectors kept from it.
  }
}

/// Component placement: PCA coordinates of the component centroids in the data, largest
/// coordinate 1 (zeros for a single component).
torch::Tensor component_positions(const torch::Tensor& x, const std::vector<Component>& comps,
                                  std::int64_t dim) {
  const auto k = static_cast<std::int64_t>(comps.size());
  auto pos = torch::zeros({k, dim}, torch::kFloat64);
  if (k < 2) return pos;
  auto centroids = torch::empty({k, x.size(1)}, torch::kFloat64);
  for (std::int64_t c = 0; c < k; ++c)
    centroids[c] = x.index_select(0, torch::tensor(comps[c].rows, torch::kLong)).mean(0);
  centroids -= centroids.mean(0);
  auto [u, s, vh] = torch::linalg_svd(centroids, /*full_matrices=*/false);
  const std::int64_t r = std::min(dim, s.size(0));
  pos.slice(1, 0, r).copy_(u.slice(1, 0, r) * s.slice(0, 0, r));
  const double largest = pos.abs().max().item<double>();
  if (largest > 0) pos /= largest;
  return pos;
}

/// The spectral start (before the common rescaling).
torch::Tensor spectral_start(const torch::Tensor& x, const UmapGraph& g, std::int64_t dim, Rng& rng,
                             double& residual, std::int64_t& n_components) {
  const auto comps = components_of(g);
  n_components = static_cast<std::int64_t>(comps.size());
  const auto pos = component_positions(x, comps, dim);
  // Each component gets a ball of 0.4 times the distance to its nearest neighbouring component:
  // the balls do not touch.
  auto gaps = torch::cdist(pos, pos);
  gaps.fill_diagonal_(std::numeric_limits<double>::infinity());
  const double positive_min = [&] {
    auto positive = gaps.masked_select(torch::isfinite(gaps) & (gaps > 0));
    return positive.numel() ? positive.min().item<double>() : 2.0;
  }();
  auto start = torch::empty({g.n, dim}, torch::kFloat64);
  residual = 0;
  for (std::size_t c = 0; c < comps.size(); ++c) {
    const auto& comp = comps[c];
    const auto m = static_cast<std::int64_t>(comp.rows.size());
    double range =
        comps.size() > 1 ? 0.4 * gaps[static_cast<std::int64_t>(c)].min().item<double>() : 1.0;
    if (!(range > 0)) range = 0.4 * positive_min;
    torch::Tensor coords;
    if (m <= dim + 1) {
      coords = torch::empty({m, dim}, torch::kFloat64);
      auto* p = coords.data_ptr<double>();
      const double half_side = range / std::sqrt(static_cast<double>(dim));
      for (std::int64_t t = 0; t < m * dim; ++t) p[t] = (2 * rng.uniform() - 1) * half_side;
    } else {
      double r = 0;
      coords = spectral_vectors(comp, dim, rng, r);
      residual = std::max(residual, r);
      const double largest = coords.norm(2, 1).max().item<double>();
      coords = coords * (largest > 0 ? range / largest : 0.0);
    }
    coords += pos[static_cast<std::int64_t>(c)];
    start.index_copy_(0, torch::tensor(comp.rows, torch::kLong), coords);
  }
  return start;
}

// ---- step 4: the descent ---------------------------------------------------------------------

inline double clip4(double v) { return std::clamp(v, -4.0, 4.0); }

void check_options(const UmapOptions& o, std::int64_t n) {
  if (o.n_neighbors < 2) bad("n_neighbors must be >= 2; got " + std::to_string(o.n_neighbors));
  if (o.n_neighbors > n)
    bad("n_neighbors (" + std::to_string(o.n_neighbors) + ") must be at most the number of rows (" +
        std::to_string(n) + ")");
  if (o.n_components < 1) bad("n_components must be >= 1; got " + std::to_string(o.n_components));
  if (n <= o.n_components + 1)
    bad("needs more rows (" + std::to_string(n) + ") than n_components + 1 (" +
        std::to_string(o.n_components + 1) + ")");
  if (!(o.spread > 0) || !std::isfinite(o.spread))
    bad("spread must be > 0; got " + format_number(o.spread));
  if (!(o.min_dist >= 0) || o.min_dist > o.spread)
    bad("min_dist must be in [0, spread = " + format_number(o.spread) + "]; got " +
        format_number(o.min_dist));
  if (o.a && (!(*o.a > 0) || !std::isfinite(*o.a)))
    bad("a must be > 0; got " + format_number(*o.a));
  if (o.b && (!(*o.b > 0) || !std::isfinite(*o.b)))
    bad("b must be > 0; got " + format_number(*o.b));
  if (o.n_epochs && *o.n_epochs < 1)
    bad("n_epochs must be >= 1; got " + std::to_string(*o.n_epochs));
  if (!(o.learning_rate > 0) || !std::isfinite(o.learning_rate))
    bad("learning_rate must be > 0; got " + format_number(o.learning_rate));
  if (!(o.negative_sample_rate >= 0) || !std::isfinite(o.negative_sample_rate))
    bad("negative_sample_rate must be >= 0; got " + format_number(o.negative_sample_rate));
  if (!(o.repulsion_strength >= 0) || !std::isfinite(o.repulsion_strength))
    bad("repulsion_strength must be >= 0; got " + format_number(o.repulsion_strength));
}

}  // namespace

std::string_view to_string(UmapInit init) { return name_of(kUmapInitNames, init); }
UmapInit parse_umap_init(std::string_view name) {
  return parse_name(kUmapInitNames, name, "UMAP initialisation");
}

UmapGraph umap_graph(const torch::Tensor& x, std::int64_t n_neighbors) {
  torch::NoGradGuard no_grad;
  const torch::Tensor xd = detail::checked_matrix(x, "UMAP", 2);
  const std::int64_t n = xd.size(0);
  if (n_neighbors < 2) bad("n_neighbors must be >= 2; got " + std::to_string(n_neighbors));
  if (n_neighbors > n)
    bad("n_neighbors (" + std::to_string(n_neighbors) + ") must be at most the number of rows (" +
        std::to_string(n) + ")");
  const std::int64_t k = n_neighbors - 1;  // other rows per row
  NeighborOptions no;
  no.k = k;
  no.exclude_self = true;
  const auto xc = xd - xd.mean(0);  // centred: the distance expansion stays accurate
  auto found = nearest_neighbors(xc, xc, no);
  auto dist = found.distances.contiguous();
  auto idx = found.indices.contiguous();
  const double* dp = dist.data_ptr<double>();
  const std::int64_t* ip = idx.data_ptr<std::int64_t>();

  UmapGraph g;
  g.n = n;
  g.n_neighbors = n_neighbors;
  g.rho.assign(static_cast<std::size_t>(n), 0.0);
  g.sigma.assign(static_cast<std::size_t>(n), 0.0);
  // Means over all n_neighbors columns, the row itself (distance 0) included, as umap-learn.
  const double mean_all = dist.sum().item<double>() / static_cast<double>(n * n_neighbors);
  const double target = std::log2(static_cast<double>(n_neighbors));
  struct Entry {
    std::int64_t row, col;
    double value;
  };
  std::vector<Entry> entries;
  entries.reserve(static_cast<std::size_t>(2 * n * k));
  for (std::int64_t i = 0; i < n; ++i) {
    const double* d = dp + i * k;
    double rho = 0, mean_row = 0;
    for (std::int64_t j = 0; j < k; ++j) {
      if (rho == 0 && d[j] > 0) rho = d[j];
      mean_row += d[j];
    }
    mean_row /= static_cast<double>(n_neighbors);
    // The floor keeps sigma from collapsing when most neighbours sit within rho.
    const double sigma =
        std::max(bandwidth(d, k, rho, target), 1e-3 * (rho > 0 ? mean_row : mean_all));
    g.rho[i] = rho;
    g.sigma[i] = sigma;
    for (std::int64_t j = 0; j < k; ++j) {
      const double excess = d[j] - rho;
      const double w = excess <= 0 ? 1.0 : std::exp(-excess / sigma);
      if (w <= 0) continue;
      entries.push_back({i, ip[i * k + j], w});
      entries.push_back({ip[i * k + j], i, w});
    }
  }
  // Fuzzy union: an entry present in A and in A^T (the pair is a neighbour both ways) becomes
  // a + b - ab; one present once keeps its value.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.row != b.row ? a.row < b.row : a.col < b.col;
  });
  g.indptr.assign(static_cast<std::size_t>(n + 1), 0);
  for (std::size_t e = 0; e < entries.size();) {
    double w = entries[e].value;
    std::size_t f = e + 1;
    if (f < entries.size() && entries[f].row == entries[e].row &&
        entries[f].col == entries[e].col) {
      w = w + entries[f].value - w * entries[f].value;
      ++f;
    }
    if (w > 0) {
      g.indices.push_back(entries[e].col);
      g.weights.push_back(w);
      ++g.indptr[entries[e].row + 1];
    }
    e = f;
  }
  for (std::int64_t i = 0; i < n; ++i) g.indptr[i + 1] += g.indptr[i];
  return g;
}

UmapCurve umap_curve(double spread, double min_dist) {
  if (!(spread > 0) || !std::isfinite(spread))
    bad("spread must be > 0; got " + format_number(spread));
  if (!(min_dist >= 0) || min_dist > spread)
    bad("min_dist must be in [0, spread = " + format_number(spread) + "]; got " +
        format_number(min_dist));
  constexpr int points = 300;
  std::vector<double> x(points), y(points);
  for (int t = 0; t < points; ++t) {
    x[t] = 3 * spread * t / (points - 1);
    y[t] = x[t] < min_dist ? 1.0 : std::exp(-(x[t] - min_dist) / spread);
  }
  // Levenberg–Marquardt with Marquardt's diagonal scaling; stops when a step no longer lowers
  // the cost by a relative 1e-15 (well below curve_fit's 1.5e-8 tolerances).
  double a = 1, b = 1, lambda = 1e-3;
  double cost = curve_cost(x, y, a, b);
  for (int it = 0; it < 1000; ++it) {
    double jaa = 0, jab = 0, jbb = 0, ga = 0, gb = 0;
    for (int t = 0; t < points; ++t) {
      const double u = x[t] > 0 ? std::pow(x[t], 2 * b) : 0.0;
      const double f = 1 / (1 + a * u);
      const double r = f - y[t];
      const double da = -u * f * f;
      const double db = x[t] > 0 ? -a * u * 2 * std::log(x[t]) * f * f : 0.0;
      jaa += da * da;
      jab += da * db;
      jbb += db * db;
      ga += da * r;
      gb += db * r;
    }
    double trial = cost, step_a = 0, step_b = 0;
    while (lambda < 1e16) {
      const double m11 = jaa * (1 + lambda), m22 = jbb * (1 + lambda);
      const double det = m11 * m22 - jab * jab;
      step_a = -(m22 * ga - jab * gb) / det;
      step_b = -(m11 * gb - jab * ga) / det;
      trial = curve_cost(x, y, a + step_a, b + step_b);
      if (trial < cost) break;
      lambda *= 10;
    }
    if (!(trial < cost)) break;
    a += step_a;
    b += step_b;
    const bool small = cost - trial <= 1e-15 * cost;
    cost = trial;
    lambda = std::max(lambda / 10, 1e-12);
    if (small) break;
  }
  return {a, b};
}

// ---- the run ---------------------------------------------------------------------------------

struct UmapState::Impl {
  UmapOptions options;
  std::int64_t n = 0, dim = 0, n_epochs = 0, epoch = 0;
  double a = 0, b = 0;
  std::vector<double> y;
  std::vector<std::int64_t> head, tail;
  std::vector<double> period, next, negative_period, next_negative;
  Rng rng{0};
  UmapResult info;

  void run_epoch() {
    const double alpha =
        options.learning_rate * (1 - static_cast<double>(epoch) / static_cast<double>(n_epochs));
    const double now = static_cast<double>(epoch);
    const double gamma = options.repulsion_strength;
    const auto count = static_cast<std::uint64_t>(n);
    for (std::size_t e = 0; e < head.size(); ++e) {
      if (next[e] > now) continue;
      double* yi = y.data() + head[e] * dim;
      double* yj = y.data() + tail[e] * dim;
      double d2 = 0;
      for (std::int64_t c = 0; c < dim; ++c) d2 += (yi[c] - yj[c]) * (yi[c] - yj[c]);
      double coef = 0;
      if (d2 > 0) {
        const double pb = std::pow(d2, b);
        coef = -2 * a * b * (pb / d2) / (a * pb + 1);
      }
      for (std::int64_t c = 0; c < dim; ++c) {
        const double g = clip4(coef * (yi[c] - yj[c]));
        yi[c] += g * alpha;
        yj[c] -= g * alpha;
      }
      next[e] += period[e];
      if (options.negative_sample_rate <= 0) continue;
      const auto samples = static_cast<std::int64_t>((now - next_negative[e]) / negative_period[e]);
      for (std::int64_t s = 0; s < samples; ++s) {
        const auto k = static_cast<std::int64_t>(rng.below(count));
        const double* yk = y.data() + k * dim;
        double dk = 0;
        for (std::int64_t c = 0; c < dim; ++c) dk += (yi[c] - yk[c]) * (yi[c] - yk[c]);
        if (dk > 0) {
          const double rep = 2 * gamma * b / ((0.001 + dk) * (a * std::pow(dk, b) + 1));
          for (std::int64_t c = 0; c < dim; ++c) yi[c] += clip4(rep * (yi[c] - yk[c])) * alpha;
        } else if (k != head[e]) {
          // A coincident other point: the largest step, in no particular direction (as
          // umap-learn), so that the two come apart.
          for (std::int64_t c = 0; c < dim; ++c) yi[c] += 4 * alpha;
        }
      }
      next_negative[e] += static_cast<double>(samples) * negative_period[e];
    }
    ++epoch;
  }
};

UmapState::UmapState(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UmapState::~UmapState() = default;
UmapState::UmapState(UmapState&&) noexcept = default;
UmapState& UmapState::operator=(UmapState&&) noexcept = default;

std::int64_t UmapState::run(std::int64_t epoch_limit) {
  Impl& s = *impl_;
  const std::int64_t limit = std::min(epoch_limit, s.n_epochs);
  while (s.epoch < limit) s.run_epoch();
  return s.epoch;
}
std::int64_t UmapState::run() { return run(impl_->n_epochs); }
std::int64_t UmapState::epoch() const { return impl_->epoch; }
bool UmapState::done() const { return impl_->epoch >= impl_->n_epochs; }

UmapResult UmapState::result() const {
  const Impl& s = *impl_;
  UmapResult r = s.info;
  r.embedding =
      torch::from_blob(const_cast<double*>(s.y.data()), {s.n, s.dim}, torch::kFloat64).clone();
  r.epochs_run = s.epoch;
  return r;
}

UmapState umap_initialize(const torch::Tensor& x, const UmapOptions& options) {
  torch::NoGradGuard no_grad;
  const torch::Tensor xd = detail::checked_matrix(x, "UMAP", 2);
  const std::int64_t n = xd.size(0), dim = options.n_components;
  check_options(options, n);
  if (options.init == UmapInit::pca && xd.size(1) < dim)
    bad("init 'pca' needs at least n_components (" + std::to_string(dim) +
        ") columns; the data have " + std::to_string(xd.size(1)));
  auto s = std::make_unique<UmapState::Impl>();
  s->options = options;
  s->n = n;
  s->dim = dim;
  s->rng = Rng(options.seed);
  const std::int64_t default_epochs = n <= 10000 ? 500 : 200;
  s->n_epochs = options.n_epochs.value_or(default_epochs);
  if (options.a && options.b) {
    s->a = *options.a;
    s->b = *options.b;
  } else {
    const auto curve = umap_curve(options.spread, options.min_dist);
    s->a = options.a.value_or(curve.a);
    s->b = options.b.value_or(curve.b);
  }

  // The graph, without edges too weak to be sampled even once over the epochs (umap-learn uses
  // the default epochs for this when n_epochs is 10 or fewer).
  UmapGraph g = umap_graph(xd, options.n_neighbors);
  const double wmax = *std::max_element(g.weights.begin(), g.weights.end());
  const double floor = wmax / static_cast<double>(s->n_epochs > 10 ? s->n_epochs : default_epochs);
  {
    UmapGraph pruned = g;
    pruned.indices.clear();
    pruned.weights.clear();
    pruned.indptr.assign(1, 0);
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t e = g.indptr[i]; e < g.indptr[i + 1]; ++e)
        if (g.weights[e] >= floor) {
          pruned.indices.push_back(g.indices[e]);
          pruned.weights.push_back(g.weights[e]);
          s->head.push_back(i);
          s->tail.push_back(g.indices[e]);
          s->period.push_back(wmax / g.weights[e]);
        }
      pruned.indptr.push_back(static_cast<std::int64_t>(pruned.indices.size()));
    }
    g = std::move(pruned);
  }
  s->next = s->period;
  for (double p : s->period) s->negative_period.push_back(p / options.negative_sample_rate);
  s->next_negative = s->negative_period;

  // The start, largest coordinate 10, a little noise, then each coordinate scaled to [0, 10].
  torch::Tensor start;
  switch (options.init) {
    case UmapInit::spectral:
      start =
          spectral_start(xd, g, dim, s->rng, s->info.spectral_residual, s->info.graph_components);
      break;
    case UmapInit::pca: {
      PcaOptions po;
      po.n_components = dim;
      po.seed = options.seed;
      start = run_pca(xd, po).scores;
      break;
    }
    case UmapInit::random: {
      start = torch::empty({n, dim}, torch::kFloat64);
      auto* p = start.data_ptr<double>();
      for (std::int64_t t = 0; t < n * dim; ++t) p[t] = 20 * s->rng.uniform() - 10;
      break;
    }
  }
  if (options.init != UmapInit::spectral)
    s->info.graph_components = static_cast<std::int64_t>(components_of(g).size());
  start = start.contiguous().clone();
  if (options.init != UmapInit::random) {
    const double largest = start.abs().max().item<double>();
    if (largest > 0) start *= 10 / largest;
    auto* p = start.data_ptr<double>();
    for (std::int64_t t = 0; t < n * dim; ++t) p[t] += 1e-4 * s->rng.normal();
  }
  auto lo = std::get<0>(start.min(0)), hi = std::get<0>(start.max(0));
  start = (10 * (start - lo) / (hi - lo).clamp_min(1e-300)).contiguous();
  s->y.assign(start.data_ptr<double>(), start.data_ptr<double>() + n * dim);

  s->info.a = s->a;
  s->info.b = s->b;
  s->info.n_epochs = s->n_epochs;
  s->info.n_neighbors = options.n_neighbors;
  s->info.n_edges = static_cast<std::int64_t>(s->head.size());
  return UmapState(std::move(s));
}

UmapResult umap(const torch::Tensor& x, const UmapOptions& options) {
  auto state = umap_initialize(x, options);
  state.run();
  return state.result();
}

}  // namespace cellvae::analysis
