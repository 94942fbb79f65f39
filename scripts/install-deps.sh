#!/usr/bin/env bash
# Installs what lstm-dist needs and is missing: Debian's OpenMPI, HDF5, OpenBLAS and libxsmm (libdeflate
# makes pack's compression twice as fast; iproute2 lets the tests make two hosts), and a
# Python virtual environment (.venv) with numpy and h5py for the tests and scripts.
# Needs a Swift 6 toolchain on PATH; uses sudo for apt-get when not run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v swift >/dev/null || { echo "error: no 'swift' on PATH; install a Swift 6 toolchain (swift.org/install) first" >&2; exit 1; }

packages=(libopenmpi-dev openmpi-bin libhdf5-dev hdf5-tools libopenblas-dev libxsmm-dev pkg-config python3-venv iproute2 libdeflate0)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! .venv/bin/python -c "import numpy, h5py, pytest, matplotlib" 2>/dev/null; then
    echo "Creating .venv with numpy, h5py, pytest and matplotlib"
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check numpy h5py pytest matplotlib
fi
