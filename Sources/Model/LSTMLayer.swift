// One LSTM layer over a window, forward and backward, llm.c style: plain functions, shapes above
// each. Rows are time-major, r = t * B + b. Gate order i, f, c (written g here), o, as Keras.

/// Sizes of one layer's window: B slots, T timesteps, I inputs, H units.
struct LayerShape {
    let slots: Int
    let window: Int
    let inputs: Int
    let units: Int

    var rows: Int { slots * window }
    var gates: Int { 4 * units }
}

/// A layer's three tensors inside a flat buffer (parameters, or the matching gradients).
struct LayerTensors {
    /// [I, 4H]
    let kernel: UnsafeMutablePointer<Float>
    /// [H, 4H]
    let recurrentKernel: UnsafeMutablePointer<Float>
    /// [4H]
    let bias: UnsafeMutablePointer<Float>
}

/// What one layer keeps from forward for backward, plus its backward buffers.
struct LayerActivations {
    /// [T*B, 4H] gate activations i, f, g, o (pre-activations while a step is computed).
    let gates: UnsafeMutablePointer<Float>
    /// [(T+1)*B, H] block 0 = the incoming state, block t+1 = state after step t.
    let hidden: UnsafeMutablePointer<Float>
    let cell: UnsafeMutablePointer<Float>
    /// [T*B, H] tanh of the new cell state.
    let cellTanh: UnsafeMutablePointer<Float>
    /// [(T+1)*B, H] d(loss)/d(hidden), same blocks as `hidden`.
    let hiddenGradient: UnsafeMutablePointer<Float>
}

/// x [T*B, I], mask [T*B] -> a.gates, a.hidden and a.cell blocks 1...T, a.cellTanh.
/// Needs a.hidden and a.cell block 0 = incoming state. Masked rows copy the previous state.
func lstmForward(_ s: LayerShape, x: UnsafePointer<Float>, weights w: LayerTensors,
                 mask: UnsafePointer<Float>, activations a: LayerActivations, clock: PhaseClock) {
    let B = s.slots, H = s.units, G = s.gates
    // The input projection of every timestep at once; bias is added in the gate pass.
    clock.measure(\.matmul) { matmul(x, w.kernel, into: a.gates, m: s.rows, n: G, k: s.inputs) }
    for t in 0 ..< s.window {
        let gates = a.gates + t * B * G
        let hiddenBefore = a.hidden + t * B * H, cellBefore = a.cell + t * B * H
        let hiddenAfter = hiddenBefore + B * H, cellAfter = cellBefore + B * H
        clock.measure(\.matmul) {
            matmul(hiddenBefore, w.recurrentKernel, into: gates, m: B, n: G, k: H, accumulate: true)
        }
        clock.measure(\.gates) {
            for b in 0 ..< B {
                if mask[t * B + b] == 0 {
                    (hiddenAfter + b * H).update(from: hiddenBefore + b * H, count: H)
                    (cellAfter + b * H).update(from: cellBefore + b * H, count: H)
                } else {
                    cellForward(units: H, gates: gates + b * G, bias: w.bias, cellBefore: cellBefore + b * H,
                                cell: cellAfter + b * H, cellTanh: a.cellTanh + (t * B + b) * H,
                                hidden: hiddenAfter + b * H)
                }
            }
        }
    }
}

/// One slot's step. gates [4H] in: pre-activations without bias; out: activations i, f, g, o.
/// bias [4H]; cellBefore, cell, cellTanh, hidden [H].
@inline(__always)
func cellForward(units H: Int, gates: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>,
                 cellBefore: UnsafePointer<Float>, cell: UnsafeMutablePointer<Float>,
                 cellTanh: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>) {
    var j = 0
    while j < H {
        let n = min(vectorWidth, H - j)
        let i = sigmoid(loadVector(gates + j, n) + loadVector(bias + j, n))
        let f = sigmoid(loadVector(gates + H + j, n) + loadVector(bias + H + j, n))
        let g = tanh(loadVector(gates + 2 * H + j, n) + loadVector(bias + 2 * H + j, n))
        let o = sigmoid(loadVector(gates + 3 * H + j, n) + loadVector(bias + 3 * H + j, n))
        let c = (f * loadVector(cellBefore + j, n)).addingProduct(i, g)
        let cTanh = tanh(c)
        storeVector(i, gates + j, n)
        storeVector(f, gates + H + j, n)
        storeVector(g, gates + 2 * H + j, n)
        storeVector(o, gates + 3 * H + j, n)
        storeVector(c, cell + j, n)
        storeVector(cTanh, cellTanh + j, n)
        storeVector(o * cTanh, hidden + j, n)
        j += vectorWidth
    }
}

