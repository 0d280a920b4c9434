// Times cellvae's reader on one file: `bench_read FILE [repeats]`. Prints one JSON line with the
// median wall time over the repeats, the shape and the peak resident memory.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "cellvae/io.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_read FILE [repeats]\n");
    return 2;
  }
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
  std::vector<double> seconds;
  std::int64_t rows = 0, cols = 0, nnz = 0;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const cellvae::Dataset ds = cellvae::read_dataset(argv[1]);
    const auto t1 = std::chrono::steady_clock::now();
    seconds.push_back(std::chrono::duration<double>(t1 - t0).count());
    rows = ds.n_cells();
    cols = ds.n_genes();
    nnz = ds.X.nnz();
  }
  std::sort(seconds.begin(), seconds.end());
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf(
      "{\"tool\": \"cellvae\", \"seconds\": %.4f, \"cells\": %lld, \"genes\": %lld, "
      "\"nnz\": %lld, \"peak_rss_mb\": %.1f}\n",
      seconds[seconds.size() / 2], static_cast<long long>(rows), static_cast<long long>(cols),
      static_cast<long long>(nnz), usage.ru_maxrss / 1024.0);
  return 0;
}
