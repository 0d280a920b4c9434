#!/bin/bash
# How realistic are generated cells? The protocol of issue 4 on the Kang PBMC data set, over
# several model seeds and generation seeds, scored by the outside yardstick
# ../shared/bench/fidelity.py (its seeds 0, 1, 2 on every generated set).
#
#   bench/realism_kang.sh                                   # the augmentation setting, 3 x 4 seeds
#   MODEL_SEEDS="0" GEN_SEEDS="0 1" bench/realism_kang.sh   # quicker
#   FIT_FLAGS="--latent-dim 10" NAME=l10 bench/realism_kang.sh
#   ENSEMBLE=3 MODEL_SEEDS="0 1 2 3 4 5" bench/realism_kang.sh  # two ensembles of three models
#
# Why several seeds: on 1,000 generated against 1,000 held-out cells the random-forest AUC
# moves by about 0.01 (standard deviation) with the generation seed alone and by about 0.01
# with the model seed, against a target 0.05 above chance.
#
# Steps (each model is fitted once and kept under $WORK/$NAME):
#   split      ../shared/bench/baselines.py split: 80/20, stratified by cell type, seed 0
#   fit        cellvae fit train.h5ad --preset scvi --label-key cell_type --batch-key donor
#              --epochs 400 --seed S $FIT_FLAGS (one thread each, $JOBS at a time)
#   generate   cellvae generate MODEL -n 1000 --seed G $GEN_FLAGS; with ENSEMBLE=K, from each
#              group of K consecutive model seeds together (an ensemble, each drawing 1/K)
#   score      fidelity.py --real test.h5ad --gen GEN --train train.h5ad --label-key cell_type
#              --seed 0/1/2
# Writes bench/results/realism_<NAME>_<date>.json: every score, the mean per model (or
# ensemble) and the mean over all runs with its standard error over models (ensembles).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
CELLVAE=${CELLVAE:-$here/build/cellvae}
DATA=${DATA:-$here/../shared/data/kang_pbmc/kang_pbmc.h5ad}
BENCH=${BENCH:-$here/../shared/bench}
WORK=${WORK:-/tmp/cellvae-bench-realism}
NAME=${NAME:-augment}
FIT_FLAGS=${FIT_FLAGS:---latent-dim 20 --zi-expected-library --dispersion gene-label}
GEN_FLAGS=${GEN_FLAGS:-}
MODEL_SEEDS=${MODEL_SEEDS:-0 1 2}
GEN_SEEDS=${GEN_SEEDS:-0 1 2 3}
JOBS=${JOBS:-2}
ENSEMBLE=${ENSEMBLE:-1}
PY=/usr/bin/python3
if [ ! -f "$DATA" ]; then
  echo "realism_kang: $DATA not found (../shared/data is not on this machine); nothing to do" >&2
  exit 0
fi
mkdir -p "$WORK/$NAME" "$here/bench/results"
# Kept models are reused: refuse other fit flags under the same NAME rather than mix settings.
if [ -f "$WORK/$NAME/fit_flags" ] && [ "$(cat "$WORK/$NAME/fit_flags")" != "$FIT_FLAGS" ]; then
  echo "realism_kang: $WORK/$NAME holds models fitted with '$(cat "$WORK/$NAME/fit_flags")';" \
    "use another NAME for '$FIT_FLAGS'" >&2
  exit 2
fi
printf '%s' "$FIT_FLAGS" > "$WORK/$NAME/fit_flags"
[ -f "$WORK/test.h5ad" ] || "$PY" "$BENCH/baselines.py" split "$DATA" "$WORK" --label-key cell_type

fit_model() {  # fit_model SEED, unless kept
  local m="$WORK/$NAME/model_$1"
  [ -f "$m/weights.pt" ] && return 0
  # shellcheck disable=SC2086
  "$CELLVAE" fit "$WORK/train.h5ad" -o "$m" --force --preset scvi --label-key cell_type \
    --batch-key donor --epochs 400 --threads 1 --seed "$1" -q $FIT_FLAGS
}

score_unit() {  # score_unit TAG SEED...: generate from those models (together) and score
  local tag=$1 dirs=() s g f
  shift
  for s in "$@"; do
    fit_model "$s"
    dirs+=("$WORK/$NAME/model_$s")
  done
  for g in $GEN_SEEDS; do
    local out="$WORK/$NAME/gen_${tag}_g${g}.h5ad"
    # shellcheck disable=SC2086
    "$CELLVAE" generate "${dirs[@]}" -n 1000 -o "$out" --force --seed "$g" --threads 1 $GEN_FLAGS \
      2> "$WORK/$NAME/gen_${tag}_g${g}.log"
    for f in 0 1 2; do
      "$PY" "$BENCH/fidelity.py" --real "$WORK/test.h5ad" --gen "$out" --train "$WORK/train.h5ad" \
        --label-key cell_type --seed "$f" --out "$WORK/$NAME/fid_${tag}_g${g}_f${f}.json" > /dev/null
    done
  done
}

