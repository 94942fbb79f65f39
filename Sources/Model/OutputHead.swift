import CElementwise
import Foundation

/// Sums over a window's scored targets; the caller divides by the global target count.
public struct WindowResult: Sendable, Equatable {
    public var lossSum: Double
    public var targets: Int
    /// Classification hits (binary: (p > 0.5) == y; multiclass: argmax == y). Zero for regression.
    public var correct: Int

    public init(lossSum: Double = 0, targets: Int = 0, correct: Int = 0) {
        self.lossSum = lossSum
        self.targets = targets
        self.correct = correct
    }
}

/// Turns logits into outputs in place and scores the targets.
/// logits [T*B, K] in: hidden x kernel (no bias); out: probabilities (sigmoid/softmax) or values.
/// bias [K]; logitGradient [T*B, K] out when non-nil: d(lossSum)/d(logits), zero on unscored rows.
/// A row is scored where targetMask and mask are both non-zero.
func headLoss(_ head: Head, outputs K: Int, logits: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>,
              batch: WindowBatch, logitGradient: UnsafeMutablePointer<Float>?) -> WindowResult {
    var result = WindowResult()
    for r in 0 ..< batch.slots * batch.window {
        let row = logits + r * K
        for k in 0 ..< K { row[k] += bias[k] }
        let scored = batch.targetMask[r] != 0 && batch.mask[r] != 0
        let gradient = logitGradient.map { $0 + r * K }
        switch head {
        case .binary:
            let z = row[0]
            row[0] = 1 / (1 + exp(-z))
            guard scored else { break }
            let y = batch.classTargets[r]
            precondition(y == 0 || y == 1, "binary target \(y) at row \(r) is not 0 or 1")
            // -[y log p + (1-y) log(1-p)] written on the logit, stable for any z.
            result.lossSum += Double(max(z, 0) - z * Float(y) + log1p(exp(-abs(z))))
            if (row[0] > 0.5) == (y == 1) { result.correct += 1 }
            gradient?[0] = row[0] - Float(y)
        case .multiclass:
            let y = Int(batch.classTargets[r])
            precondition(!scored || (0 ..< K).contains(y), "class \(y) at row \(r) is outside 0..<\(K)")
            let logitOfTarget = scored ? row[y] : 0
            let logPartition = lstm_softmax(KernelPath.elementwiseISA, row, K)
            guard scored else { break }
            result.lossSum += Double(logPartition - logitOfTarget)
            var predicted = 0
            for k in 1 ..< K where row[k] > row[predicted] { predicted = k }
            if predicted == y { result.correct += 1 }
            if let gradient {
                for k in 0 ..< K { gradient[k] = row[k] }
                gradient[y] -= 1
            }
        case .regression:
            guard scored else { break }
            let targets = batch.valueTargets.baseAddress! + r * K
            var squares: Double = 0
            for k in 0 ..< K {
                let error = row[k] - targets[k]
                squares += Double(error * error)
                gradient?[k] = 2 * error / Float(K)
            }
            result.lossSum += squares / Double(K)
        }
        if scored {
            result.targets += 1
        } else {
            gradient?.update(repeating: 0, count: K)
        }
    }
    return result
}
