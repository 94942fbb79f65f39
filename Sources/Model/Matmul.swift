import COpenBLAS

/// C[m,n] = op(A)[m,k] op(B)[k,n] (+ C when `accumulate`), every matrix row-major and contiguous:
/// A is [m,k], or [k,m] when `transposeA`; B is [k,n], or [n,k] when `transposeB`.
@inline(__always)
func matmul(_ a: UnsafePointer<Float>, transposeA: Bool = false,
            _ b: UnsafePointer<Float>, transposeB: Bool = false,
            into c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, accumulate: Bool = false) {
    cblas_sgemm(CblasRowMajor,
                transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k),
                1, a, blasint(transposeA ? m : k),
                b, blasint(transposeB ? k : n),
                accumulate ? 1 : 0, c, blasint(n))
}

/// Where a run's time went, for the benchmark. Off by default: the clock reads cost about 40 ns each.
public struct PhaseTimes: Sendable {
    /// Matrix products (BLAS).
    public var matmul: Duration = .zero
    /// The per-timestep elementwise gate passes, forward and backward.
    public var gates: Duration = .zero
    public init() {}
}

/// Accumulates `PhaseTimes` when enabled; the layers' functions take one.
final class PhaseClock {
    var isEnabled = false
    var times = PhaseTimes()
    private let clock = ContinuousClock()

    @inline(__always)
    func measure(_ phase: WritableKeyPath<PhaseTimes, Duration>, _ body: () -> Void) {
        guard isEnabled else { return body() }
        let start = clock.now
        body()
        times[keyPath: phase] += clock.now - start
    }
}
