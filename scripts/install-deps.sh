#!/usr/bin/env bash
# Installs the Debian packages cellvae needs to build, test and run its demo.
# Idempotent: a fast no-op when everything is present. Needs root or sudo to install.
#   scripts/install-deps.sh          build + tests + demo
#   scripts/install-deps.sh --bench  also the PyTorch reference used by `make bench`
set -euo pipefail

packages=(
  # build
  g++ make cmake pkg-config
  libtorch-dev libopenblas-dev   # LibTorch 1.13 (CPU); OpenBLAS as the BLAS it calls
  libhdf5-dev zlib1g-dev         # .h5ad and 10x .h5 files; gzip
  libcli11-dev nlohmann-json3-dev
  libcairo2-dev                  # cellvae plot: PNG, SVG and PDF figures
  libgraphviz-dev                # cellvae plot architecture: the model drawn by Graphviz
  # tests
  googletest libgtest-dev libgmock-dev
  # reference tools for interop tests and fixture scripts (Debian's /usr/bin/python3)
  python3 python3-numpy python3-scipy python3-pandas python3-h5py python3-anndata python3-sklearn
  umap-learn                     # reference UMAP for the embedding fixtures
  chromium                       # renders report.html headless in the report test
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3-torch libbenchmark-dev time)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "install-deps: these Debian packages are missing: ${missing[*]}" >&2
  echo "install-deps: run this script as root (or with passwordless sudo), or install them:" >&2
  echo "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists when they are absent or older than a day.
if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]]; then
  "${SUDO[@]}" apt-get update -q >&2
fi
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
