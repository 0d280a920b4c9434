#!/usr/bin/env bash
# Micro-benchmarks of the training hot kernels against the paths they replace (Google Benchmark,
# bench/micro_kernels.cpp): likelihood forward+backward, first layer sparse vs dense, batch
# assembly, optimizer step. Writes bench/results/micro_kernels_<date>.json and prints a table.
#   bench/micro.sh                                  all benchmarks, 2 LibTorch threads
#   bench/micro.sh --benchmark_filter=Likelihood    any Google Benchmark option
#   CELLVAE_BENCH_THREADS=1 bench/micro.sh          thread count
# BUILD (default build-bench) is the build dir (configured with -DCELLVAE_BUILD_BENCH=ON).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCELLVAE_BUILD_BENCH=ON >/dev/null
cmake --build "$build" --target micro_kernels -j"$(nproc)" >/dev/null
mkdir -p "$root/bench/results"
out="$root/bench/results/micro_kernels_$(date +%Y%m%d_%H%M%S).json"
"$build/bench/micro_kernels" --benchmark_out="$out" --benchmark_out_format=json \
  --benchmark_repetitions=3 --benchmark_report_aggregates_only=true "$@"
echo "results: $out" >&2
