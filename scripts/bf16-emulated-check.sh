#!/usr/bin/env bash
# Runs the bf16 kernel tests (Tests/ModelTests/BF16Tests.swift) on an emulated CPU with AVX512_BF16,
# for machines without it, where `swift test` skips them (docs/platform.md, "Testing the bf16
# kernels without AVX512_BF16").
#
#   scripts/bf16-emulated-check.sh            # all checks: 10 minutes on an idle 2-core VM, the product
#                                             #   check 8 of them (it took 25 on a loaded one)
#   scripts/bf16-emulated-check.sh --quick    # dispatch coverage, gradient and model checks: 3 minutes
#   scripts/bf16-emulated-check.sh CHECK...   # named checks (the runner's list: scripts/emulator/runner/main.swift)
#
# Builds one static non-PIE program from the current Sources/Model, the C modules it uses, a runner
# (scripts/emulator/runner) and BF16Tests.swift + TestSupport.swift copied from Tests/ModelTests with
# XCTest swapped for a small shim (sed, at build time: the tests are never copied into the
# repository). Runs the checks natively on the reference path (LSTM_DIST_KERNELS=reference), then on
# the emulator (scripts/emulator/run.sh: venv .venv-emu with bochscpu-python 0.4.0), where a check
# that skips, or a product tile without a libxsmm kernel, counts as a failure. Prints PASS/FAIL per
# check and run; exits 1 if any failed. Build and logs in .build-emu/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/.build-emu/checks
export PATH=/opt/swift/usr/bin:$PATH   # where the toolchain sits on our machines; else swiftc from PATH

kernel_checks="dispatchCoverage testKernelsAreProductsOfTheRoundedOperands testTheModelOnBF16KernelsMatchesTheBF16Reference testBF16GradientsAreCloseToFP32"
quick_checks="dispatchCoverage testBF16GradientsAreCloseToFP32 testTheModelOnBF16KernelsMatchesTheBF16Reference"
native_checks=all   # natively every check (the kernel ones skip there); emulated only those touching the kernels
emulated_checks=$kernel_checks
case "${1:-}" in
    -h | --help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --quick) native_checks=$quick_checks; emulated_checks=$quick_checks ;;
    "") ;;
    *) native_checks="$*"; emulated_checks="$*" ;;
esac

