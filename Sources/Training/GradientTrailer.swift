import Model

/// What rides after the gradients in a step's one allreduce, so it costs no message of its own:
/// the loss sum, the target and correct counts, and the stop and failure votes.
///
/// A float holds integers exactly only up to 2^24, so the counts travel as base-256 digits, one
/// per float: each digit's sum stays exact up to 65,536 ranks, and a step may count 2^40 targets.
/// The loss sum travels as a float, as it always has (the recorded losses do not change).
enum GradientTrailer {
    private static let digits = 5
    private static let (loss, targets, correct, stopVotes, failureVotes) = (0, 1, 1 + digits, 1 + 2 * digits, 2 + 2 * digits)
    /// Floats after the gradients.
    static let count = 3 + 2 * digits

    /// The allreduced trailer, read back.
    struct Global {
        var sums: TargetSums
        var stopRequested: Bool
        var failed: Bool
    }

    /// This rank's share, before the allreduce.
    static func write(_ local: WindowResult, stopVote: Bool, failureVote: Bool, into trailer: UnsafeMutableBufferPointer<Float>) {
        trailer[loss] = Float(local.lossSum)
        encode(local.targets, into: trailer, at: targets)
        encode(local.correct, into: trailer, at: correct)
        trailer[stopVotes] = stopVote ? 1 : 0
        trailer[failureVotes] = failureVote ? 1 : 0
    }

    static func read(_ trailer: UnsafeMutableBufferPointer<Float>) -> Global {
        Global(sums: TargetSums(loss: Double(trailer[loss]), targets: decode(trailer, at: targets), correct: decode(trailer, at: correct)),
               stopRequested: trailer[stopVotes] > 0, failed: trailer[failureVotes] > 0)
    }

    private static func encode(_ count: Int, into trailer: UnsafeMutableBufferPointer<Float>, at start: Int) {
        for digit in 0..<digits { trailer[start + digit] = Float((count >> (8 * digit)) & 0xFF) }
    }

    private static func decode(_ trailer: UnsafeMutableBufferPointer<Float>, at start: Int) -> Double {
        (0..<digits).reversed().reduce(0.0) { $0 * 256 + Double(trailer[start + $1]) }
    }
}