run_parallel() {  # run_parallel FUNCTION ARGS-LIST...: one job per quoted argument list
  local fn=$1 pids=() a
  shift
  for a in "$@"; do
    # shellcheck disable=SC2086
    $fn $a > "$WORK/$NAME/${fn}_${a%% *}.log" 2>&1 &
    pids+=($!)
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 5; done
  done
  for p in "${pids[@]}"; do wait "$p"; done
}

# Units: one per model seed ("m3"), or one per group of ENSEMBLE consecutive seeds ("e0-1-2").
read -r -a seeds <<< "$MODEL_SEEDS"
if [ $(( ${#seeds[@]} % ENSEMBLE )) -ne 0 ]; then
  echo "realism_kang: ${#seeds[@]} model seeds do not split into ensembles of $ENSEMBLE" >&2
  exit 2
fi
units=() tags=()
for ((i = 0; i < ${#seeds[@]}; i += ENSEMBLE)); do
  group=("${seeds[@]:i:ENSEMBLE}")
  if [ "$ENSEMBLE" -eq 1 ]; then tag="m${group[0]}"; else tag="e$(IFS=-; echo "${group[*]}")"; fi
  units+=("$tag ${group[*]}")
  tags+=("$tag")
done
if [ "$ENSEMBLE" -gt 1 ]; then run_parallel fit_model "${seeds[@]}"; fi
run_parallel score_unit "${units[@]}"

"$PY" - "$WORK/$NAME" "$here/bench/results/realism_${NAME}_$(date +%Y%m%d_%H%M%S).json" \
  "$FIT_FLAGS" "$GEN_FLAGS" "$("$CELLVAE" --version 2>/dev/null || echo unknown)" \
  "${tags[*]}" "$GEN_SEEDS" <<'PYEOF'
import glob, json, re, statistics as st, sys
folder, out, fit_flags, gen_flags, version = sys.argv[1:6]
# Only this run's units and seeds: the folder may hold scores of earlier runs.
units, gen_seeds = set(sys.argv[6].split()), {int(v) for v in sys.argv[7].split()}
runs = []
for f in sorted(glob.glob(f"{folder}/fid_*_g*_f*.json")):
    m = re.search(r"fid_([me][\d-]+)_g(\d+)_f(\d+)\.json$", f)
    if not m or m.group(1) not in units or int(m.group(2)) not in gen_seeds:
        continue
    seeds = [int(v) for v in m.group(1)[1:].split("-")]
    runs.append({"unit": m.group(1), "model_seeds": seeds, "generation_seed": int(m.group(2)),
                 "fidelity_seed": int(m.group(3)), **json.load(open(f))})
keys = ["rf_auc", "knn_auc", "label_acc", "mean_spearman", "var_spearman", "zero_spearman",
        "nn_ratio", "libsize_ks"]
models = sorted({r["unit"] for r in runs}, key=lambda u: [int(v) for v in u[1:].split("-")])
per_model = {m: {k: st.mean(r[k] for r in runs if r["unit"] == m) for k in keys} for m in models}
overall = {k: st.mean(r[k] for r in runs) for k in keys}
se = (st.stdev(per_model[m]["rf_auc"] for m in models) / len(models) ** 0.5) if len(models) > 1 else None
res = {"protocol": "issue 4: kang_pbmc 80/20, scvi preset, --label-key cell_type --batch-key donor, "
                   "400 epochs, 1,000 generated vs 1,000 held-out cells, fidelity.py seeds 0-2",
       "cellvae": version, "fit_flags": fit_flags, "generate_flags": gen_flags,
       "mean": overall, "rf_auc_standard_error_over_models": se,
       "per_model": per_model, "runs": runs}
json.dump(res, open(out, "w"), indent=1)
print(f"{'model':>10s} " + " ".join(f"{k:>13s}" for k in keys))
for m in models:
    print(f"{m:>10s} " + " ".join(f"{per_model[m][k]:13.3f}" for k in keys))
print(f"{'all':>10s} " + " ".join(f"{overall[k]:13.3f}" for k in keys))
print(f"random-forest AUC {overall['rf_auc']:.4f}" + (f" ± {se:.4f} (standard error over models)" if se else "")
      + f", {len(runs)} scores; target <= 0.55 -> {out}")
PYEOF
