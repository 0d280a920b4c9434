// Nearest neighbours, logistic regression, random forest, and cross-validation over them.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <utility>

#include <torch/torch.h>

#include "cellvae/analysis/classifier.hpp"
#include "cellvae/analysis/logistic_regression.hpp"
#include "cellvae/analysis/neighbors.hpp"
#include "cellvae/analysis/random_forest.hpp"
#include "cellvae/random.hpp"

namespace cellvae::analysis {

namespace {

void check_training_data(const torch::Tensor& x, const std::vector<std::int32_t>& y,
                         std::int32_t n_classes, const char* what) {
  if (x.dim() != 2) throw std::invalid_argument(std::string(what) + ": x must be 2-D");
  if (x.size(0) != static_cast<std::int64_t>(y.size()))
    throw std::invalid_argument(std::string(what) + ": one label per row needed");
  if (y.empty()) throw std::invalid_argument(std::string(what) + ": no training rows");
  if (n_classes < 1) throw std::invalid_argument(std::string(what) + ": n_classes must be >= 1");
  for (auto c : y)
    if (c < 0 || c >= n_classes)
      throw std::invalid_argument(std::string(what) + ": label out of range");
}

void check_query(const torch::Tensor& x, const torch::Tensor& query, const char* what) {
  if (query.dim() != 2 || query.size(1) != x.size(1))
    throw std::invalid_argument(std::string(what) + ": query columns differ from training");
}

torch::Tensor as_double(const torch::Tensor& t) { return t.to(torch::kFloat64).contiguous(); }

}  // namespace

// ---- nearest neighbours ---------------------------------------------------------------------

NeighborResult nearest_neighbors(const torch::Tensor& reference, const torch::Tensor& query,
                                 const NeighborOptions& options) {
  if (reference.dim() != 2 || query.dim() != 2 || reference.size(1) != query.size(1))
    throw std::invalid_argument("nearest_neighbors: 2-D inputs with equal columns needed");
  if (options.exclude_self && reference.size(0) != query.size(0))
    throw std::invalid_argument("nearest_neighbors: exclude_self needs query == reference");
  torch::NoGradGuard no_grad;
  const std::int64_t n = reference.size(0), m = query.size(0);
  NeighborResult r;
  r.k = std::max<std::int64_t>(0, std::min(options.k, n - (options.exclude_self ? 1 : 0)));
  auto ref = reference.to(query.scalar_type());
  auto rr = ref.pow(2).sum(1).unsqueeze(0);
  std::vector<torch::Tensor> idx, dist;
  const std::int64_t block = std::max<std::int64_t>(1, options.block_size);
  for (std::int64_t s = 0; s < m; s += block) {
    const std::int64_t e = std::min(m, s + block);
    auto q = query.slice(0, s, e);
    auto d2 = (q.pow(2).sum(1, true) + rr - 2 * q.matmul(ref.t())).clamp_min_(0);
    if (options.exclude_self) {
      auto rows = torch::arange(e - s, torch::kLong);
      d2.index_put_({rows, rows + s}, std::numeric_limits<double>::infinity());
    }
    auto top = d2.topk(r.k, 1, /*largest=*/false, /*sorted=*/true);
    dist.push_back(std::get<0>(top).sqrt());
    idx.push_back(std::get<1>(top));
  }
  if (m == 0) {
    r.indices = torch::empty({0, r.k}, torch::kLong);
    r.distances = torch::empty({0, r.k}, query.options());
  } else {
    r.indices = torch::cat(idx);
    r.distances = torch::cat(dist);
  }
  return r;
}

torch::Tensor knn_predict_proba(const torch::Tensor& x, const std::vector<std::int32_t>& y,
                                std::int32_t n_classes, const torch::Tensor& query,
                                const KnnClassifierOptions& options) {
  check_training_data(x, y, n_classes, "knn_predict_proba");
  check_query(x, query, "knn_predict_proba");
  NeighborOptions nn;
  nn.k = std::max<std::int64_t>(1, options.k);
  auto found = nearest_neighbors(as_double(x), as_double(query), nn);
  const std::int64_t m = query.size(0), k = found.k;
  auto proba = torch::zeros({m, n_classes}, torch::kFloat64);
  auto idx = found.indices.contiguous();
  const auto* ip = idx.data_ptr<std::int64_t>();
  auto* pp = proba.data_ptr<double>();
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < k; ++j) pp[i * n_classes + y[ip[i * k + j]]] += 1.0 / k;
  return proba;
}

