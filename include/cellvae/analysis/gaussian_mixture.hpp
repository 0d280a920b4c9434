// Gaussian mixture models fitted by expectation-maximisation, their selection by BIC, and
// sampling from them.
//
// This is the latent sampler of VAExprs' gen_exprs: encode the training cells, fit a mixture to
// their latent means with the number of components and the covariance structure chosen by BIC
// (VAExprs calls R's mclust over G = 1..9 and all its models), draw new latent points from it
// and decode them. It also clusters cells in a latent space (predict / predict_proba).
//
// The EM follows scikit-learn's GaussianMixture as published in its user guide and API docs:
// the same parameterisation, regularisation (reg_covar on the covariance diagonal after every
// M-step), convergence rule (change of the per-sample mean log-likelihood below `tolerance`),
// k-means start, and BIC. Started from the same parameters, the two give the same fit to
// rounding (tests/analysis/test_gaussian_mixture.cpp). All arithmetic is float64 on the device
// of the data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <torch/types.h>

namespace cellvae::analysis {

/// The structure of the component covariances (d = dimension, K = components). Names are
/// scikit-learn's; mclust's model with the same likelihood is given for each. mclust's other
/// constrained models (equal volume, equal shape, ...) are not offered.
enum class CovarianceType {
  full,       ///< "full": each component its own general covariance (mclust VVV)
  diagonal,   ///< "diag": each component its own diagonal covariance (mclust VVI)
  spherical,  ///< "spherical": each component its own variance times I (mclust VII)
  tied,       ///< "tied": one general covariance shared by all components (mclust EEE)
};

/// "full", "diag", "spherical", "tied".
std::string_view to_string(CovarianceType type);
/// Inverse of to_string; throws InputError listing the valid names.
CovarianceType parse_covariance_type(std::string_view name);

/// Parameters to start EM from instead of the k-means start. Each tensor is optional (leave it
/// undefined); a missing one is taken from the k-means start, as scikit-learn's weights_init,
/// means_init and precisions_init. All given: EM starts from exactly these parameters and the
/// k-means start is not computed. Shapes follow the covariance type (see GaussianMixture).
struct GaussianMixtureStart {
  torch::Tensor weights;      ///< (K) non-negative, summing to 1 (to 1e-6)
  torch::Tensor means;        ///< (K x d)
  torch::Tensor covariances;  ///< covariance shape of the type, positive definite
  /// Inverse covariances, same shape (scikit-learn's precisions_init). Give at most one of
  /// covariances and precisions.
  torch::Tensor precisions;
};

struct GaussianMixtureOptions {
  /// Number of components K, 1 <= K <= number of rows.
  std::int64_t components = 1;
  CovarianceType covariance = CovarianceType::full;
  /// EM iterations per start, >= 1. One iteration is an E-step followed by an M-step.
  int max_iterations = 100;
  /// EM stops when the mean per-row log-likelihood changes by less than this between two
  /// consecutive E-steps (so never before the second iteration). > 0.
  double tolerance = 1e-3;
  /// Added to every covariance diagonal after each M-step (and to the k-means start), keeping
  /// covariances positive definite. >= 0. In the squared units of the data: 1e-6 suits latent
  /// coordinates of order 1.
  double reg_covar = 1e-6;
  /// Independent starts; the one with the highest final lower bound is kept. >= 1. Start i
  /// runs k-means with its own seed drawn from `seed`. With a complete `initial` every start
  /// is identical, so only one is run.
  int n_init = 1;
  /// Seeds the k-means start (run_kmeans with n_init = 1, as scikit-learn).
  std::uint64_t seed = 0;
  /// Optional starting parameters (see GaussianMixtureStart).
  GaussianMixtureStart initial;
};

/// A fitted mixture: p(x) = sum_k weights[k] N(x; means[k], Sigma_k).
struct GaussianMixture {
  CovarianceType covariance = CovarianceType::full;
  torch::Tensor weights;  ///< (K) float64, positive, summing to 1
  torch::Tensor means;    ///< (K x d) float64
  /// float64, as scikit-learn's covariances_: full (K x d x d); diagonal (K x d) variances;
  /// spherical (K) variances; tied (d x d). reg_covar is included.
  torch::Tensor covariances;
  /// Mean log-likelihood per row at the last E-step, i.e. under the parameters before the last
  /// M-step (scikit-learn's lower_bound_; EM's bound equals the log-likelihood after an
  /// E-step). The stopping rule is evaluated on it.
  double lower_bound = 0;
  bool converged = false;  ///< stopped by `tolerance` before max_iterations
  int iterations = 0;      ///< EM iterations of the kept start
  /// Total log-likelihood of the fitted rows under the final parameters.
  double log_likelihood = 0;
  /// Free parameters: K d means + K - 1 weights + covariance entries (full K d(d+1)/2,
  /// diagonal K d, spherical K, tied d(d+1)/2), as scikit-learn's _n_parameters.
  std::int64_t n_parameters = 0;
  /// Bayesian information criterion, -2 log_likelihood + n_parameters ln(n) (scikit-learn's
  /// bic(X) on the fitted rows; lower is better). mclust reports the negative of this.
  double bic = 0;

