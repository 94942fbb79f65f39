// The first layer's inputs, feature-major like every activation: X^T [I, T*B] with rows `stride`
// floats apart. Masked columns are zero, so padding may hold any token id or feature value (even
// NaN) without reaching an output or a gradient.

/// tokens [T*B], mask [T*B], table [V, E] -> inputs [E, T*B].
func embeddingForward(tokens: UnsafePointer<Int32>, mask: UnsafePointer<Float>, columns: Int,
                      table: UnsafePointer<Float>, vocabulary: Int, width E: Int,
                      inputs: UnsafeMutablePointer<Float>, stride: Int) {
    for r in 0 ..< columns {
        guard mask[r] != 0 else {
            for k in 0 ..< E { inputs[k * stride + r] = 0 }
            continue
        }
        let token = Int(tokens[r])
        precondition((0 ..< vocabulary).contains(token), "token \(token) at row \(r) is outside 0..<\(vocabulary)")
        let vector = table + token * E
        for k in 0 ..< E { inputs[k * stride + r] = vector[k] }
    }
}

/// features [T*B, F], mask [T*B] -> inputs [F, T*B].
func featuresForward(features: UnsafePointer<Float>, mask: UnsafePointer<Float>, columns: Int, width F: Int,
                     inputs: UnsafeMutablePointer<Float>, stride: Int) {
    for r in 0 ..< columns {
        let valid = mask[r] != 0
        for k in 0 ..< F { inputs[k * stride + r] = valid ? features[r * F + k] : 0 }
    }
}

/// Scatter-add: tableGradient [V, E] (overwritten) = the columns of embeddedGradient [E, T*B] (rows
/// `stride` apart) summed by token, in column order (deterministic). Masked columns carry no gradient.
func embeddingBackward(tokens: UnsafePointer<Int32>, mask: UnsafePointer<Float>, columns: Int,
                       embeddedGradient: UnsafePointer<Float>, stride: Int, vocabulary: Int, width E: Int,
                       tableGradient: UnsafeMutablePointer<Float>) {
    tableGradient.update(repeating: 0, count: vocabulary * E)
    for r in 0 ..< columns where mask[r] != 0 {
        let target = tableGradient + Int(tokens[r]) * E
        for k in 0 ..< E { target[k] += embeddedGradient[k * stride + r] }
    }
}
