/// An optimizer whose state is plain buffers laid out like the parameters, so a checkpoint can
/// save and restore it exactly.
public protocol Optimizer: AnyObject {
    var learningRate: Float { get set }
    /// Updates applied so far (Keras' `iterations`).
    var iterations: Int { get set }
    /// The state buffers by checkpoint name (Adam "m", "v"; SGD "velocity"), each [parameter count].
    var state: [(name: String, buffer: UnsafeMutableBufferPointer<Float>)] { get }
    /// One update from gradients already divided by the target count.
    func step(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>)
    /// The same update in pieces, for gradients that land range by range: `beginStep()` once,
    /// then `step(parameters:gradients:range:)` over disjoint ranges that cover every parameter.
    /// Each parameter's arithmetic is the same as in `step`, so the result is bit-identical.
    func beginStep()
    func step(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>, range: Range<Int>)
}

extension Optimizer {
    public func step(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>) {
        beginStep()
        step(parameters: parameters, gradients: gradients, range: 0 ..< parameters.count)
    }
}

/// Adam exactly as Keras 3: alpha = lr sqrt(1 - beta2^t) / (1 - beta1^t), m += (g - m)(1 - beta1),
/// v += (g^2 - v)(1 - beta2), p -= alpha m / (sqrt(v) + epsilon).
public final class AdamOptimizer: Optimizer {
    public var learningRate: Float
    /// Doubles, as Keras keeps them (Python floats): 1 - beta is then rounded to float once,
    /// so 1 - 0.999 is 0.001f rather than the 0.00099998713 of float arithmetic.
    public let beta1: Double, beta2: Double
    public let epsilon: Float
    public var iterations = 0
    public let m: UnsafeMutableBufferPointer<Float>
    public let v: UnsafeMutableBufferPointer<Float>
    public static let stateNames = ["m", "v"]
    public var state: [(name: String, buffer: UnsafeMutableBufferPointer<Float>)] { zip(Self.stateNames, [m, v]).map { ($0, $1) } }

    public init(count: Int, learningRate: Float = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Float = 1e-7) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        m = .zeroed(count)
        v = .zeroed(count)
    }

    deinit {
        m.deallocate()
        v.deallocate()
    }

    /// The step size of the update `beginStep` started.
    private var alpha: Float = 0

    public func beginStep() {
        iterations += 1
        let beta1Power = power(beta1, iterations), beta2Power = power(beta2, iterations)
        alpha = Float(Double(learningRate) * (1 - beta2Power).squareRoot() / (1 - beta1Power))
    }

    public func step(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>, range: Range<Int>) {
        precondition(parameters.count == m.count && gradients.count >= m.count && range.upperBound <= m.count)
        let alpha = self.alpha, keep1 = Float(1 - beta1), keep2 = Float(1 - beta2)
        let p = parameters.baseAddress!, g = gradients.baseAddress!, m = self.m.baseAddress!, v = self.v.baseAddress!
        var k = range.lowerBound
        while k + vectorWidth <= range.upperBound {
            adamUpdate(lanes: vectorWidth, p + k, g + k, m + k, v + k, alpha: alpha, keep1: keep1, keep2: keep2, epsilon: epsilon)
            k += vectorWidth
        }
        if k < range.upperBound {
            adamUpdate(lanes: range.upperBound - k, p + k, g + k, m + k, v + k, alpha: alpha, keep1: keep1, keep2: keep2,
                       epsilon: epsilon)
        }
    }
}

/// base^exponent by repeated squaring: basic arithmetic only, so the same on every platform (libm's
/// pow may differ in the last bit between systems).
func power(_ base: Double, _ exponent: Int) -> Double {
    var result = 1.0, square = base, remaining = exponent
    while remaining > 0 {
        if remaining & 1 == 1 { result *= square }
        square *= square
        remaining >>= 1
    }
    return result
}