// ---- logistic regression --------------------------------------------------------------------

namespace {

/// Newton's method on a smooth convex objective with a backtracking (Armijo) line search.
/// `evaluate(theta, want_hessian)` returns (objective, gradient, hessian).
struct NewtonOutcome {
  torch::Tensor theta;
  int iterations = 0;
  bool converged = false;
};

using Objective =
    std::function<std::tuple<double, torch::Tensor, torch::Tensor>(const torch::Tensor&, bool)>;

NewtonOutcome newton_minimise(torch::Tensor theta, const Objective& evaluate,
                              double gradient_tolerance, int max_iterations) {
  NewtonOutcome out;
  for (int it = 0; it < max_iterations; ++it) {
    auto [f, g, h] = evaluate(theta, true);
    if (g.abs().max().item<double>() < gradient_tolerance) {
      out.converged = true;
      break;
    }
    auto step = torch::linalg_solve(h, g.unsqueeze(1)).squeeze(1);
    const double slope = g.dot(step).item<double>();
    double t = 1.0;
    torch::Tensor next = theta - step;
    // Near the optimum the predicted decrease (slope / 2) is below the rounding of f, and the
    // line search could not tell a good step from a bad one: take the full Newton step.
    bool accepted = 0.5 * slope <= 1e-13 * (1 + std::abs(f));
    for (int ls = 0; !accepted && ls < 60; ++ls, t /= 2) {
      next = theta - t * step;
      const double fn = std::get<0>(evaluate(next, false));
      if (fn <= f - 1e-4 * t * slope) {
        accepted = true;
        break;
      }
    }
    ++out.iterations;
    if (!accepted) {
      // No decrease representable any more: we are at the optimum to rounding.
      out.converged = true;
      break;
    }
    theta = next;
  }
  out.theta = theta;
  return out;
}

/// log(1 + exp(z)), stable for large |z|.
torch::Tensor log1p_exp(const torch::Tensor& z) {
  return z.clamp_min(0) + torch::log1p(torch::exp(-z.abs()));
}

}  // namespace

