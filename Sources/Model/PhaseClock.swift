import Foundation

/// Where a run's time went, for the benchmark, in CPU time of the calling thread (so a shared
/// machine's time slicing does not count). Off by default.
public struct PhaseTimes: Sendable {
    /// Matrix products, and the transposes that feed them.
    public var matmul: Duration = .zero
    /// The per-timestep elementwise gate passes, forward and backward.
    public var gates: Duration = .zero
    public init() {}
}

/// CPU time consumed by the calling thread (the products run on it: one thread).
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
