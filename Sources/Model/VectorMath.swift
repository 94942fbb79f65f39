// Sixteen-lane loads and stores for the vectorised loops written in Swift (Adam, the token table's
// gradient). The gate passes and softmax are C (CElementwise), built for AVX2 and for AVX-512.
// Helpers are @_transparent: @inline(__always) SIMD helpers were measured to stay calls that repack
// vectors through xmm registers.

typealias Vector = SIMD16<Float>
let vectorWidth = Vector.scalarCount

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
