// A small seeded random number generator with the distributions cellvae needs, implemented
// here so that results are identical across compilers and standard libraries (the std::
// distributions are implementation-defined).
#pragma once

#include <cstdint>
#include <vector>

namespace cellvae {

/// xoshiro256** seeded through splitmix64 (Blackman & Vigna 2018).
class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  std::uint64_t next();
  /// Uniform in [0, 1) with 53 random bits.
  double uniform();
  /// Uniform integer in [0, n), unbiased (rejection). n > 0.
  std::uint64_t below(std::uint64_t n);
  /// Standard normal (Marsaglia polar method).
  double normal();
  /// Gamma(shape, scale=1), shape > 0 (Marsaglia & Tsang 2000; boosted for shape < 1).
  double gamma(double shape);
  /// Poisson(mean), mean >= 0 (inversion for small means, PTRS of Hörmann 1993 otherwise).
  std::int64_t poisson(double mean);
  /// Negative binomial with mean mu and inverse dispersion theta (variance mu + mu^2/theta),
  /// drawn as Poisson(Gamma(theta, mu/theta)).
  std::int64_t negative_binomial(double mu, double theta);
  /// Fisher-Yates shuffle.
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i) {
      std::size_t j = static_cast<std::size_t>(below(i));
      std::swap(v[i - 1], v[j]);
    }
  }

 private:
  std::uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace cellvae
