import Comm

/// A failure that some ranks met in the middle of a pass (a bad value in their rows), made known
/// to every rank through the step's collective so that all of them stop after the same step and
/// leave MPI cleanly: outputs being written are removed, nothing waits forever, and only the
/// lowest failing rank reports.
public struct RankFailure: Error, CustomStringConvertible {
    /// What this rank met and prints; nil on the ranks that print nothing.
    public let local: Error?
    public var description: String { local.map { "\($0)" } ?? "another rank failed" }
}

extension Communicator {
    /// Collective, once a step's sum of failure votes says some rank failed: which is the lowest
    /// failing rank, so that it alone reports `mine`.
    func agreeOnFailure(_ mine: Error?) throws -> RankFailure {
        var votes = [Float](repeating: 0, count: size)
        if mine != nil { votes[rank] = 1 }
        try votes.withUnsafeMutableBufferPointer { try allreduceSum($0) }
        return RankFailure(local: votes.firstIndex { $0 > 0 } == rank ? mine : nil)
    }

    /// Collective: runs this rank's part of a step, then throws on every rank when any rank's
    /// part threw. Costs one small allreduce per call on several ranks, none alone.
    func together(_ part: () throws -> Void) throws {
        var failure: Error?
        do { try part() } catch { failure = error }
        if size == 1, let failure { throw failure }
        guard size > 1, try allreduceSum(failure == nil ? 0 : 1) > 0 else { return }
        throw try agreeOnFailure(failure)
    }
}

extension Communicator {
    /// Collective: a start-up check of this rank's own machine (its CPU), run on every rank before any
    /// work, so that all ranks continue or all leave. When every rank fails, each throws its own error
    /// (rank 0 reports it once); when only some do, a `RankFailure` that the lowest failing rank reports.
    public func requireOnEveryRank(_ check: () throws -> Void) throws {
        var failure: Error?
        do { try check() } catch { failure = error }
        if size == 1, let failure { throw failure }
        guard size > 1 else { return }
        let failed = try allreduceSum(failure == nil ? 0 : 1)
        if failed == 0 { return }
        if let failure, Int(failed) == size { throw failure }
        throw try agreeOnFailure(failure)
    }
}
