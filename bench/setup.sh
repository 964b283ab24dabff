#!/bin/sh
# bench/setup.sh - the benchmark's own environment; idempotent, skips what is there.
#   Debian packages (apt-get): zlib, libdeflate, FFTW3, BART (C peers)
#   bench/.venv (python3 -m venv; never the system Python): bench/requirements.txt
# Run by `make bench`, `make bench-check` and `make bench-baseline`.
set -eu
cd "$(dirname "$0")/.."
VENV=bench/.venv
PY=${BENCH_PYTHON:-python3}

# ---- Debian packages ----
APT_PKGS="zlib1g-dev libdeflate-dev libfftw3-dev bart"
missing=""
for p in $APT_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    echo "bench/setup.sh: apt-get install$missing"
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
fi

# ---- the venv ----
if [ ! -x "$VENV/bin/python" ]; then
    echo "bench/setup.sh: creating $VENV with $(command -v "$PY")"
    "$PY" -m venv "$VENV"
fi
if [ -f "$VENV/.installed" ] && cmp -s bench/requirements.txt "$VENV/.installed"; then
    exit 0  # this requirements file is installed already
fi
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@"; }
# torch CPU-only when PyTorch's own index is reachable (~200 MB); otherwise
# PyPI's wheel, which also pulls the CUDA runtime libraries (~4 GB) it links
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    torch_req=$(grep '^torch==' bench/requirements.txt)
    pip install --timeout 15 --retries 0 --index-url https://download.pytorch.org/whl/cpu "$torch_req" \
        || pip install "$torch_req"
fi
pip install -q -r bench/requirements.txt
"$VENV/bin/python" -c "import numpy, scipy, nibabel, torch, monai, torchio, medrs, SimpleITK"
cp bench/requirements.txt "$VENV/.installed"
echo "bench/setup.sh: $VENV ready"
