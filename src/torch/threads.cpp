#include "cellvae/threads.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>

#include <thread>

#include <torch/torch.h>

namespace cellvae {

namespace {
/// openblas_set_num_threads from whatever BLAS LibTorch loaded, or null. Looked up at run time
/// so that builds against other BLAS libraries (MKL in official LibTorch) link unchanged.
using SetThreadsFn = void (*)(int);
SetThreadsFn find_openblas_set_threads() {
  return reinterpret_cast<SetThreadsFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
}
}  // namespace

ThreadSetup configure_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ThreadSetup setup;
  at::set_num_threads(threads);
  setup.torch_threads = at::get_num_threads();
  if (SetThreadsFn set = find_openblas_set_threads()) {
    set(1);
    setup.blas_threads = 1;
  } else {
    setup.blas_threads = -1;
  }
  return setup;
}

void reexec_with_passive_openmp(char** argv) {
#ifdef __linux__
  if (argv == nullptr || argv[0] == nullptr) return;
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT") ||
      std::getenv("CELLVAE_NO_REEXEC"))
    return;
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  setenv("CELLVAE_NO_REEXEC", "1", 1);
  execv("/proc/self/exe", argv);
  // Only reached when execv failed: carry on as we are (the variable no longer matters).
  unsetenv("OMP_WAIT_POLICY");
#else
  (void)argv;
#endif
}

std::string runtime_description() {
  std::string s = "LibTorch " TORCH_VERSION;
  if (torch::cuda::is_available())
    s += ", CUDA (" + std::to_string(torch::cuda::device_count()) + " device(s))";
  else
    s += ", CPU";
  return s;
}

}  // namespace cellvae
