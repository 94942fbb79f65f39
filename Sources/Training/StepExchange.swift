import Comm
import Foundation
import Model

/// A step's gradient exchange on several MPI ranks: Comm's `GradientExchange`, told by the model's
/// backward (as its `GradientReadiness`) when each bucket is final, with the trailer (loss, counts,
/// votes) written and sent as soon as forward ends, so the update can divide by the global count as
/// soon as a bucket lands. Every rank posts the trailer and every bucket in the same order, a rank
/// that skipped the model (a bad row: it votes to fail) included.
final class StepExchange: GradientReadiness {
    let exchange: GradientExchange
    /// Off with `LSTM_DIST_OVERLAP=off` (rank 0's environment), for benchmarks only: the whole
    /// exchange then runs after backward, blocking, as before buckets existed.
    let overlaps: Bool
    private let trailer: UnsafeMutableBufferPointer<Float>
    private var stopVote = false, failureVote = false

    /// Nil on one rank (nothing crosses a network, so nothing is paid, `--exchange` included) and
    /// for a communicator that is not MPI's. Collective.
    static func make(comm: Communicator, model: LSTMModel, format: ExchangeFormat) throws -> StepExchange? {
        guard comm.size > 1, let mpi = comm as? MPICommunicator else { return nil }
        let setting = ProcessInfo.processInfo.environment["LSTM_DIST_OVERLAP"] ?? "on"
        let overlaps = try comm.broadcast(setting)
        guard overlaps == "on" || overlaps == "off" else {
            throw TrainingError("LSTM_DIST_OVERLAP must be on or off, got '\(overlaps)'", raisedByEveryRank: true)
        }
        let count = model.parameterLayout.count
        return StepExchange(exchange: try GradientExchange(
            comm: mpi, gradients: UnsafeMutableBufferPointer(rebasing: model.gradients[..<count]),
            trailer: UnsafeMutableBufferPointer(rebasing: model.gradients[count...]), buckets: model.gradientBuckets, format: format
        ), overlaps: overlaps == "on", trailer: UnsafeMutableBufferPointer(rebasing: model.gradients[count...]))
    }

    private init(exchange: GradientExchange, overlaps: Bool, trailer: UnsafeMutableBufferPointer<Float>) {
        self.exchange = exchange
        self.overlaps = overlaps
        self.trailer = trailer
    }

    /// Before the step's model run.
    func beginStep(stopVote: Bool, failureVote: Bool) {
        exchange.beginStep()
        self.stopVote = stopVote
        self.failureVote = failureVote
    }

    func forwardEnded(_ result: WindowResult) {
        GradientTrailer.write(result, stopVote: stopVote, failureVote: failureVote, into: trailer)
        exchange.startTrailer()
    }

    func ready(_ range: Range<Int>) { exchange.start(range) }

    func progress() { exchange.progress() }

    /// After backward (`ran`: whether this rank ran the model with this exchange as its readiness):
    /// posts what backward did not, and returns the summed trailer.
    func afterBackward(_ local: WindowResult, ran: Bool) throws -> GradientTrailer.Global {
        if !overlaps {
            GradientTrailer.write(local, stopVote: stopVote, failureVote: failureVote, into: trailer)
            try exchange.sumNow()
        } else if !ran {
            forwardEnded(local)
            exchange.startRemaining()
        }
        try exchange.waitTrailer()
        return GradientTrailer.read(trailer)
    }
}
