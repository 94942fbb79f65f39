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

// The dense head and its loss over a window, forward and backward, llm.c style as LSTMLayer.swift:
// plain functions, shapes above each. Its inputs X^T [H, T*B] are the top layer's outputs (or their
// dropped copy), feature-major as the layers' activations; its logits are row-major [T*B, K], one row
// per timestep and slot, as the batch's targets are.

/// The head's matrix products, planned once for its shapes and strides when the model is built (as
/// LayerProducts are a layer's): B slots, T timesteps, H inputs (the top layer's units), K outputs.
struct HeadProducts {
    /// logits [T*B, K] = X^T W from the inputs X^T [H, T*B] (rows `inputStride` apart) and the kernel [H, K].
    let forward: MatrixProduct
    /// dW [H, K] = X^T d(logits) from the inputs and the logits' gradient [T*B, K].
    let kernelGradient: MatrixProduct
    /// d(X^T) [H, T*B] (rows `inputStride` apart) = W d(logits)^T from the kernel and the logits' gradient
    /// transposed [K, T*B] (rows `transposedStride` apart).
    let inputGradient: MatrixProduct
    /// Rows of the logits (T*B) and their width (K).
    let rows: Int, outputs: Int
    /// Row stride of the logits' gradient transposed [K, T*B].
    let transposedStride: Int

    init(slots: Int, window: Int, inputs H: Int, outputs K: Int, inputStride: Int, transposedStride: Int,
         kernels: ProductKernels) {
        let columns = slots * window
        rows = columns
        outputs = K
        self.transposedStride = transposedStride
        forward = MatrixProduct(m: columns, n: K, k: H, aStride: inputStride, transposedA: true, bStride: K,
                                cStride: K, kernels: kernels)
        kernelGradient = MatrixProduct(m: H, n: K, k: columns, aStride: inputStride, bStride: K, cStride: K,
                                       kernels: kernels)
        inputGradient = MatrixProduct(m: H, n: columns, k: K, aStride: K, bStride: transposedStride,
                                      cStride: inputStride, kernels: kernels)
    }
}

/// inputs X^T [H, T*B] (rows as `products` were planned), kernel [H, K], bias [K] -> logits [T*B, K]:
/// probabilities (sigmoid/softmax) or values; logitGradient [T*B, K] = d(lossSum)/d(logits) when non-nil.
/// Returns the loss summed over the window's scored targets (headLoss).
func headForward(_ head: Head, products: HeadProducts, inputs: UnsafePointer<Float>, kernel: UnsafePointer<Float>,
                 bias: UnsafePointer<Float>, batch: WindowBatch, logits: UnsafeMutablePointer<Float>,
                 logitGradient: UnsafeMutablePointer<Float>?, clock: PhaseClock) -> WindowResult {
    clock.measure(\.matmul) { products.forward(inputs, kernel, into: logits) }
    return headLoss(head, outputs: products.outputs, logits: logits, bias: bias, batch: batch,
                    logitGradient: logitGradient)
}

/// Backward of `headForward`. inputs X^T [H, T*B] and kernel [H, K] as forward read them, logitGradient
/// [T*B, K] as forward left it; logitGradientTransposed [K, T*B] scratch (rows `products.transposedStride`
/// apart). Out (overwritten): kernelGradient [H, K], biasGradient [K], and inputGradient = d(lossSum)/d(X^T)
/// [H, T*B] (rows as the inputs').
func headBackward(products: HeadProducts, inputs: UnsafePointer<Float>, kernel: UnsafePointer<Float>,
                  logitGradient: UnsafeMutablePointer<Float>, logitGradientTransposed: UnsafeMutablePointer<Float>,
                  kernelGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>,
                  inputGradient: UnsafeMutablePointer<Float>, clock: PhaseClock) {
    let rows = products.rows, K = products.outputs
    clock.measure(\.matmul) {
        products.kernelGradient(inputs, logitGradient, into: kernelGradient)
        transpose(logitGradient, rows: rows, columns: K, into: logitGradientTransposed,
                  targetStride: products.transposedStride)
        products.inputGradient(kernel, logitGradientTransposed, into: inputGradient)
    }
    columnSums(logitGradient, rows: rows, columns: K, into: biasGradient)
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
