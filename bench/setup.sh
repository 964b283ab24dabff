#!/bin/sh
# bench/setup.sh - the benchmark's own environment; idempotent, skips what is there.
#   Debian packages (apt-get): zlib, libdeflate, FFTW3, BART (C peers)
#   bench/.venv (python3 -m venv; never the system Python): bench/requirements.txt
# Run by `make bench`, `make bench-check` and `make bench-baseline`.
# Where neither download.pytorch.org nor 4 GB of PyPI's CUDA wheels are an option,
# the MONAI / TorchIO rows of bench/morph_vs_peers.py and bench/bench.py also run
# from Debian 12's own python3 (/usr/bin/python3; not this venv), CPU torch 1.13.1:
#   apt-get install -y python3-torch python3-deprecated python3-humanize python3-typer python3-rich
#   /usr/bin/python3 -m pip install --break-system-packages --no-deps \
#       monai==1.4.0 torchio==0.20.23 einops==0.8.2
# (--no-deps: pip must not replace Debian's torch / numpy 1.24 / scipy; MONAI >= 1.5
# needs torch >= 2.4.1.) Then e.g. MVBENCH_LIB=build/libmvbench.so /usr/bin/python3
# bench/bench.py run --only '^(znorm|rescale|clamp)$' --out build/bench-debian.md
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
