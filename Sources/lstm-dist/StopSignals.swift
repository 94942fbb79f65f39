import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// SIGUSR1, SIGTERM and SIGINT ask training to stop after the current step (every rank votes in
/// the step's allreduce, so all stop together); a second signal ends the process at once.
enum StopSignals {
    static func install() {
        for stopSignal in [SIGUSR1, SIGTERM, SIGINT] { signal(stopSignal, requestStop) }
    }

    static func requested() -> Bool { stopRequests.load(ordering: .relaxed) > 0 }
}

private let stopRequests = Atomic<Int>(0)

private func requestStop(_: Int32) {
    if stopRequests.add(1, ordering: .relaxed).newValue > 1 { _exit(130) }
}
