import Foundation

// Vectorised exp, sigmoid and tanh for the gate passes. Foundation's exp and tanh are scalar
// library calls that cost more than the recurrent matrix product at our sizes (docs/platform.md);
// these run 16 lanes at a time. Helpers are @_transparent: @inline(__always) SIMD helpers were
// measured to stay calls that repack vectors through xmm registers.

typealias Vector = SIMD16<Float>
let vectorWidth = Vector.scalarCount

/// e^x, relative error about 1.4e-7. Inputs are clamped to [-87, 88] so the result stays a
/// finite normal float: sigmoid and tanh saturate without inf or NaN (tanh exactly at -1 and 1,
/// sigmoid exactly at 1 and at 6e-39 below).
@_transparent
func exponential(_ input: Vector) -> Vector {
    var x = input.replacing(with: 88, where: input .> 88)
    x.replace(with: -87, where: x .< -87)
    // Adding 1.5 * 2^23 rounds x / ln 2 to the nearest integer n and leaves n in the low mantissa bits.
    let roundingShift: Float = 12_582_912
    let shifted = Vector(repeating: roundingShift).addingProduct(x, 1.442_695_04)
    let n = shifted - roundingShift
    // r = x - n ln 2, with ln 2 split in two so the product is exact to float precision.
    var r = x.addingProduct(n, -0.693_359_375)
    r = r.addingProduct(n, 2.121_944_4e-4)
    // Cephes' minimax polynomial for e^r on [-ln 2 / 2, ln 2 / 2].
    var p = Vector(repeating: 1.987_569_15e-4)
    p = Vector(repeating: 1.398_199_95e-3).addingProduct(p, r)
    p = Vector(repeating: 8.333_451_9e-3).addingProduct(p, r)
    p = Vector(repeating: 4.166_579_59e-2).addingProduct(p, r)
    p = Vector(repeating: 1.666_666_55e-1).addingProduct(p, r)
    p = Vector(repeating: 5.000_000_12e-1).addingProduct(p, r)
    let expR = (r + 1).addingProduct(p, r * r)
    // 2^n built directly as float bits: exponent field n + 127.
    let integerN = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000
    let scale = unsafeBitCast((integerN &+ 127) &<< 23, to: Vector.self)
    return expR * scale
}

@_transparent
func sigmoid(_ x: Vector) -> Vector {
    1 / (1 + exponential(-x))
}

@_transparent
func tanh(_ x: Vector) -> Vector {
    let e = exponential(-2 * x)
    return (1 - e) / (1 + e)
}

/// Loads `count` (1 ... 16) floats; lanes past `count` are zero.
@_transparent
func loadVector(_ pointer: UnsafePointer<Float>, _ count: Int) -> Vector {
    if count == vectorWidth { return UnsafeRawPointer(pointer).loadUnaligned(as: Vector.self) }
    var vector = Vector()
    for lane in 0 ..< count { vector[lane] = pointer[lane] }
    return vector
}

/// Stores the first `count` (1 ... 16) lanes.
@_transparent
func storeVector(_ vector: Vector, _ pointer: UnsafeMutablePointer<Float>, _ count: Int) {
    if count == vectorWidth {
        UnsafeMutableRawPointer(pointer).storeBytes(of: vector, as: Vector.self)
        return
    }
    for lane in 0 ..< count { pointer[lane] = vector[lane] }
}

/// Softmax of one row in place: `row[k] = exp(row[k] - max) / sum`. Returns log(sum exp(row - max)) + max,
/// the log-partition the cross-entropy needs. Sixteen partial sums in a fixed order: deterministic, and
/// not one long chain of dependent adds.
func softmaxInPlace(_ row: UnsafeMutablePointer<Float>, count: Int) -> Float {
    var maximum = row[0]
    for k in 1 ..< max(count, 1) where row[k] > maximum { maximum = row[k] }
    var partial = Vector(), k = 0
    while k + vectorWidth <= count {
        let e = exponential(loadVector(row + k, vectorWidth) - maximum)
        storeVector(e, row + k, vectorWidth)
        partial += e
        k += vectorWidth
    }
    var sum: Float = 0
    for lane in 0 ..< vectorWidth { sum += partial[lane] }
    if k < count {
        storeVector(exponential(loadVector(row + k, count - k) - maximum), row + k, count - k)
        for tail in k ..< count { sum += row[tail] }
    }
    let inverse = 1 / sum
    for k in 0 ..< count { row[k] *= inverse }
    return log(sum) + maximum
}
