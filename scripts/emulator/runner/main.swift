// Runs BF16Tests' checks as a plain program: BF16Tests.swift and TestSupport.swift are copied from
// Tests/ModelTests at build time by scripts/bf16-emulated-check.sh, with XCTest replaced by
// XCTShim.swift. Prints "--- PASS|FAIL|SKIP|ERROR <check>" per check; exit 1 if any failed.
//
// Checks are named as arguments or, under bxrun (whose guest may see no arguments: the Swift runtime
// reads /proc/self/cmdline), in $GUEST_BF16_CHECKS. With $GUEST_BF16_REQUIRE_KERNELS set (the emulated
// run), a CPU without AVX512_BF16, a skipped check or a tile without a libxsmm kernel is a failure.
import CCPUFeatures
import Glibc
@testable import Model

setvbuf(stdout, nil, _IONBF, 0)
let checks: [(String, (BF16Tests) throws -> Void)] = [
    ("testRoundingIsToTheNearestBF16TiesToEven", { $0.testRoundingIsToTheNearestBF16TiesToEven() }),
    ("testConversionLayouts", { $0.testConversionLayouts() }),
    ("testReferenceProductsAreProductsOfTheRoundedOperands", { $0.testReferenceProductsAreProductsOfTheRoundedOperands() }),
    ("testKernelsAreProductsOfTheRoundedOperands", { try $0.testKernelsAreProductsOfTheRoundedOperands() }),
    ("testTheModelOnBF16KernelsMatchesTheBF16Reference", { try $0.testTheModelOnBF16KernelsMatchesTheBF16Reference() }),
    ("testBF16GradientsAreCloseToFP32", { $0.testBF16GradientsAreCloseToFP32() }),
    ("dispatchCoverage", { _ in dispatchCoverage() }),
]
func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

var names = Array(CommandLine.arguments.dropFirst())
if names.isEmpty, let list = environment("GUEST_BF16_CHECKS") { names = list.split(separator: " ").map(String.init) }
if names.isEmpty || names == ["all"] { names = checks.map(\.0) }
let requireKernels = environment("GUEST_BF16_REQUIRE_KERNELS") != nil

print("CPU: avx2+fma \(lstm_cpu_has_avx2_fma()) avx512 \(lstm_cpu_has_avx512()) avx512_bf16 \(lstm_cpu_has_avx512_bf16())"
      + "; LSTM_DIST_KERNELS=\(environment("LSTM_DIST_KERNELS") ?? "<unset>") KernelPath.active=\(KernelPath.active.rawValue)"
      + " libxsmm target=\(KernelPath.libxsmmTarget)")
if requireKernels && (lstm_cpu_has_avx512_bf16() == 0 || KernelPath.active != .avx512) {
    print("FAIL: the emulated CPU should have AVX512_BF16 and pick the avx512 kernel path")
    exit(1)
}

func now() -> Double { var t = timespec(); clock_gettime(CLOCK_MONOTONIC, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
var anyFailed = false
for name in names {
    guard let check = checks.first(where: { $0.0 == name }) else {
        print("no check named \(name); checks: \(checks.map(\.0).joined(separator: " "))")
        exit(2)
    }
    tally = Tally()
    print("=== \(name)")
    let start = now()
    var status = "PASS"
    do { try check.1(BF16Tests()) } catch let skip as XCTSkip {
        status = "SKIP (\(skip.description))"
        if requireKernels { tally.fail("skipped, but the kernels should run here") }
    } catch { status = "ERROR \(error)"; anyFailed = true }
    if tally.failures > 0 { status = "FAIL (\(tally.failures) failed assertions)"; anyFailed = true }
    print("--- \(status) \(name)  [\(((now() - start) * 10).rounded() / 10) s]")
    if tally.products > 0 { print("    products checked: \(tally.products), each called twice") }
    if tally.worstRatio >= 0 { print("    worst error/bound = \(tally.worstRatio): \(tally.worstWhat)") }
}
exit(anyFailed ? 1 : 0)
