#!/usr/bin/env bash
# Installs what building and running lstm-dist need and is missing, then says what it installed:
# - the Debian packages the Swift toolchain itself needs (swift.org's list for Debian 12; a
#   toolchain unpacked on a fresh machine does not start without them),
# - Debian's OpenMPI (with openmpi-bin for mpirun), HDF5 (with hdf5-tools for h5ls), OpenBLAS and
#   libxsmm (libdeflate makes pack's compression twice as fast; zlib for the zip of a Keras export;
#   libssl-dev for OpenSSL's SHA-256, the dataset fingerprint),
# - a Python virtual environment (.venv) with pinned numpy, h5py and matplotlib for the scripts
#   (plot-log.py, plot-forecast.py, lstm_numpy.py).
# Options (scripts/test.sh passes --tests; they combine):
#   --tests  also what only the tests need: qemu-user (the binary on emulated older CPUs), iproute2
#            (two network-namespace hosts), and in .venv pytest, and Keras, JAX, onnx, onnxruntime
#            and safetensors, which read the exported models.
#   --slurm  also Debian's Slurm and MUNGE (a one-node cluster for Tests/python/test_slurm.py).
# Needs a Swift 6 toolchain on PATH; uses sudo for apt-get when not run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v swift >/dev/null || { echo "error: no 'swift' on PATH; install a Swift 6 toolchain (swift.org/install) first" >&2; exit 1; }

# One package per line, sorted within each group.
packages=(
    # The Swift toolchain's own dependencies on Debian 12.
    binutils-gold
    gcc
    git
    libcurl4-openssl-dev
    libedit-dev
    libicu-dev
    libncurses-dev
    libpython3-dev
    libsqlite3-dev
    libstdc++-12-dev
    libxml2-dev
    pkg-config
    tzdata
    uuid-dev
    # lstm-dist's libraries and tools.
    hdf5-tools
    libdeflate0
    libhdf5-dev
    libopenblas-dev
    libopenmpi-dev
    libssl-dev
    libxsmm-dev
    openmpi-bin
    python3-venv
    zlib1g-dev
)
python_packages=(
    h5py==3.16.0
    matplotlib==3.11.2
    numpy==2.4.6
)

for option in "$@"; do
    case $option in
        --tests)
            packages+=(
                iproute2
                qemu-user
            )
            python_packages+=(
                pytest==9.2.0
                # Tests/python/test_export.py: Keras 3 (numpy backend; Keras imports jax whichever
                # backend runs, and jax needs scipy), ONNX's checker, onnxruntime and safetensors
                # read the exported files.
                jax==0.10.2
                jaxlib==0.10.2
                keras==3.15.1
                onnx==1.23.2
                onnxruntime==1.32.0
                safetensors==0.8.0
                scipy==1.17.1
                # Tests/python/test_tensorboard.py: TensorBoard's own reader reads train --tensorboard's files.
                tensorboard==2.21.0
            )
            ;;
        --slurm)
            packages+=(
                munge
                slurm-wlm
            )
            ;;
        *)
            echo "usage: scripts/install-deps.sh [--tests] [--slurm]" >&2
            exit 2
            ;;
    esac
done

# Installed packages and the names they provide (Debian 12's binutils provides binutils-gold).
present=$(dpkg-query -W -f='${db:Status-Abbrev}|${Package},${Provides}\n' | awk -F'|' '$1 ~ /^ii/ {print $2}' \
    | tr ',' '\n' | sed 's/ *(.*//; s/^ *//')
missing=()
for p in "${packages[@]}"; do
    grep -qxF "$p" <<<"$present" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "error: not root and no sudo; as root, run: apt-get install ${missing[*]}" >&2; exit 1; }
        sudo=(sudo)
    fi
    echo "Installing Debian packages: ${missing[*]}"
    # Waits for another apt or dpkg (another test run installing) instead of failing at once.
    apt=(apt-get -qq -o DPkg::Lock::Timeout=300)
    "${sudo[@]}" "${apt[@]}" update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
    echo "Installed: ${missing[*]}"
fi

# Only now that its libraries are there can the toolchain be asked to start.
if ! version=$(swift --version 2>&1); then
    echo "error: 'swift --version' fails even with the toolchain's Debian dependencies installed:" >&2
    echo "$version" >&2
    exit 1
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
installed=$(.venv/bin/python -m pip freeze --disable-pip-version-check 2>/dev/null || true)
missing=()
for p in "${python_packages[@]}"; do
    grep -qixF "$p" <<<"$installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing in .venv: ${missing[*]}"
    .venv/bin/python -m pip install -q --disable-pip-version-check "${missing[@]}"
    echo "Installed in .venv: ${missing[*]}"
fi
