#!/usr/bin/env bash
# All benchmarks, each against its reference measured in the same run. Results: bench/results/.
#   bench/run.sh                       reading (read_h5ad.sh), the hot kernels (micro.sh) and
#                                      training (train.sh, 5 epochs)
#   TRAIN_ARGS="--quick" bench/run.sh  options for train.sh (e.g. --epochs 20, --large)
#   MICRO_ARGS="--benchmark_filter=Adam" bench/run.sh   options for micro.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/read_h5ad.sh" "$@"
# shellcheck disable=SC2086
"$here/micro.sh" ${MICRO_ARGS:-}
# shellcheck disable=SC2086
"$here/train.sh" ${TRAIN_ARGS:-}
