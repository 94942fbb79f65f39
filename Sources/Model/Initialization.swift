// Keras 3 initialisation, reproducible everywhere: the random stream (SplitMix64) and every
// transform use only integer ops and correctly rounded float arithmetic (+ - * / sqrt), never a
// libm function, so the same seed gives the same weights on any platform.

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for weight draws and for
/// sampling text; the same seed gives the same stream on every platform.
public struct SplitMix64 {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in [-limit, limit).
    mutating func symmetric(_ limit: Double) -> Float { Float((2 * unit() - 1) * limit) }

    /// Two independent standard normals (Marsaglia's polar method).
    mutating func normalPair() -> (Double, Double) {
        while true {
            let u = 2 * unit() - 1, v = 2 * unit() - 1, s = u * u + v * v
            if s > 0 && s < 1 {
                let factor = (-2 * naturalLog(s) / s).squareRoot()
                return (u * factor, v * factor)
            }
        }
    }
}

/// ln(x) for x > 0 from basic arithmetic: x = m 2^e with m in [sqrt(1/2), sqrt(2)), then
/// ln(m) = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.172, whose series converges to double precision by s^23.
func naturalLog(_ x: Double) -> Double {
    var m = x.significand, e = Double(x.exponent)
    if m > 2.0.squareRoot() { m /= 2; e += 1 }
    let s = (m - 1) / (m + 1), s2 = s * s
    var term = s, series = 0.0
    for k in stride(from: 1, through: 23, by: 2) {
        series += term / Double(k)
        term *= s2
    }
    return 2 * series + e * 0.693_147_180_559_945_3
}

extension LSTMModel {
    /// Keras 3 defaults: glorot-uniform kernels, one orthogonal [H, 4H] recurrent kernel per layer,
    /// zero biases with the forget quarter at 1, embeddings U(-0.05, 0.05). Each tensor draws from
    /// its own stream (seed and tensor index), deterministic in `seed`.
    public func initialize(seed: UInt64) {
        for (index, spec) in layout.tensors.enumerated() {
            var random = SplitMix64(seed: seed ^ (UInt64(index + 1) &* 0xD1B5_4A32_D192_ED03))
            let values = UnsafeMutableBufferPointer(rebasing: parameters[spec.offset ..< spec.offset + spec.count])
            switch spec.name {
            case "embedding/embeddings":
                for k in values.indices { values[k] = random.symmetric(0.05) }
            case _ where spec.name.hasSuffix("recurrent_kernel"):
                fillOrthogonalRows(values, rows: spec.shape[0], columns: spec.shape[1], random: &random)
            case _ where spec.name.hasSuffix("bias"):
                values.update(repeating: 0)
                if spec.name.hasPrefix("lstm_") {
                    let H = config.hidden
                    values[H ..< 2 * H].update(repeating: 1)
                }
            default:  // kernels [fanIn, fanOut]
                let limit = (6 / Double(spec.shape[0] + spec.shape[1])).squareRoot()
                for k in values.indices { values[k] = random.symmetric(limit) }
            }
        }
    }
}

/// matrix [rows, columns] (rows <= columns) = rows of an orthonormal basis from a Gaussian matrix,
/// as Keras' Orthogonal for a wide matrix (QR of the transpose, signs fixed so diag(R) > 0):
/// Gram-Schmidt with a second pass for accuracy, in double precision.
func fillOrthogonalRows(_ matrix: UnsafeMutableBufferPointer<Float>, rows: Int, columns: Int,
                        random: inout SplitMix64) {
    precondition(rows <= columns, "orthogonal rows need rows <= columns")
    var basis = [Double](repeating: 0, count: rows * columns)
    for k in stride(from: 0, to: basis.count, by: 2) {
        let (a, b) = random.normalPair()
        basis[k] = a
        if k + 1 < basis.count { basis[k + 1] = b }
    }
    basis.withUnsafeMutableBufferPointer { q in
        for row in 0 ..< rows {
            let v = q.baseAddress! + row * columns
            for _ in 0 ..< 2 {
                for earlier in 0 ..< row {
                    let u = q.baseAddress! + earlier * columns
                    var dot = 0.0
                    for k in 0 ..< columns { dot += u[k] * v[k] }
                    for k in 0 ..< columns { v[k] -= dot * u[k] }
                }
            }
            var norm = 0.0
            for k in 0 ..< columns { norm += v[k] * v[k] }
            let inverse = 1 / norm.squareRoot()
            for k in 0 ..< columns { v[k] *= inverse }
        }
    }
    for k in 0 ..< rows * columns { matrix[k] = Float(basis[k]) }
}
