#!/usr/bin/env bash
# The main job on the built-in default data: simulate a small study, then augment it —
# fit a conditional scVI-style model, generate new cells of every type, score them against
# held-out real cells.
#   scripts/demo.sh CELLVAE_BINARY OUTDIR
set -euo pipefail
cellvae=${1:-build/cellvae}
out=${2:-out/demo}
mkdir -p "$out"

echo "== simulate: 2,000 cells x 1,000 genes, 4 cell groups, 2 batches" >&2
"$cellvae" simulate -o "$out/simulated.h5ad" --cells 2000 --genes 1000 --groups 4 --batches 2 \
  --seed 1
"$cellvae" info "$out/simulated.h5ad"
echo "== augment: fit (scvi preset, conditioned on group and batch), generate 1,000 cells" >&2
"$cellvae" augment "$out/simulated.h5ad" -o "$out/augmented.h5ad" -n 1000 --preset scvi \
  --label-key group --batch-key batch --n-top-genes 500 --seed 1 --force
"$cellvae" info "$out/augmented.h5ad"
echo "== demo outputs in $out: augmented.h5ad (real + generated cells, obs 'origin')," >&2
echo "   augmented_run/ (model/, test_cells.txt, metrics.json, metrics.txt, report.html)" >&2
