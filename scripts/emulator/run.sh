#!/usr/bin/env bash
# Runs a STATIC non-PIE x86-64 Linux program on an emulated Sapphire Rapids CPU (AVX-512 with
# AVX512_BF16), on any x86-64 Linux host: the Bochs CPU core from PyPI's bochscpu-python 0.4.0,
# driven by bxrun.py (ELF loader and a minimal Linux syscall layer, ours), with isoc23_shim.so
# preloaded (glibc 2.38's __isoc23_* symbols the wheel needs and Debian 12 lacks; it also swaps
# the wheel's fixed CPU model for $BXRUN_MODEL).
#
#   scripts/emulator/run.sh ./prog [args...]   # prog built static and non-PIE (gcc -static; swiftc
#                                             #   -static-executable -Xlinker -no-pie)
#   scripts/emulator/run.sh -v ./prog          # with a syscall trace on stderr
#   scripts/emulator/run.sh --setup            # only create the venv and build the shim
#   scripts/emulator/run.sh --selftest         # CPUID, one VDPBF16PS, libxsmm's bf16 kernels (probe.c)
#
# The venv is .venv-emu, the shim and probe go to .build-emu/ (both at the repository's root).
# env: BXRUN_MODEL=sapphire_rapids (default; any Bochs model name, e.g. corei7_skylake_x for no BF16)
#      BXRUN_VERBOSE=1 (the shim says which model it gave).
# Limits: one thread (clone -> ENOSYS), no file access (open -> ENOENT), stdout/stderr only, a CPU
# exception (#UD/#PF/#GP) or a raised signal ends the run with exit 128+n. Bochs interprets every
# instruction: far slower than the host, and its timings mean nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=$root/.venv-emu
out=$root/.build-emu
shim=$out/isoc23_shim.so

setup() {
    # (not grep -q: it would stop reading early, pip would die of SIGPIPE and pipefail say "missing")
    if ! "$venv/bin/pip" show bochscpu-python 2>/dev/null | grep -x 'Version: 0.4.0' >/dev/null; then
        echo "== creating $venv with bochscpu-python 0.4.0" >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q 'bochscpu-python==0.4.0'
    fi
    mkdir -p "$out"
    if [ ! -f "$shim" ] || [ "$here/isoc23_shim.c" -nt "$shim" ]; then
        gcc -O2 -shared -fPIC -o "$shim" "$here/isoc23_shim.c" -ldl
    fi
}

emulate() { LD_PRELOAD=$shim "$venv/bin/python" "$here/bxrun.py" "$@"; }

case "${1:-}" in
    -h | --help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
    "") sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
    --setup) setup ;;
    --selftest)
        setup
        gcc -O1 -static -o "$out/probe" "$here/probe.c" -lxsmm -lxsmmnoblas -lpthread -lm -ldl 2>&1 \
            | grep -v 'statically linked applications\|in function' || true
        rc=0
        # one target per process: libxsmm's code registry is not keyed by target
        for arch in "" skx clx cpx; do
            echo "=== probe ${arch:-<auto-detected>}"
            emulate "$out/probe" $arch || rc=1
        done
        exit $rc ;;
    *) setup; emulate "$@" ;;
esac
