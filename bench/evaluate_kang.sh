#!/bin/bash
# Times `cellvae evaluate` on the Kang PBMC data set (12,261 cells x 1,287 genes) and checks
# the issue's targets (real-vs-real AUC in 0.45-0.55, gene-shuffled copy above 0.9), next to
# the outside yardstick ../shared/bench/fidelity.py on the same files.
#
#   bench/evaluate_kang.sh                      # uses build/cellvae
#   CELLVAE=build-eval/cellvae THREADS=2 bench/evaluate_kang.sh
#
# Inputs made once under $WORK with Debian's python3 (anndata, scikit-learn):
#   train.h5ad / test.h5ad   ../shared/bench/baselines.py split (80/20, stratified by cell type)
#   shuffled_test.h5ad       test with each gene permuted across cells independently
#   shuffled_all.h5ad        the whole data set, gene-shuffled the same way
# Runs (each timed, wall clock, including reading the files):
#   protocol   REAL=test (2,453) GEN=shuffled_test, --train train (9,808), --control train,
#              --label-key cell_type: every score of the issue
#   full-size  REAL=kang (12,261) GEN=shuffled_all (12,261), --label-key cell_type
#   fidelity.py on test vs shuffled_test and on test vs train (real vs real), for comparison
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
CELLVAE=${CELLVAE:-$here/build/cellvae}
DATA=${DATA:-$here/../shared/data/kang_pbmc/kang_pbmc.h5ad}
BENCH=${BENCH:-$here/../shared/bench}
WORK=${WORK:-/tmp/cellvae-bench-evaluate}
THREADS=${THREADS:-2}
PY=/usr/bin/python3
mkdir -p "$WORK"

if [ ! -f "$WORK/test.h5ad" ]; then
  "$PY" "$BENCH/baselines.py" split "$DATA" "$WORK" --label-key cell_type
fi
if [ ! -f "$WORK/shuffled_all.h5ad" ]; then
  "$PY" - "$DATA" "$WORK" <<'PYEOF'
import sys
import numpy as np
import scipy.sparse as sp
import anndata

def shuffled(path, out, seed):
    ad = anndata.read_h5ad(path)
    x = ad.X.toarray() if sp.issparse(ad.X) else np.asarray(ad.X)
    rng = np.random.default_rng(seed)
    for j in range(x.shape[1]):
        x[:, j] = x[rng.permutation(x.shape[0]), j]
    ad.X = sp.csr_matrix(x)
    ad.write_h5ad(out, compression="gzip")

data, work = sys.argv[1], sys.argv[2]
shuffled(f"{work}/test.h5ad", f"{work}/shuffled_test.h5ad", 1)
shuffled(data, f"{work}/shuffled_all.h5ad", 2)
PYEOF
fi

timed() {  # timed NAME command...: runs it, prints its wall time
  local name=$1
  shift
  local start end
  start=$(date +%s.%N)
  "$@"
  end=$(date +%s.%N)
  printf '%s: %.1f s wall\n' "$name" "$(echo "$end - $start" | bc)" | tee -a "$WORK/times.txt"
}

: > "$WORK/times.txt"
echo "== cellvae evaluate, protocol run ($THREADS threads)"
timed "protocol (test vs shuffled test, --train, --control, --label-key)" \
  "$CELLVAE" evaluate "$WORK/test.h5ad" "$WORK/shuffled_test.h5ad" --train "$WORK/train.h5ad" \
  --control "$WORK/train.h5ad" --label-key cell_type --threads "$THREADS" \
  -o "$WORK/protocol.json" > "$WORK/protocol.txt"
cat "$WORK/protocol.txt"

echo "== cellvae evaluate, full-size inputs ($THREADS threads)"
timed "full-size (12,261 vs 12,261 cells, --label-key)" \
  "$CELLVAE" evaluate "$DATA" "$WORK/shuffled_all.h5ad" --label-key cell_type \
  --threads "$THREADS" -o "$WORK/full.json" > "$WORK/full.txt"

echo "== fidelity.py (the outside yardstick) on the same files"
"$PY" "$BENCH/fidelity.py" --real "$WORK/test.h5ad" --gen "$WORK/shuffled_test.h5ad" \
  --train "$WORK/train.h5ad" --label-key cell_type --out "$WORK/fidelity_shuffled.json" > /dev/null
"$PY" "$BENCH/fidelity.py" --real "$WORK/test.h5ad" --gen "$WORK/train.h5ad" \
  --label-key cell_type --out "$WORK/fidelity_real.json" > /dev/null

"$PY" - "$WORK" <<'PYEOF'
import json, sys
w = sys.argv[1]
p = json.load(open(f"{w}/protocol.json"))
f = json.load(open(f"{w}/full.json"))
fs = json.load(open(f"{w}/fidelity_shuffled.json"))
fr = json.load(open(f"{w}/fidelity_real.json"))
g, c = p["generated"], p["control"]
print(f"{'score':28s} {'cellvae shuffled':>17s} {'fidelity.py shuffled':>21s} "
      f"{'cellvae real-real':>18s} {'fidelity.py real-real':>22s}")
rows = [("knn AUC", g["joint"]["knn_auc"], fs["knn_auc"], c["joint"]["knn_auc"], fr["knn_auc"]),
        ("random-forest AUC", g["joint"]["random_forest_auc"], fs["rf_auc"],
         c["joint"]["random_forest_auc"], fr["rf_auc"]),
        ("MMD^2 (RBF)", g["joint"]["mmd_rbf"], fs["mmd_rbf"], c["joint"]["mmd_rbf"], fr["mmd_rbf"]),
        ("library size KS", g["marginals"]["library_size_ks"], fs["libsize_ks"],
         c["marginals"]["library_size_ks"], fr["libsize_ks"]),
        ("gene mean Spearman", g["marginals"]["gene_mean_spearman"], fs["mean_spearman"],
         c["marginals"]["gene_mean_spearman"], fr["mean_spearman"]),
        ("gene variance Spearman", g["marginals"]["gene_variance_spearman"], fs["var_spearman"],
         c["marginals"]["gene_variance_spearman"], fr["var_spearman"]),
        ("gene zero-fraction Spearman", g["marginals"]["gene_zero_fraction_spearman"],
         fs["zero_spearman"], c["marginals"]["gene_zero_fraction_spearman"], fr["zero_spearman"]),
        ("label accuracy", g["label_transfer"]["accuracy"], fs["label_acc"],
         c["label_transfer"]["accuracy"], fr["label_acc"]),
        ("nn ratio (memorisation)", g["memorisation"]["nn_ratio"], fs["nn_ratio"],
         c["memorisation"]["nn_ratio"], float("nan"))]
for name, *v in rows:
    print(f"{name:28s} {v[0]:17.3f} {v[1]:21.3f} {v[2]:18.3f} {v[3]:22.3f}")
ok_real = all(0.45 <= c["joint"][k] <= 0.55 for k in ("knn_auc", "random_forest_auc"))
ok_shuf = all(g["joint"][k] > 0.9 for k in ("knn_auc", "random_forest_auc"))
ok_full = all(f["generated"]["joint"][k] > 0.9 for k in ("knn_auc", "random_forest_auc"))
print(f"real-vs-real AUCs in [0.45, 0.55]: {ok_real}; shuffled AUCs > 0.9: {ok_shuf} "
      f"(full-size run: {ok_full})")
PYEOF
cat "$WORK/times.txt"
