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
        for (index, spec) in parameterLayout.tensors.enumerated() {
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
/// as Keras' Orthogonal for a wide matrix (QR of the transpose, signs fixed so diag(R) > 0), in double
/// precision, by block Gram-Schmidt: from each block of `orthogonalBlockRows` rows the finished rows
/// before it are projected out classically (all coefficients from the same block), so a finished row is
/// read once per block, not once per row; then the block's rows are orthonormalised among themselves
/// (modified Gram-Schmidt). Row by row, the [1024, 4096] basis of a 1024-unit layer was streamed from
/// memory once for every row: two such layers took about 12 s to initialise. One pass suffices: the rows
/// lose orthogonality by about eps_double cond^2 (Giraud, Langou, Rozloznik 2005), and a Gaussian
/// [H, 4H] matrix has cond about 3: some 1e-15, far below the float the weights are kept in.
func fillOrthogonalRows(_ matrix: UnsafeMutableBufferPointer<Float>, rows: Int, columns: Int,
                        random: inout SplitMix64) {
    precondition(rows <= columns, "orthogonal rows need rows <= columns")
    var basis = [Double](repeating: 0, count: rows * columns)
    for k in stride(from: 0, to: basis.count, by: 2) {
        let (a, b) = random.normalPair()
        basis[k] = a
        if k + 1 < basis.count { basis[k + 1] = b }
    }
    let blockRows = orthogonalBlockRows
    var coefficients = [Double](repeating: 0, count: blockRows * rows)
    basis.withUnsafeMutableBufferPointer { q in
        func row(_ index: Int) -> UnsafeMutablePointer<Double> { q.baseAddress! + index * columns }
        /// v -= factor u, elementwise (so in any order).
        func subtract(_ factor: Double, times u: UnsafePointer<Double>, from v: UnsafeMutablePointer<Double>) {
            for k in 0 ..< columns { v[k] -= factor * u[k] }
        }
        for start in stride(from: 0, to: rows, by: blockRows) {
            let block = start ..< min(start + blockRows, rows)
            func coefficient(_ r: Int, _ finished: Int) -> Int { (r - start) * rows + finished }
            for finished in 0 ..< start {
                for r in block {
                    coefficients[coefficient(r, finished)] = fixedOrderDot(row(finished), row(r), count: columns)
                }
            }
            for finished in 0 ..< start {
                for r in block { subtract(coefficients[coefficient(r, finished)], times: row(finished), from: row(r)) }
            }
            for r in block {
                for earlier in start ..< r {
                    subtract(fixedOrderDot(row(earlier), row(r), count: columns), times: row(earlier), from: row(r))
                }
                let inverse = 1 / fixedOrderDot(row(r), row(r), count: columns).squareRoot()
                for k in 0 ..< columns { row(r)[k] *= inverse }
            }
        }
    }
    for k in 0 ..< rows * columns { matrix[k] = Float(basis[k]) }
}

/// Rows per block of `fillOrthogonalRows`: 16 rows of a 1024-unit layer's basis (4096 doubles each)
/// are 512 KB, which stay in L2 while each finished row passes through.
let orthogonalBlockRows = 16

/// u . v summed in one fixed order on every platform, with sixteen partial sums in flight: lane j of
/// `low` and `high` sums the terms k = j mod 16, the lanes are then added pairwise, and the last
/// count mod 16 terms in order (a running sum has each add wait for the last).
/// (Swift never fuses a multiply and an add unless asked, so each lane rounds the same everywhere.)
func fixedOrderDot(_ u: UnsafePointer<Double>, _ v: UnsafePointer<Double>, count: Int) -> Double {
    typealias Lanes = SIMD8<Double>
    func lanes(_ pointer: UnsafePointer<Double>, _ k: Int) -> Lanes {
        UnsafeRawPointer(pointer + k).loadUnaligned(as: Lanes.self)
    }
    var low = Lanes(), high = Lanes(), k = 0
    while k + 16 <= count {
        low += lanes(u, k) * lanes(v, k)
        high += lanes(u, k + 8) * lanes(v, k + 8)
        k += 16
    }
    let eight = low + high, four = eight.lowHalf + eight.highHalf, two = four.lowHalf + four.highHalf
    var sum = two[0] + two[1]
    while k < count {
        sum += u[k] * v[k]
        k += 1
    }
    return sum
}
