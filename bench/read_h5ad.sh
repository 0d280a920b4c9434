#!/usr/bin/env bash
# Reading speed: cellvae's h5ad reader against anndata's read_h5ad on the same files, in one run.
#   bench/read_h5ad.sh [BUILD_DIR] [OUT_JSON]
# Data: ../shared/data/kang_pbmc (real, gzip-compressed) and a 1M cells x 2k genes synthetic set
# (~10% dense, uncompressed as anndata writes it), made once with ../shared/bench/make_synth.py
# into $CELLVAE_BENCH_DATA (default /tmp/cellvae-bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-bench}
out=${2:-$root/bench/results/read_h5ad.json}
data=${CELLVAE_BENCH_DATA:-/tmp/cellvae-bench}
shared=$root/../shared
mkdir -p "$data" "$(dirname "$out")"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCELLVAE_BUILD_BENCH=ON >/dev/null
cmake --build "$build" --target bench_read -j"$(nproc)" >/dev/null

synth=$data/synth_1m_2k.h5ad
if [[ ! -f $synth ]]; then
  echo "making $synth (once; a few minutes)" >&2
  /usr/bin/python3 "$shared/bench/make_synth.py" --cells 1000000 --genes 2000 --lib-median 300 \
    --seed 1 --out "$synth" >&2
fi

files=("$synth")
[[ -f $shared/data/kang_pbmc/kang_pbmc.h5ad ]] && files=("$shared/data/kang_pbmc/kang_pbmc.h5ad" "${files[@]}")

echo "[" > "$out.tmp"
first=1
for f in "${files[@]}"; do
  cat "$f" > /dev/null  # same warm page cache for both readers
  c=$("$build/bench/bench_read" "$f" 3)
  a=$(/usr/bin/python3 "$root/bench/read_anndata.py" "$f" 3)
  ratio=$(/usr/bin/python3 -c "import json,sys; c=json.loads(sys.argv[1]); a=json.loads(sys.argv[2]); print(round(a['seconds']/c['seconds'],2))" "$c" "$a")
  printf '%-60s cellvae %s\n%-60s anndata %s\n  speed-up (anndata time / cellvae time): %s\n' \
    "$(basename "$f")" "$c" "" "$a" "$ratio"
  [[ $first -eq 1 ]] || echo "," >> "$out.tmp"
  first=0
  echo "{\"file\": \"$(basename "$f")\", \"cellvae\": $c, \"anndata\": $a, \"speedup\": $ratio}" >> "$out.tmp"
done
echo "]" >> "$out.tmp"
mv "$out.tmp" "$out"
echo "results: $out" >&2
