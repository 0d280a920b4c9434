// Local polynomial regression (loess) of one response on one predictor, as the Seurat v3
// highly-variable-gene method uses to model a gene's variance from its mean.
#pragma once

#include <cstdint>
#include <vector>

namespace cellvae {

/// Options of loess_fit. The defaults are those of Seurat v3's variance model.
struct LoessOptions {
  /// Fraction of the points used in each local fit: the fit at x0 uses the
  /// q = floor(span * n) points nearest to x0. Range (0, 1]. Default 0.3 (Seurat, scanpy).
  double span = 0.3;
  /// Degree of the local polynomial: 0, 1 or 2. Default 2.
  int degree = 2;
};

struct LoessResult {
  /// Fitted value at each input point, in input order.
  std::vector<double> fitted;
  /// q, the number of nearest points in each local fit (resolved from span).
  std::int64_t neighbours = 0;
  /// Distinct x values where the local design was (numerically) rank deficient and the fit
  /// used a lower degree, e.g. fewer than three distinct x values with positive weight.
  std::int64_t n_reduced_degree = 0;
};

/// Fits loess at every input point ("direct" evaluation, as R's loess(surface = "direct")
/// with family = "gaussian": no robustness iterations, no interpolation).
///
/// At each x0: h = the q-th smallest distance |x_j - x0|; weights are tricube,
/// w_j = (1 - (|x_j - x0| / h)^3)^3 for |x_j - x0| < h and 0 otherwise; the fitted value is
/// the value at x0 of the weighted least-squares polynomial of the given degree. When h is 0
/// (at least q points share x0) the fit is the mean of y over the points at x0. When the
/// weighted design is rank deficient the degree is lowered (counted in n_reduced_degree).
///
/// Note: scanpy's seurat_v3 flavour calls skmisc's loess with its default
/// surface = "interpolate" (local fits at the vertices of a k-d tree, blended by cubic
/// interpolation), so its fitted values differ slightly from these, and genes with nearly
/// equal normalized variances can swap places at the selection cut. Direct evaluation is
/// exact for the definition above; it costs O(n * q) time (about 1 s for 30,000 points with
/// span 0.3), which is why loess implementations offer interpolation.
///
/// Throws InputError when x and y differ in length, are empty, hold NaN or infinite values,
/// when span or degree is out of range, or when q < degree + 1 (span too small for n).
LoessResult loess_fit(const std::vector<double>& x, const std::vector<double>& y,
                      const LoessOptions& options = {});

}  // namespace cellvae
