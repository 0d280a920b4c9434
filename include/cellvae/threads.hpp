// One deliberate thread setup for LibTorch.
//
// Debian's LibTorch runs matrix products in OpenBLAS's own thread pool and everything else in
// OpenMP's. Left alone, both pools take every core and fight (1.35-2.9x slower measured on 2
// cores). cellvae gives OpenMP the requested threads and OpenBLAS one, the setting measured
// fastest for these models (../shared/bench/README.md).
#pragma once

#include <string>

namespace cellvae {

struct ThreadSetup {
  int torch_threads = 1;         ///< intra-op (OpenMP) threads LibTorch will use
  int blas_threads = 1;          ///< OpenBLAS threads; -1 when no OpenBLAS is loaded
};

/// Sets LibTorch's intra-op threads to `threads` (all hardware threads when <= 0) and, when
/// OpenBLAS is the loaded BLAS, its pool to 1 thread. Returns what was set.
ThreadSetup configure_threads(int threads);

/// "LibTorch 1.13.1, CPU" or "LibTorch 2.x, CUDA (1 device)": what this build runs on.
std::string runtime_description();

}  // namespace cellvae
