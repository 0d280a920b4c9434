#include "cellvae/count_check.hpp"

#include <cmath>
#include <sstream>

#include "cellvae/error.hpp"

namespace cellvae {

void check_counts(const Dataset& ds, const CountCheckOptions& options) {
  const std::string where = ds.source.empty() ? std::string("the data") : ds.source;
  if (ds.X.n_rows == 0) throw InputError(where + " has no cells");
  if (ds.X.n_cols == 0) throw InputError(where + " has no genes");
  const CsrMatrix& X = ds.X;
  for (std::int64_t r = 0; r < X.n_rows; ++r) {
    for (std::int64_t k = X.indptr[r]; k < X.indptr[r + 1]; ++k) {
      const float v = X.data[k];
      const char* problem = nullptr;
      if (!std::isfinite(v)) problem = "non-finite";
      else if (v < 0) problem = "negative";
      else if (!options.allow_non_integer && std::nearbyint(v) != v) problem = "non-integer";
      if (!problem) continue;
      std::ostringstream os;
      os.precision(9);
      os << where << ": " << problem << " value " << v << " at cell '"
         << (r < static_cast<std::int64_t>(ds.obs.index.size()) ? ds.obs.index[r] : "?")
         << "' (row " << r << "), gene '"
         << (X.indices[k] < static_cast<std::int64_t>(ds.var.index.size())
                 ? ds.var.index[X.indices[k]]
                 : "?")
         << "' (column " << X.indices[k] << ")";
      if (std::string(problem) == "non-integer")
        os << "; count models need whole numbers (use --allow-non-integer to accept them, e.g. "
              "for RPKM/TPM data with a Gaussian or Bernoulli likelihood)";
      else
        os << "; expression counts must be finite and non-negative";
      throw InputError(os.str());
    }
  }
}

}  // namespace cellvae
