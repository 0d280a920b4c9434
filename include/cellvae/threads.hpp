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

/// Makes OpenMP's idle threads sleep instead of spin, for a program about to use LibTorch.
///
/// libgomp (Debian's LibTorch) spin-waits up to ~300,000 iterations at the end of every
/// parallel region. When other processes share the cores, a spinning thread burns the time
/// slice the thread it waits for needs, and each of the thousands of small parallel regions of
/// an epoch can wait for a scheduler tick: measured on 2 shared cores, a kang_pbmc scvi epoch
/// took 8 s with 2 threads against 2 s with OMP_WAIT_POLICY=PASSIVE (and 1.5 s with 1 thread).
/// libgomp reads its environment once, when it is loaded, before main() runs, so the only way
/// to change the policy from inside the program is to run it again with the variable set.
///
/// Call first thing in main(), with main's argv. When neither OMP_WAIT_POLICY nor
/// GOMP_SPINCOUNT is set (the user's choice always wins) and CELLVAE_NO_REEXEC is unset, sets
/// OMP_WAIT_POLICY=PASSIVE and CELLVAE_NO_REEXEC=1 and re-executes /proc/self/exe with the same
/// arguments; it does not return then. Returns normally when nothing needs doing or when the
/// re-execution fails (the program then runs with the spinning default). Linux only; a no-op
/// elsewhere.
void reexec_with_passive_openmp(char** argv);

/// "LibTorch 1.13.1, CPU" or "LibTorch 2.x, CUDA (1 device)": what this build runs on.
std::string runtime_description();

}  // namespace cellvae