# ---------------------------------------------------------------- build
build() {
    rm -rf "$out"; mkdir -p "$out/CElementwise" "$out/tests"
    echo "== building the checks from $(git rev-parse --short HEAD) ($(git status --porcelain -- Sources Tests | wc -l) changed files under Sources, Tests)"
    # SwiftPM's module map for a C target with an include/ folder: an umbrella directory.
    printf 'module CElementwise {\n    umbrella "%s"\n    export *\n}\n' "$root/Sources/CElementwise/include" \
        > "$out/CElementwise/module.modulemap"
    # C, for baseline x86-64 as SwiftPM builds it (the AVX2 and AVX-512 bodies come from target attributes)
    for f in elementwise bf16; do
        clang -O2 -fno-pie -c "Sources/CElementwise/$f.c" -I Sources/CElementwise/include -o "$out/$f.o"
    done
    cinc=(-I Sources/CXSMM -I Sources/CCPUFeatures -I "$out/CElementwise")
    # Model as Package.swift builds it (-target-cpu haswell), testable as `swift test` builds it
    swiftc -O -wmo -parse-as-library -enable-testing -module-name Model -target-cpu haswell "${cinc[@]}" \
        -c Sources/Model/*.swift -emit-module -emit-module-path "$out/Model.swiftmodule" -o "$out/Model.o"
    # The tests: XCTest out (XCTShim.swift supplies its calls), one counting line into checkProduct.
    sed -e '/^import XCTest$/d' -e 's/^final class BF16Tests: XCTestCase {$/final class BF16Tests {/' \
        -e 's/^\( *\)let aRows = transposedA ? k : m, aColumns = transposedA ? m : k$/&\n\1countProduct()/' \
        Tests/ModelTests/BF16Tests.swift > "$out/tests/BF16Tests.swift"
    sed -e '/^import XCTest$/d' Tests/ModelTests/TestSupport.swift > "$out/tests/TestSupport.swift"
    grep -q '^final class BF16Tests {$' "$out/tests/BF16Tests.swift" \
        || { echo "error: BF16Tests.swift's class line changed; update the sed in $0" >&2; exit 1; }
    grep -q countProduct "$out/tests/BF16Tests.swift" \
        || echo "note: checkProduct changed; the product count is not printed (the checks still run)"
    # The test code at -O too: under emulation it is ~10x faster than -Onone (the product check alone
    # would take hours), and the tests copy what they compare while the models live (commit 44c38ae).
    swiftc -O -target-cpu haswell -module-name BF16Checks -I "$out" "${cinc[@]}" \
        scripts/emulator/runner/*.swift "$out/tests/BF16Tests.swift" "$out/tests/TestSupport.swift" \
        "$out/Model.o" "$out/elementwise.o" "$out/bf16.o" \
        -static-executable -Xlinker -no-pie -lxsmm -lxsmmnoblas -ldl -o "$out/bf16-checks" 2>&1 \
        | { grep -v 'statically linked applications requires\|use of `mktemp'"'"' is dangerous' || true; }
    file "$out/bf16-checks" | grep -q 'LSB executable.*statically linked' \
        || { file "$out/bf16-checks"; echo "error: not a static non-PIE executable" >&2; exit 1; }
    echo "$inputs" > "$out/inputs.sha256"
}

# Rebuild when any input changed (sources, tests, runner, this script).
inputs=$(cat Sources/Model/*.swift Sources/CElementwise/*.c Sources/CElementwise/include/*.h Sources/CXSMM/* \
             Sources/CCPUFeatures/* Tests/ModelTests/BF16Tests.swift Tests/ModelTests/TestSupport.swift \
             scripts/emulator/runner/*.swift "$0" | sha256sum)
if [ -x "$out/bf16-checks" ] && [ "$(cat "$out/inputs.sha256" 2>/dev/null)" = "$inputs" ]; then
    echo "== the checks are built (.build-emu/checks; sources unchanged)"
else
    build
fi
scripts/emulator/run.sh --setup

# ---------------------------------------------------------------- run
summary=()
failed=0
# run LABEL CHECKS COMMAND...: the runner's output to the terminal and a log; one PASS/FAIL line per check
run() {
    local label=$1 names=$2; shift 2
    local log=$out/$label.log rc=0 bad=0
    [ "$names" = all ] && names="testRoundingIsToTheNearestBF16TiesToEven testConversionLayouts testReferenceProductsAreProductsOfTheRoundedOperands $kernel_checks"
    echo "== $label: $names"
    local start=$SECONDS
    GUEST_BF16_CHECKS=$names "$@" $names 2>&1 | tee "$log" || rc=$?
    echo "   ($label: exit $rc after $((SECONDS - start)) s; log .build-emu/checks/$label.log)"
    for name in $names; do
        local line
        line=$(grep -E "^--- [A-Z]+.* $name  \[" "$log" | tail -1 || true)
        case "$line" in
            "--- PASS"*) summary+=("PASS  $label  $name") ;;
            "--- SKIP"*) [ "$label" = native ] && summary+=("SKIP  $label  $name (no bf16 kernels natively, as expected)") || { summary+=("FAIL  $label  $name (skipped)"); bad=1; } ;;
            "") summary+=("FAIL  $label  $name (did not finish)"); bad=1 ;;
            *) summary+=("FAIL  $label  $name"); bad=1 ;;
        esac
    done
    if [ $rc -ne 0 ] && [ $bad -eq 0 ]; then summary+=("FAIL  $label  (exit $rc)"); bad=1; fi
    [ $bad -eq 0 ] || failed=1
}

run native "$native_checks" env LSTM_DIST_KERNELS=reference "$out/bf16-checks"
# Under the emulator the kernel path is chosen from the emulated CPUID (LSTM_DIST_KERNELS unset).
run emulated "$emulated_checks" env -u LSTM_DIST_KERNELS GUEST_BF16_REQUIRE_KERNELS=1 scripts/emulator/run.sh "$out/bf16-checks"

echo "== summary"
printf '%s\n' "${summary[@]}"
if [ $failed -ne 0 ]; then echo "bf16 emulated check: FAIL"; exit 1; fi
echo "bf16 emulated check: PASS"