LogisticRegressionModel fit_logistic_regression(const torch::Tensor& x_in,
                                                const std::vector<std::int32_t>& y,
                                                std::int32_t n_classes,
                                                const LogisticRegressionOptions& options) {
  check_training_data(x_in, y, n_classes, "fit_logistic_regression");
  if (!(options.C > 0)) throw std::invalid_argument("fit_logistic_regression: C must be > 0");
  torch::NoGradGuard no_grad;
  LogisticRegressionModel model;
  model.n_classes = n_classes;
  std::vector<std::int32_t> present(static_cast<std::size_t>(n_classes), 0);
  for (auto c : y) present[c] = 1;
  for (std::int32_t c = 0; c < n_classes; ++c)
    if (present[c]) model.classes.push_back(c);

  const auto x = as_double(x_in);
  const std::int64_t n = x.size(0), d = x.size(1);
  const std::int64_t kc = static_cast<std::int64_t>(model.classes.size());
  if (kc == 1) {
    model.weights = torch::zeros({1, d}, torch::kFloat64);
    model.intercept = torch::zeros({1}, torch::kFloat64);
    model.converged = true;
    return model;
  }
  const std::int64_t p = d + (options.fit_intercept ? 1 : 0);
  auto xb = options.fit_intercept ? torch::cat({x, torch::ones({n, 1}, torch::kFloat64)}, 1) : x;
  // Per-parameter penalty: 1 on weights; on the (unpenalised) intercept a tiny damping only,
  // which keeps the multinomial Hessian invertible along its one flat direction (adding the
  // same constant to every class's intercept) without moving the optimum.
  auto penalty = torch::ones({p}, torch::kFloat64);
  if (options.fit_intercept) penalty[d] = 1e-8 * (1 + n * options.C);
  const double C = options.C;
  const double tol = options.tolerance * (1 + n * C);

  std::vector<std::int64_t> code_of(static_cast<std::size_t>(n_classes), -1);
  for (std::int64_t k = 0; k < kc; ++k) code_of[model.classes[k]] = k;
  std::vector<std::int64_t> yk(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) yk[i] = code_of[y[i]];
  auto ycode = torch::tensor(yk, torch::kLong);

  NewtonOutcome fit;
  if (kc == 2) {
    auto target = (ycode == 1).to(torch::kFloat64);
    auto evaluate = [&](const torch::Tensor& theta, bool hess) {
      auto z = xb.mv(theta);
      const double f =
          (C * (log1p_exp(z) - target * z).sum() + 0.5 * (penalty * theta * theta).sum())
              .item<double>();
      if (!hess) return std::make_tuple(f, torch::Tensor(), torch::Tensor());
      auto prob = torch::sigmoid(z);
      auto g = C * xb.t().mv(prob - target) + penalty * theta;
      auto w = prob * (1 - prob);
      auto h = C * xb.t().matmul(xb * w.unsqueeze(1)) + torch::diag(penalty);
      return std::make_tuple(f, g, h);
    };
    fit =
        newton_minimise(torch::zeros({p}, torch::kFloat64), evaluate, tol, options.max_iterations);
    auto theta = fit.theta;
    model.weights = theta.slice(0, 0, d).unsqueeze(0).clone();
    model.intercept =
        options.fit_intercept ? theta.slice(0, d).clone() : torch::zeros({1}, torch::kFloat64);
  } else {
    auto onehot = torch::zeros({n, kc}, torch::kFloat64).scatter_(1, ycode.unsqueeze(1), 1.0);
    auto pen = penalty.repeat({kc});  // theta flattened class-major: [class][param]
    auto evaluate = [&](const torch::Tensor& theta_flat, bool hess) {
      auto theta = theta_flat.view({kc, p});
      auto z = xb.matmul(theta.t());  // n x kc
      auto lse = z.logsumexp(1);
      const double f =
          (C * (lse - (z * onehot).sum(1)).sum() + 0.5 * (pen * theta_flat * theta_flat).sum())
              .item<double>();
      if (!hess) return std::make_tuple(f, torch::Tensor(), torch::Tensor());
      auto prob = (z - lse.unsqueeze(1)).exp();
      auto g = (C * (prob - onehot).t().matmul(xb)).reshape({kc * p}) + pen * theta_flat;
      // Hessian of the log-loss: blockdiag_k(Xb^T diag(P_k) Xb) - A^T A with
      // A[i, k p + a] = P_ik Xb_ia.
      auto a = (prob.unsqueeze(2) * xb.unsqueeze(1)).reshape({n, kc * p});
      auto h = -a.t().matmul(a);
      for (std::int64_t k = 0; k < kc; ++k) {
        auto block = xb.t().matmul(xb * prob.select(1, k).unsqueeze(1));
        h.slice(0, k * p, (k + 1) * p).slice(1, k * p, (k + 1) * p).add_(block);
      }
      h = C * h + torch::diag(pen);
      return std::make_tuple(f, g, h);
    };
    fit = newton_minimise(torch::zeros({kc * p}, torch::kFloat64), evaluate, tol,
                          options.max_iterations);
    auto theta = fit.theta.view({kc, p});
    model.weights = theta.slice(1, 0, d).clone();
    if (options.fit_intercept) {
      auto b = theta.select(1, d).clone();
      model.intercept = b - b.mean();  // the flat direction: report the centred solution
    } else {
      model.intercept = torch::zeros({kc}, torch::kFloat64);
    }
  }
  model.iterations = fit.iterations;
  model.converged = fit.converged;
  return model;
}

