#!/usr/bin/env bash
# All benchmarks, each against its reference measured in the same run. Results: bench/results/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/read_h5ad.sh" "$@"
