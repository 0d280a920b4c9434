#!/usr/bin/env bash
# Training speed of cellvae against the PyTorch reference (../shared/bench/ref_torch.py), both
# trained in one run on the same data, architecture, epochs and threads; prints a table and
# writes bench/results/train_*.json. Options (see bench/train_bench.py --help):
#   bench/train.sh                 kang_pbmc + synthetic 10k x 2k and 2k x 20k, scvi and
#                                  vaexprs presets, 5 epochs, 2 threads
#   bench/train.sh --quick         smoke run: kang_pbmc, scvi, 2 epochs
#   bench/train.sh --epochs 20 --large --only kang_pbmc,synth_1m_2k
# Synthetic sets are made once with ../shared/bench/make_synth.py into $CELLVAE_BENCH_DATA
# (default ${XDG_CACHE_HOME:-/tmp}/cellvae-bench). BUILD (default build-bench) is the build dir.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCELLVAE_BUILD_BENCH=ON >/dev/null
cmake --build "$build" --target cellvae -j"$(nproc)" >/dev/null
exec /usr/bin/python3 "$root/bench/train_bench.py" --cellvae "$build/cellvae" "$@"