torch::Tensor predict_proba(const LogisticRegressionModel& model, const torch::Tensor& x_in) {
  if (x_in.dim() != 2 || x_in.size(1) != model.weights.size(1))
    throw std::invalid_argument("predict_proba: columns differ from the fitted model");
  torch::NoGradGuard no_grad;
  const auto x = as_double(x_in);
  const std::int64_t m = x.size(0);
  auto proba = torch::zeros({m, model.n_classes}, torch::kFloat64);
  const auto& cls = model.classes;
  if (cls.size() == 1) {
    proba.select(1, cls[0]).fill_(1.0);
  } else if (cls.size() == 2) {
    auto p1 = torch::sigmoid(x.matmul(model.weights.t()).squeeze(1) + model.intercept);
    proba.select(1, cls[1]).copy_(p1);
    proba.select(1, cls[0]).copy_(1 - p1);
  } else {
    auto pk = torch::softmax(x.matmul(model.weights.t()) + model.intercept, 1);
    for (std::size_t k = 0; k < cls.size(); ++k)
      proba.select(1, cls[k]).copy_(pk.select(1, static_cast<std::int64_t>(k)));
  }
  return proba;
}

// ---- random forest --------------------------------------------------------------------------

namespace {

std::uint64_t tree_seed(std::uint64_t seed, std::uint64_t tree) {
  return seed ^ (0x9E3779B97F4A7C15ULL * (tree + 1));
}

/// Each feature's values replaced by their dense ranks among the training rows, computed once
/// per forest: sorting small integer keys is several times faster than sorting doubles with
/// their row index, and equal values are equal ranks.
struct RankedFeatures {
  std::int64_t n = 0, d = 0;
  std::vector<std::uint32_t> rank;   ///< rank[f * n + i]
  std::vector<double> value;         ///< value[offset[f] + r]: the r-th distinct value of f
  std::vector<std::int64_t> offset;  ///< d + 1 entries

  RankedFeatures(const double* x, std::int64_t n_rows, std::int64_t n_features)
      : n(n_rows), d(n_features), rank(static_cast<std::size_t>(n_rows * n_features)), offset{0} {
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    for (std::int64_t f = 0; f < d; ++f) {
      const double* col = x + f * n;
      for (std::int64_t i = 0; i < n; ++i) order[i] = i;
      std::sort(order.begin(), order.end(),
                [col](std::int64_t a, std::int64_t b) { return col[a] < col[b]; });
      std::uint32_t r = 0;
      for (std::int64_t t = 0; t < n; ++t) {
        if (t > 0 && col[order[t]] != col[order[t - 1]]) ++r;
        if (t == 0 || col[order[t]] != col[order[t - 1]]) value.push_back(col[order[t]]);
        rank[f * n + order[t]] = r;
      }
      offset.push_back(static_cast<std::int64_t>(value.size()));
    }
  }
};

/// Grows one CART tree.
class TreeBuilder {
 public:
  TreeBuilder(const RankedFeatures& features, const std::vector<std::int32_t>& y,
              std::int32_t n_classes, int max_features, const RandomForestOptions& options,
              std::uint64_t seed)
      : x_(features),
        n_(features.n),
        d_(features.d),
        y_(y),
        k_(n_classes),
        max_features_(max_features),
        options_(options),
        rng_(seed) {}