  std::int64_t components() const { return weights.defined() ? weights.size(0) : 0; }
  std::int64_t dimension() const { return means.defined() ? means.size(1) : 0; }
};

/// Fits a mixture to the rows of `x` (n x d, floating point, finite; n >= components) by EM.
/// Default start: k-means labels (run_kmeans, k-means++ with options.seed) as one-hot
/// responsibilities, followed by an M-step (scikit-learn's init_params="kmeans").
/// Throws InputError on bad input or options, and when a covariance becomes singular (a
/// component collapsed onto too few distinct points): then use fewer components or a larger
/// reg_covar.
GaussianMixture fit_gaussian_mixture(const torch::Tensor& x,
                                     const GaussianMixtureOptions& options = {});

/// log p(x) of each row of `x` (m x d): a float64 tensor (m) (scikit-learn's score_samples).
torch::Tensor score_samples(const GaussianMixture& mixture, const torch::Tensor& x);

/// Responsibilities p(component k | x): (m x K) float64, rows summing to 1 (predict_proba).
torch::Tensor predict_proba(const GaussianMixture& mixture, const torch::Tensor& x);

/// The most probable component of each row (predict), 0 .. K-1.
std::vector<std::int32_t> predict(const GaussianMixture& mixture, const torch::Tensor& x);

/// Draws from a mixture (sample).
struct MixtureSample {
  torch::Tensor samples;     ///< (n x d) float64
  torch::Tensor components;  ///< (n) int64: the component each row was drawn from
};

/// `n` (>= 0) independent draws, on the generator's device and using only `generator`: each
/// row's component is drawn with probabilities `weights`, then the row is
/// means[k] + L_k z with z standard normal and L_k the Cholesky factor of the component's
/// covariance (the square roots of the variances for diagonal and spherical). Rows are in
/// draw order (not grouped by component, unlike scikit-learn's sample).
MixtureSample sample(const GaussianMixture& mixture, std::int64_t n, torch::Generator& generator);
/// The same with a fresh CPU generator seeded with `seed`: the same seed gives the same rows.
MixtureSample sample(const GaussianMixture& mixture, std::int64_t n, std::uint64_t seed);

// ---- choosing K and the covariance type by BIC -------------------------------------------------

struct GaussianMixtureSelectionOptions {
  /// Candidate component counts: min_components .. max_components (VAExprs/mclust: 1..9), both
  /// >= 1. Counts above the number of rows are not tried.
  std::int64_t min_components = 1;
  std::int64_t max_components = 9;
  /// Candidate covariance types (non-empty); every count is tried with every type.
  std::vector<CovarianceType> covariance_types = {CovarianceType::full, CovarianceType::diagonal,
                                                  CovarianceType::spherical, CovarianceType::tied};
  /// Candidates with more free parameters than this many per row are not fitted (recorded
  /// with a note). Their covariances rest on a handful of points each, so reg_covar alone keeps
  /// them non-singular and their likelihood — hence BIC — rewards collapsing onto single points.
  /// 0 = no limit (scikit-learn's behaviour).
  double max_parameters_per_row = 0;
  /// Settings of every candidate fit (same seed for all); its components, covariance and
  /// initial are ignored.
  GaussianMixtureOptions fit;
};

/// One candidate of the selection.
struct MixtureCandidate {
  std::int64_t components = 0;
  CovarianceType covariance = CovarianceType::full;
  bool fitted = false;  ///< false when the fit failed (see note); bic is then NaN
  double bic = 0;
  double log_likelihood = 0;
  std::int64_t n_parameters = 0;
  bool converged = false;
  std::string note;  ///< why a fit failed ("" when fitted)
};

struct GaussianMixtureSelection {
  GaussianMixture best;  ///< the candidate with the lowest BIC (ties: the earlier in `candidates`)
  /// Every candidate tried, by increasing K and, within K, in the order of covariance_types.
  std::vector<MixtureCandidate> candidates;
};

/// Fits every candidate (K, covariance type) to the rows of `x` (n x d, n >= 2) and keeps the
/// one with the lowest BIC. A candidate whose fit fails (a singular covariance) is recorded
/// with its note and skipped. Throws InputError on bad input or options, or when no candidate
/// could be fitted.
GaussianMixtureSelection select_gaussian_mixture(
    const torch::Tensor& x, const GaussianMixtureSelectionOptions& options = {});

}  // namespace cellvae::analysis