/// Adam on up to 16 parameters (explicit SIMD: the scalar loop's possible aliasing kept it from vectorising).
@_transparent
func adamUpdate(lanes n: Int, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>,
                _ v: UnsafeMutablePointer<Float>, alpha: Float, keep1: Float, keep2: Float, epsilon: Float) {
    let gradient = loadVector(g, n)
    var moment = loadVector(m, n), second = loadVector(v, n)
    moment += (gradient - moment) * keep1
    second += (gradient * gradient - second) * keep2
    storeVector(moment, m, n)
    storeVector(second, v, n)
    storeVector(loadVector(p, n) - alpha * moment / (second.squareRoot() + epsilon), p, n)
}

/// SGD with optional momentum, Keras' convention: velocity = momentum * velocity - lr * g; p += velocity.
/// Without momentum: p -= lr * g (the velocity buffer stays zero).
public final class SGDOptimizer: Optimizer {
    public var learningRate: Float
    public let momentum: Float
    public var iterations = 0
    public let velocity: UnsafeMutableBufferPointer<Float>
    /// Without momentum the velocity stays zero, and a checkpoint holds no optimizer state.
    public static func stateNames(momentum: Float) -> [String] { momentum == 0 ? [] : ["velocity"] }
    public var state: [(name: String, buffer: UnsafeMutableBufferPointer<Float>)] {
        Self.stateNames(momentum: momentum).map { ($0, velocity) }
    }

    public init(count: Int, learningRate: Float = 0.01, momentum: Float = 0) {
        self.learningRate = learningRate
        self.momentum = momentum
        velocity = .zeroed(count)
    }

    deinit { velocity.deallocate() }

    public func beginStep() { iterations += 1 }

    public func step(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>, range: Range<Int>) {
        precondition(parameters.count == velocity.count && gradients.count >= velocity.count && range.upperBound <= velocity.count)
        let rate = learningRate, momentum = self.momentum
        let p = parameters.baseAddress!, g = gradients.baseAddress!, velocity = self.velocity.baseAddress!
        if momentum == 0 {
            for k in range { p[k] -= rate * g[k] }
        } else {
            for k in range {
                velocity[k] = momentum * velocity[k] - rate * g[k]
                p[k] += velocity[k]
            }
        }
    }
}

/// Scales gradients so their L2 norm is at most `maxNorm`; returns the norm before clipping.
/// Sixteen float partial sums in a fixed order, combined in double: deterministic and vectorised.
@discardableResult
public func clipByGlobalNorm(_ gradients: UnsafeMutableBufferPointer<Float>, maxNorm: Float) -> Float {
    let norm = Float(sumOfSquares(UnsafeBufferPointer(gradients)).squareRoot())
    if norm > maxNorm {
        let scale = maxNorm / norm
        for k in gradients.indices { gradients[k] *= scale }
    }
    return norm
}

func sumOfSquares(_ values: UnsafeBufferPointer<Float>) -> Double {
    var partial = Vector()
    var k = 0
    while k < values.count {
        let lanes = min(vectorWidth, values.count - k)
        let x = loadVector(values.baseAddress! + k, lanes)
        partial = partial.addingProduct(x, x)
        k += vectorWidth
    }
    var total = 0.0
    for lane in 0 ..< vectorWidth { total += Double(partial[lane]) }
    return total
}

/// Decoupled weight decay as Keras 3 applies it before each update, `w = w - w * decay * lr`, on
/// the kernels, recurrent kernels, embedding and head kernel: every tensor but the biases.
public struct WeightDecay: Sendable {
    public let decay: Float
    /// The decayed tensors' ranges in the parameter buffer.
    public let ranges: [Range<Int>]

    public init(decay: Float, parameterLayout: ParameterLayout) {
        self.decay = decay
        ranges = parameterLayout.tensors.filter { !$0.name.hasSuffix("bias") }.map { $0.offset ..< $0.offset + $0.count }
    }

    /// Decays `parameters` (those in `within`) with the learning rate of the update that follows.
    public func apply(to parameters: UnsafeMutableBufferPointer<Float>, learningRate: Float, within: Range<Int>? = nil) {
        let decay = self.decay
        for range in ranges {
            for k in range.clamped(to: within ?? range) { parameters[k] = parameters[k] - parameters[k] * decay * learningRate }
        }
    }
}