  DecisionTree build() {
    weight_.assign(static_cast<std::size_t>(n_), 0.0);
    if (options_.bootstrap) {
      for (std::int64_t i = 0; i < n_; ++i)
        weight_[rng_.below(static_cast<std::uint64_t>(n_))] += 1;
    } else {
      std::fill(weight_.begin(), weight_.end(), 1.0);
    }
    samples_.clear();
    for (std::int64_t i = 0; i < n_; ++i)
      if (weight_[i] > 0) samples_.push_back(static_cast<std::int32_t>(i));
    features_.resize(static_cast<std::size_t>(d_));
    for (std::int64_t f = 0; f < d_; ++f) features_[f] = static_cast<std::int32_t>(f);
    keys_.resize(samples_.size());
    spare_.resize(samples_.size());
    left_.resize(static_cast<std::size_t>(k_));
    total_.resize(static_cast<std::size_t>(k_));

    struct Pending {
      std::int32_t node;
      std::size_t begin, end;
      int depth;
    };
    tree_.nodes.emplace_back();
    std::vector<Pending> stack{{0, 0, samples_.size(), 0}};
    while (!stack.empty()) {
      const Pending p = stack.back();
      stack.pop_back();
      std::fill(total_.begin(), total_.end(), 0.0);
      double w = 0;
      for (std::size_t s = p.begin; s < p.end; ++s) {
        total_[y_[samples_[s]]] += weight_[samples_[s]];
        w += weight_[samples_[s]];
      }
      int classes_present = 0;
      for (double c : total_) classes_present += c > 0;
      const std::size_t count = p.end - p.begin;
      const std::size_t min_leaf = static_cast<std::size_t>(std::max(1, options_.min_samples_leaf));
      bool leaf = classes_present <= 1 || count < 2 * min_leaf ||
                  (options_.max_depth && p.depth >= *options_.max_depth);
      Split split;
      if (!leaf) {
        split = best_split(p.begin, p.end, min_leaf);
        leaf = split.feature < 0;
      }
      if (leaf) {
        auto& node = tree_.nodes[p.node];
        node.value = static_cast<std::int32_t>(tree_.values.size());
        for (double c : total_) tree_.values.push_back(c / w);
        continue;
      }
      const std::uint32_t* col = x_.rank.data() + split.feature * n_;
      auto mid = std::partition(samples_.begin() + p.begin, samples_.begin() + p.end,
                                [&](std::int32_t s) { return col[s] <= split.rank; });
      const std::size_t cut = static_cast<std::size_t>(mid - samples_.begin());
      const auto left = static_cast<std::int32_t>(tree_.nodes.size());
      tree_.nodes.emplace_back();
      tree_.nodes.emplace_back();
      auto& node = tree_.nodes[p.node];
      node.feature = split.feature;
      node.threshold = split.threshold;
      node.left = left;
      node.right = left + 1;
      stack.push_back({left + 1, cut, p.end, p.depth + 1});
      stack.push_back({left, p.begin, cut, p.depth + 1});
    }
    return std::move(tree_);
  }

 private:
  struct Split {
    std::int32_t feature = -1;
    std::uint32_t rank = 0;  ///< rows with rank <= this go left
    double threshold = 0;    ///< the same cut as a value, for new rows
  };

  /// The split among max_features drawn features that maximises sum_c L_c^2 / W_L +
  /// sum_c R_c^2 / W_R (equivalently minimises the children's weighted Gini impurity).
  /// total_ holds the node's weighted class counts.
  Split best_split(std::size_t begin, std::size_t end, std::size_t min_leaf) {
    Split best;
    double best_score = -1;
    const std::size_t count = end - begin;
    double wt = 0, sum_sq_total = 0;
    for (double c : total_) {
      wt += c;
      sum_sq_total += c * c;
    }
    int visited = 0, varying = 0;
    for (std::int64_t j = 0; j < d_; ++j) {
      if (visited >= max_features_ && varying > 0) break;
      const auto r = j + static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>(d_ - j)));
      std::swap(features_[j], features_[r]);
      const std::int32_t f = features_[j];
      ++visited;
      const std::uint32_t* col = x_.rank.data() + f * n_;
      // key = rank << 32 | row: sorting the keys sorts the rows by value.
      for (std::size_t t = 0; t < count; ++t) {
        const auto s = static_cast<std::uint32_t>(samples_[begin + t]);
        keys_[t] = (static_cast<std::uint64_t>(col[s]) << 32) | s;
      }
      sort_keys(count, static_cast<std::uint64_t>(x_.offset[f + 1] - x_.offset[f]));
      if ((keys_[0] >> 32) == (keys_[count - 1] >> 32)) continue;  // constant here
      ++varying;
      std::fill(left_.begin(), left_.end(), 0.0);
      double wl = 0, sum_sq_left = 0, sum_sq_right = sum_sq_total;
      for (std::size_t t = 0; t + 1 < count; ++t) {
        const auto s = static_cast<std::uint32_t>(keys_[t] & 0xffffffffu);
        const double w = weight_[s];
        const std::int32_t c = y_[s];
        // Update the sums of squared class weights incrementally.
        const double lc = left_[c], rc = total_[c] - lc;
        sum_sq_left += w * (2 * lc + w);
        sum_sq_right += w * (w - 2 * rc);
        left_[c] = lc + w;
        wl += w;
        const auto rank_here = static_cast<std::uint32_t>(keys_[t] >> 32);
        const auto rank_next = static_cast<std::uint32_t>(keys_[t + 1] >> 32);
        if (rank_here == rank_next) continue;
        if (t + 1 < min_leaf || count - t - 1 < min_leaf) continue;
        const double score = sum_sq_left / wl + sum_sq_right / (wt - wl);
        if (score > best_score + 1e-12 * std::abs(best_score)) {
          best_score = score;
          best.feature = f;
          best.rank = rank_here;
          const double* values = x_.value.data() + x_.offset[f];
          const double lo = values[rank_here], hi = values[rank_next];
          double mid = lo / 2 + hi / 2;
          if (!(mid < hi)) mid = lo;
          best.threshold = mid;
        }
      }
    }
    return best;
  }

  /// Sorts keys_[0, count) by rank. Large nodes use a stable LSD radix sort on the rank's
  /// bytes (linear time; the order within equal ranks does not matter to the scan), small ones
  /// std::sort.
  void sort_keys(std::size_t count, std::uint64_t n_ranks) {
    const auto end = keys_.begin() + static_cast<std::ptrdiff_t>(count);
    if (count < 128 || n_ranks > 65536) {
      std::sort(keys_.begin(), end);
      return;
    }
    const int passes = n_ranks <= 256 ? 1 : 2;
    for (int pass = 0; pass < passes; ++pass) {
      const int shift = 32 + 8 * pass;
      std::size_t start[257] = {};
      for (std::size_t t = 0; t < count; ++t) ++start[((keys_[t] >> shift) & 255u) + 1];
      for (int b = 0; b < 256; ++b) start[b + 1] += start[b];
      for (std::size_t t = 0; t < count; ++t)
        spare_[start[(keys_[t] >> shift) & 255u]++] = keys_[t];
      keys_.swap(spare_);
    }
  }

  const RankedFeatures& x_;
  std::int64_t n_, d_;
  const std::vector<std::int32_t>& y_;
  std::int32_t k_;
  int max_features_;
  const RandomForestOptions& options_;
  Rng rng_;
  std::vector<double> weight_;
  std::vector<std::int32_t> samples_;
  std::vector<std::int32_t> features_;
  std::vector<std::uint64_t> keys_, spare_;
  std::vector<double> left_, total_;
  DecisionTree tree_;
};

