#!/usr/bin/env bash
# The main job on the built-in default data: simulate counts, then describe them.
# It grows into simulate -> fit -> generate -> evaluate as those commands land.
#   scripts/demo.sh CELLVAE_BINARY OUTDIR
set -euo pipefail
cellvae=${1:-build/cellvae}
out=${2:-out/demo}
mkdir -p "$out"

echo "== simulate: 2,000 cells x 1,000 genes, 4 cell groups, 2 batches" >&2
"$cellvae" simulate -o "$out/simulated.h5ad" --cells 2000 --genes 1000 --groups 4 --batches 2 \
  --seed 1
echo "== info" >&2
"$cellvae" info "$out/simulated.h5ad"
echo "== preprocess: filter, 500 highly variable genes (Seurat v3)" >&2
"$cellvae" preprocess "$out/simulated.h5ad" -o "$out/preprocessed.h5ad" \
  --state "$out/preprocess_state.json" --min-cells 3 --n-top-genes 500 --batch-key batch \
  --label-key group
"$cellvae" info "$out/preprocessed.h5ad"
echo "== demo outputs in $out" >&2