/// Backward through a window (truncated at its start).
/// In: a.hiddenGradient blocks 1...T = d(loss)/d(output h_t) from the layer above or the head, block 0 = 0.
/// Out: a.hiddenGradient block 0 = d/d(incoming h); cellGradient [B, H] (in: zeros) = d/d(incoming c);
/// grads (overwritten); inputGradient [T*B, I] = d/dx when non-nil. gateGradient [T*B, 4H] is scratch.
func lstmBackward(_ s: LayerShape, x: UnsafePointer<Float>, weights w: LayerTensors, grads: LayerTensors,
                  mask: UnsafePointer<Float>, activations a: LayerActivations,
                  cellGradient: UnsafeMutablePointer<Float>, gateGradient: UnsafeMutablePointer<Float>,
                  inputGradient: UnsafeMutablePointer<Float>?, clock: PhaseClock) {
    let B = s.slots, H = s.units, G = s.gates
    for t in stride(from: s.window - 1, through: 0, by: -1) {
        let gates = a.gates + t * B * G, gateGradients = gateGradient + t * B * G
        let hiddenGradientBefore = a.hiddenGradient + t * B * H, hiddenGradientAfter = hiddenGradientBefore + B * H
        clock.measure(\.gates) {
            for b in 0 ..< B {
                if mask[t * B + b] == 0 {
                    // h_t = h_{t-1} and c_t = c_{t-1}: both gradients pass through unchanged.
                    for j in 0 ..< H { hiddenGradientBefore[b * H + j] += hiddenGradientAfter[b * H + j] }
                    (gateGradients + b * G).update(repeating: 0, count: G)
                } else {
                    cellBackward(units: H, gates: gates + b * G, cellBefore: a.cell + (t * B + b) * H,
                                 cellTanh: a.cellTanh + (t * B + b) * H,
                                 hiddenGradient: hiddenGradientAfter + b * H,
                                 cellGradient: cellGradient + b * H, gateGradients: gateGradients + b * G)
                }
            }
        }
        clock.measure(\.matmul) {
            matmul(gateGradients, w.recurrentKernel, transposeB: true, into: hiddenGradientBefore,
                   m: B, n: H, k: G, accumulate: true)
        }
    }
    clock.measure(\.matmul) {
        matmul(x, transposeA: true, gateGradient, into: grads.kernel, m: s.inputs, n: G, k: s.rows)
        matmul(a.hidden, transposeA: true, gateGradient, into: grads.recurrentKernel, m: H, n: G, k: s.rows)
        if let inputGradient {
            matmul(gateGradient, w.kernel, transposeB: true, into: inputGradient, m: s.rows, n: s.inputs, k: G)
        }
    }
    columnSums(gateGradient, rows: s.rows, columns: G, into: grads.bias)
}

/// One slot's step backward. gates [4H] activations i, f, g, o; cellBefore, cellTanh, hiddenGradient [H];
/// cellGradient [H] in: d/d(c_t) from step t+1, out: d/d(c_{t-1}); gateGradients [4H] out: d/d(pre-activations).
@inline(__always)
func cellBackward(units H: Int, gates: UnsafePointer<Float>, cellBefore: UnsafePointer<Float>,
                  cellTanh: UnsafePointer<Float>, hiddenGradient: UnsafePointer<Float>,
                  cellGradient: UnsafeMutablePointer<Float>, gateGradients: UnsafeMutablePointer<Float>) {
    var j = 0
    while j < H {
        let n = min(vectorWidth, H - j)
        let i = loadVector(gates + j, n), f = loadVector(gates + H + j, n)
        let g = loadVector(gates + 2 * H + j, n), o = loadVector(gates + 3 * H + j, n)
        let cTanh = loadVector(cellTanh + j, n), dh = loadVector(hiddenGradient + j, n)
        let dc = loadVector(cellGradient + j, n).addingProduct(dh * o, 1 - cTanh * cTanh)
        storeVector(dc * loadVector(cellBefore + j, n) * f * (1 - f), gateGradients + H + j, n)
        storeVector(dc * g * i * (1 - i), gateGradients + j, n)
        storeVector(dc * i * (1 - g * g), gateGradients + 2 * H + j, n)
        storeVector(dh * cTanh * o * (1 - o), gateGradients + 3 * H + j, n)
        storeVector(dc * f, cellGradient + j, n)
        j += vectorWidth
    }
}

/// sums [columns] = sum over rows of matrix [rows, columns], row by row (a fixed order).
func columnSums(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, into sums: UnsafeMutablePointer<Float>) {
    sums.update(repeating: 0, count: columns)
    for r in 0 ..< rows {
        let row = matrix + r * columns
        for k in 0 ..< columns { sums[k] += row[k] }
    }
}
