import Storage

/// Sums over scored targets, from which every reported mean is derived.
public struct TargetSums: Codable, Sendable, Equatable {
    public var loss: Double = 0
    public var targets: Double = 0
    public var correct: Double = 0
    /// Evaluation passes over normalised regression targets only: the sum over targets of the
    /// mean over k of (std_k * error_k)^2, the squared errors in original units.
    public var originalSquares: Double?

    public init(loss: Double = 0, targets: Double = 0, correct: Double = 0, originalSquares: Double? = nil) {
        self.loss = loss
        self.targets = targets
        self.correct = correct
        self.originalSquares = originalSquares
    }

    public static func += (lhs: inout TargetSums, rhs: TargetSums) {
        lhs.loss += rhs.loss
        lhs.targets += rhs.targets
        lhs.correct += rhs.correct
        if let squares = rhs.originalSquares { lhs.originalSquares = (lhs.originalSquares ?? 0) + squares }
    }

    public var meanLoss: Double { targets > 0 ? loss / targets : .nan }
    public var accuracy: Double { targets > 0 ? correct / targets : .nan }
}

/// What a person reads for a task: accuracy for classification, bits per character for
/// next-token text, mean squared error for regression (the loss itself).
public struct MetricKind: Sendable {
    public let task: Task
    public let tokensPerStep: Bool

    public init(_ header: DatasetHeader) {
        task = header.task
        tokensPerStep = header.inputKind == .tokens && header.targetKind == .step && header.task == .multiclass
    }

    /// Name and value pairs for the log and `--json` output, in a fixed order.
    public func values(_ sums: TargetSums) -> [(String, Double)] {
        guard sums.targets > 0 else { return [] }
        var values = [("loss", sums.meanLoss)]
        if task == .regression { values.append(("mse", sums.meanLoss)) } else { values.append(("accuracy", sums.accuracy)) }
        if let squares = sums.originalSquares { values.append(("mse_original", squares / sums.targets)) }
        if tokensPerStep { values.append(("bits_per_char", sums.meanLoss / log(2))) }
        return values
    }
}

#if canImport(Glibc)
import Glibc
#endif
