import CXSMM
@testable import Model

// Not from the tests: a bf16 product whose tiles libxsmm has no kernel for runs the reference loops
// silently, which would make testKernelsAreProductsOfTheRoundedOperands pass without running VDPBF16PS.
// This repeats planBF16's dispatch calls (Kernels.swift: same arguments) for every shape of that test and
// counts the NULLs: a failure where the kernels must run ($GUEST_BF16_REQUIRE_KERNELS, main.swift).
func dispatchCoverage() {
    var planned = 0, missing: [String] = []
    for m in [1, 3, 33, 260] {
        for n in [1, 5, 129] {
            for k in [1, 17, 300] {
                for transposedA in [false, true] {
                    for accumulate in [false, true] {
                        for cStride in n == 1 ? [n + 5, 1] : [n + 5] {
                            let oneColumn = n == 1 && transposedA && cStride == 1
                            let depth2 = (k + 1) / 2 * 2
                            for row in stride(from: 0, to: m, by: 256) {
                                let rows = min(256, m - row)
                                for column in stride(from: 0, to: n, by: 64) {
                                    let columns = min(64, n - column)
                                    for depth in stride(from: 0, to: depth2, by: 256) {
                                        let chunk = min(256, depth2 - depth)
                                        let beta: Float = accumulate || depth > 0 ? 1 : 0
                                        let kernel = oneColumn
                                            ? lstm_xsmm_bf16_dispatch(Int32(rows), 1, Int32(chunk), Int32(m), Int32(depth2), Int32(rows), beta)
                                            : lstm_xsmm_bf16_dispatch(Int32(columns), Int32(rows), Int32(chunk), Int32(n), Int32(depth2),
                                                                      Int32(cStride), beta)
                                        planned += 1
                                        if kernel == nil {
                                            missing.append("\(m)x\(n)x\(k)\(transposedA ? " A^T" : "")\(accumulate ? " +=" : "") cStride \(cStride)"
                                                           + (oneColumn ? " one column: libxsmm m \(rows) n 1 k \(chunk) lda \(m) ldb \(depth2)"
                                                                        : ": libxsmm m \(columns) n \(rows) k \(chunk) lda \(n) ldb \(depth2) ldc \(cStride)")
                                                           + " beta \(beta)")
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    print("    tile dispatches: \(planned), NULL (product falls back to the reference loops): \(missing.count)"
          + "; libxsmm target \(KernelPath.libxsmmTarget), \(registrySize()) kernels in its registry")
    if requireKernels { for line in missing { tally.fail("no kernel: \(line)") } }
}

func registrySize() -> Int {
    var info = libxsmm_registry_info()
    return libxsmm_get_registry_info(&info) == 0 ? info.size : -1
}
