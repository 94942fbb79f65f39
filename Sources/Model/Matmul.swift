import COpenBLAS
import Foundation

/// A row-major matrix in memory with row stride `stride` (BLAS' leading dimension), read as it is
/// or as its transpose.
struct Operand {
    let base: UnsafePointer<Float>
    let stride: Int
    let transposed: Bool

    init(_ base: UnsafePointer<Float>, stride: Int, transposed: Bool = false) {
        self.base = base
        self.stride = stride
        self.transposed = transposed
    }

    /// The same memory read as the transpose.
    var transpose: Operand { Operand(base, stride: stride, transposed: !transposed) }
}

/// C[m,n] = op(A)[m,k] op(B)[k,n] (+ C when `accumulate`); C row-major with row stride `stride`.
@inline(__always)
func matmul(_ a: Operand, _ b: Operand, into c: UnsafeMutablePointer<Float>, stride: Int,
            m: Int, n: Int, k: Int, accumulate: Bool = false) {
    cblas_sgemm(CblasRowMajor, a.transposed ? CblasTrans : CblasNoTrans, b.transposed ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k),
                1, a.base, blasint(a.stride), b.base, blasint(b.stride),
                accumulate ? 1 : 0, c, blasint(stride))
}

/// Where a run's time went, for the benchmark, in CPU time of the calling thread (so a shared
/// machine's time slicing does not count). Off by default.
public struct PhaseTimes: Sendable {
    /// Matrix products (BLAS).
    public var matmul: Duration = .zero
    /// The per-timestep elementwise gate passes, forward and backward.
    public var gates: Duration = .zero
    public init() {}
}

/// CPU time consumed by the calling thread (BLAS runs on it: one thread).
public func threadCPUTime() -> Duration {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return .seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
}

/// Accumulates `PhaseTimes` when enabled; the layers' functions take one.
final class PhaseClock {
    var isEnabled = false
    var times = PhaseTimes()

    @inline(__always)
    func measure(_ phase: WritableKeyPath<PhaseTimes, Duration>, _ body: () -> Void) {
        guard isEnabled else { return body() }
        let start = threadCPUTime()
        body()
        times[keyPath: phase] += threadCPUTime() - start
    }
}