/// Runs body(i) for i in [0, count) on `threads` threads; rethrows the first exception.
template <class Body>
void parallel_tasks(int count, int threads, Body body) {
  threads = std::max(1, std::min(threads, count));
  if (threads == 1) {
    for (int i = 0; i < count; ++i) body(i);
    return;
  }
  std::atomic<int> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (int i; (i = next.fetch_add(1)) < count;) {
      try {
        body(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next = count;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace

RandomForestModel fit_random_forest(const torch::Tensor& x, const std::vector<std::int32_t>& y,
                                    std::int32_t n_classes, const RandomForestOptions& options) {
  check_training_data(x, y, n_classes, "fit_random_forest");
  if (options.n_trees < 1) throw std::invalid_argument("fit_random_forest: n_trees must be >= 1");
  torch::NoGradGuard no_grad;
  const std::int64_t n = x.size(0), d = x.size(1);
  if (d < 1) throw std::invalid_argument("fit_random_forest: no features");
  if (n >= (std::int64_t{1} << 31)) throw std::invalid_argument("fit_random_forest: too many rows");
  const auto feature_major = x.to(torch::kFloat64).t().contiguous();
  const RankedFeatures ranked(feature_major.data_ptr<double>(), n, d);
  int max_features = options.max_features ? *options.max_features
                                          : static_cast<int>(std::sqrt(static_cast<double>(d)));
  max_features = static_cast<int>(std::clamp<std::int64_t>(max_features, 1, d));

  RandomForestModel model;
  model.n_classes = n_classes;
  model.n_features = d;
  model.trees.resize(static_cast<std::size_t>(options.n_trees));
  parallel_tasks(options.n_trees, options.threads, [&](int t) {
    TreeBuilder builder(ranked, y, n_classes, max_features, options,
                        tree_seed(options.seed, static_cast<std::uint64_t>(t)));
    model.trees[static_cast<std::size_t>(t)] = builder.build();
  });
  return model;
}

torch::Tensor predict_proba(const RandomForestModel& model, const torch::Tensor& x_in) {
  if (x_in.dim() != 2 || x_in.size(1) != model.n_features)
    throw std::invalid_argument("predict_proba: columns differ from the fitted forest");
  const auto x = as_double(x_in);
  const std::int64_t m = x.size(0), d = x.size(1);
  const std::int32_t k = model.n_classes;
  auto proba = torch::zeros({m, k}, torch::kFloat64);
  const double* xp = x.data_ptr<double>();
  double* pp = proba.data_ptr<double>();
  for (std::int64_t i = 0; i < m; ++i) {
    const double* row = xp + i * d;
    double* out = pp + i * k;
    for (const auto& tree : model.trees) {
      std::int32_t node = 0;
      while (tree.nodes[node].feature >= 0) {
        const auto& nd = tree.nodes[node];
        node = row[nd.feature] <= nd.threshold ? nd.left : nd.right;
      }
      const double* v = tree.values.data() + tree.nodes[node].value;
      for (std::int32_t c = 0; c < k; ++c) out[c] += v[c];
    }
  }
  if (!model.trees.empty()) proba.div_(static_cast<double>(model.trees.size()));
  return proba;
}

// ---- one entry point and cross-validation ---------------------------------------------------

torch::Tensor fit_predict_proba(const torch::Tensor& x, const std::vector<std::int32_t>& y,
                                std::int32_t n_classes, const torch::Tensor& query,
                                const ClassifierOptions& options) {
  switch (options.kind) {
    case Classifier::knn:
      return knn_predict_proba(x, y, n_classes, query, options.knn);
    case Classifier::random_forest:
      return predict_proba(fit_random_forest(x, y, n_classes, options.forest), query);
    case Classifier::logistic:
      return predict_proba(fit_logistic_regression(x, y, n_classes, options.logistic), query);
  }
  throw std::invalid_argument("fit_predict_proba: unknown classifier");
}

std::vector<int> stratified_folds(const std::vector<std::int32_t>& y, std::int32_t n_classes,
                                  const CrossValidationOptions& options) {
  if (options.n_folds < 2) throw std::invalid_argument("stratified_folds: n_folds must be >= 2");
  Rng rng(options.seed);
  std::vector<std::vector<std::int64_t>> members(static_cast<std::size_t>(n_classes));
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (y[i] < 0 || y[i] >= n_classes)
      throw std::invalid_argument("stratified_folds: label out of range");
    members[y[i]].push_back(static_cast<std::int64_t>(i));
  }
  std::vector<int> fold(y.size(), 0);
  std::size_t offset = 0;
  for (auto& m : members) {
    rng.shuffle(m);
    for (std::size_t j = 0; j < m.size(); ++j)
      fold[m[j]] = static_cast<int>((offset + j) % options.n_folds);
    offset = (offset + m.size()) % options.n_folds;
  }
  return fold;
}

torch::Tensor cross_validated_proba(const torch::Tensor& x, const std::vector<std::int32_t>& y,
                                    std::int32_t n_classes, const ClassifierOptions& classifier,
                                    const CrossValidationOptions& options) {
  check_training_data(x, y, n_classes, "cross_validated_proba");
  torch::NoGradGuard no_grad;
  const auto fold = stratified_folds(y, n_classes, options);
  const std::int64_t n = x.size(0);
  auto proba = torch::zeros({n, n_classes}, torch::kFloat64);
  for (int f = 0; f < options.n_folds; ++f) {
    std::vector<std::int64_t> train, test;
    std::vector<std::int32_t> y_train;
    for (std::int64_t i = 0; i < n; ++i) {
      if (fold[i] == f) {
        test.push_back(i);
      } else {
        train.push_back(i);
        y_train.push_back(y[i]);
      }
    }
    if (test.empty()) continue;
    if (train.empty()) throw std::invalid_argument("cross_validated_proba: too few rows");
    auto ti = torch::tensor(train, torch::kLong), qi = torch::tensor(test, torch::kLong);
    auto p = fit_predict_proba(x.index_select(0, ti), y_train, n_classes, x.index_select(0, qi),
                               classifier);
    proba.index_copy_(0, qi, p);
  }
  return proba;
}

}  // namespace cellvae::analysis
