import CCPUFeatures

// One LSTM layer over a window, forward and backward, llm.c style: plain functions, shapes above
// each. Gate order i, f, c (written g here), o, as Keras.
//
// Activations are FEATURE-MAJOR: a [features, T*B] matrix whose column r = t * B + b is slot b at
// timestep t, so one timestep is a [features, B] block of columns. The per-timestep products then
// have 4H (or H) rows and B columns, U^T [4H,H] x h [H,B], which OpenBLAS ran 1.5 to 1.7 times
// faster than the slot-major h [B,H] x U [H,4H] (measured: 86 vs 148 us at B=32, H=256), and the
// gate passes vectorise across slots, so a mask is a lane select rather than a branch. The products
// are planned once per layer (LayerProducts) and run on the kernels of Kernels.swift.

/// Sizes of one layer's window: B slots, T timesteps, I inputs, H units.
struct LayerShape {
    let slots: Int
    let window: Int
    let inputs: Int
    let units: Int

    var gates: Int { 4 * units }
    /// Columns of a [features, T*B] activation.
    var columns: Int { slots * window }
    /// Columns of a state matrix [H, (T+1)*B]: block 0 is the state before the window.
    var stateColumns: Int { slots * (window + 1) }
    /// Row strides of those matrices in memory, padded to an odd number of 64-byte lines: with
    /// power-of-two strides the gate passes' walks down the rows all fell into the same cache sets.
    var columnStride: Int { paddedStride(columns) }
    var stateStride: Int { paddedStride(stateColumns) }
    /// Row stride of the transposed gate gradients [T*B, 4H].
    var transposedGateStride: Int { paddedStride(gates) }
}

/// A layer's matrix products, planned for its shapes and strides when the model is built.
///
/// Forward, a step's pre-activations W^T x_t + U^T h_{t-1} [4H, B] are summed into one small block
/// (rows B apart) that stays cached for the step's gate pass. Over a window of several steps both kernels
/// are transposed once per run, side by side in `kernelsTransposed` ([4H, I] then [4H, H], rows I + H
/// apart), for the faster NN kernels; a one-step window (generate and forecast run those) reads them as
/// they are, [I, 4H] and [H, 4H]: there the copies cost more than the step's products.
struct LayerProducts {
    /// W^T x_t [4H, B] from the kernel and the step's inputs, a block of X^T [I, T*B].
    let inputProjection: MatrixProduct
    /// += U^T h_{t-1} [4H, B] from the recurrent kernel and a state block [H, B].
    let recurrent: MatrixProduct
    /// U dZ_t [H, B] (rows B apart) from the recurrent kernel [H, 4H] and a gate block [4H, B].
    let hiddenGradient: MatrixProduct
    /// dW = X^T dZ^T: [I, 4H] from the inputs and the transposed gate gradients [T*B, 4H].
    let kernelGradient: MatrixProduct
    /// dU = H_{t-1} dZ^T: [H, 4H] from the state blocks 0...T-1 [H, T*B] and the same.
    let recurrentKernelGradient: MatrixProduct
    /// d(X^T) = W dZ: [I, T*B] from the kernel [I, 4H] and the gate gradients [4H, T*B]; nil when no one needs it.
    let inputGradient: MatrixProduct?

    /// `inputStride`: the row stride of X^T; `inputGradientStride`: of d(X^T), nil for none.
    init(_ s: LayerShape, inputStride: Int, inputGradientStride: Int?, path: KernelPath) {
        let G = s.gates, H = s.units, I = s.inputs, columns = s.columns
        let asIs = s.window == 1, transposedStride = I + H
        inputProjection = MatrixProduct(m: G, n: s.slots, k: I, aStride: asIs ? G : transposedStride, transposedA: asIs,
                                        bStride: inputStride, cStride: s.slots, path: path)
        recurrent = MatrixProduct(m: G, n: s.slots, k: H, aStride: asIs ? G : transposedStride, transposedA: asIs,
                                  bStride: s.stateStride, cStride: s.slots, accumulate: true, path: path)
        hiddenGradient = MatrixProduct(m: H, n: s.slots, k: G, aStride: G, bStride: s.columnStride, cStride: s.slots,
                                       path: path)
        kernelGradient = MatrixProduct(m: I, n: G, k: columns, aStride: inputStride, bStride: s.transposedGateStride,
                                       cStride: G, path: path)
        recurrentKernelGradient = MatrixProduct(m: H, n: G, k: columns, aStride: s.stateStride,
                                                bStride: s.transposedGateStride, cStride: G, path: path)
        inputGradient = inputGradientStride.map {
            MatrixProduct(m: I, n: columns, k: G, aStride: G, bStride: s.columnStride, cStride: $0, path: path)
        }
    }
}

/// The smallest odd multiple of 16 floats (one cache line) that holds `count` floats.
func paddedStride(_ count: Int) -> Int {
    let lines = (count + 15) / 16
    return 16 * (lines % 2 == 0 ? lines + 1 : lines)
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

/// What one layer keeps from forward for backward, and its backward buffers.
struct LayerActivations {
    /// [4H, I + H] both kernels transposed, refreshed every run of more than one step (LayerProducts).
    let kernelsTransposed: UnsafeMutablePointer<Float>
    /// [4H, T*B] gate activations i, f, g, o.
    let gates: UnsafeMutablePointer<Float>
    /// The products of the step being computed, rows B apart: its pre-activations W^T x_t + U^T h_{t-1}
    /// [4H, B] forward, U dZ_t [H, B] backward. Not written into the step's block of `gates` or
    /// `hiddenGradient`: those blocks are column slices of matrices larger than the cache, and the
    /// products ran a fifth to a quarter slower there than into this small block, which stays cached
    /// from step to step, as do the gate passes' reads of it.
    let stepProduct: UnsafeMutablePointer<Float>
    /// [H, (T+1)*B] block 0 = the incoming state, block t+1 = the state after step t.
    let hidden: UnsafeMutablePointer<Float>
    let cell: UnsafeMutablePointer<Float>
    /// [H, (T+1)*B] d(loss)/d(hidden), the same blocks as `hidden`.
    let hiddenGradient: UnsafeMutablePointer<Float>
}

/// A layer's inputs: X^T [I, T*B] (row stride as `products` were planned), or a token table.
enum LayerInputs {
    case columns(UnsafePointer<Float>)
    case table(TokenProjection)
}

/// Shapes are logical; rows lie `s.columnStride` or `s.stateStride` floats apart in memory.
/// mask [T*B] -> a.gates, a.hidden and a.cell blocks 1...T. Needs a.hidden and a.cell block 0 = the
/// incoming state. Masked slots keep their state.
func lstmForward(_ s: LayerShape, products: LayerProducts, inputs: LayerInputs, weights w: LayerTensors,
                 mask: UnsafePointer<Float>, activations a: LayerActivations, clock: PhaseClock) {
    let B = s.slots, H = s.units, G = s.gates, I = s.inputs
    var inputKernel = UnsafePointer(w.kernel), recurrentKernel = UnsafePointer(w.recurrentKernel)
    if !products.recurrent.transposedA {
        clock.measure(\.matmul) {
            if case .columns = inputs {
                transpose(w.kernel, rows: I, columns: G, into: a.kernelsTransposed, targetStride: I + H)
            }
            transpose(w.recurrentKernel, rows: H, columns: G, into: a.kernelsTransposed + I, targetStride: I + H)
        }
        inputKernel = UnsafePointer(a.kernelsTransposed)
        recurrentKernel = UnsafePointer(a.kernelsTransposed + I)
    }
    for t in 0 ..< s.window {
        clock.measure(\.matmul) {
            switch inputs {
            case .columns(let x): products.inputProjection(inputKernel, x + t * B, into: a.stepProduct)
            case .table(let table): table.project(step: t, into: a.stepProduct)
            }
            products.recurrent(recurrentKernel, a.hidden + t * B, into: a.stepProduct)
        }
        clock.measure(\.gates) { gatesForward(s, step: t, bias: w.bias, mask: mask, activations: a) }
    }
}

/// The cell update of timestep t for every unit and slot, 16 slots at a time.
/// a.stepProduct: the step's pre-activations less the bias [4H]; a.gates block t [4H, B] out: activations;
/// a.cell, a.hidden block t -> block t+1.
@inline(__always)
func gatesForward(_ s: LayerShape, step t: Int, bias: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                  activations a: LayerActivations) {
    let B = s.slots, H = s.units, columns = s.columnStride, stateColumns = s.stateStride
    for j in 0 ..< H {
        let gates = a.gates + j * columns + t * B, preactivations = a.stepProduct + j * B
        let cellBefore = a.cell + j * stateColumns + t * B, hiddenBefore = a.hidden + j * stateColumns + t * B
        // The rows a few units on write to, not cached yet (see prefetchRow).
        if j + prefetchUnits < H {
            let d = prefetchUnits
            for gate in 0 ..< 4 { prefetchRow(gates + gate * H * columns + d * columns, count: B) }
            prefetchRow(cellBefore + d * stateColumns + B, count: B)
            prefetchRow(hiddenBefore + d * stateColumns + B, count: B)
        }
        let biases = SIMD4(bias[j], bias[H + j], bias[2 * H + j], bias[3 * H + j])
        // Full vectors with a constant lane count (the inlined loads then have no tail branch: a variable
        // count made this pass 6x slower), then the tail. Spelled out: a helper taking the body as a
        // closure left it an out-of-line call in the package build.
        var b = 0
        while b + vectorWidth <= B {
            cellForward(lanes: vectorWidth, preactivations: preactivations + b, quarter: H * B, biases: biases,
                        gates: gates + b, gateQuarter: H * columns, mask: mask + t * B + b, cellBefore: cellBefore + b,
                        hiddenBefore: hiddenBefore + b, stateBlock: B)
            b += vectorWidth
        }
        if b < B {
            cellForward(lanes: B - b, preactivations: preactivations + b, quarter: H * B, biases: biases,
                        gates: gates + b, gateQuarter: H * columns, mask: mask + t * B + b, cellBefore: cellBefore + b,
                        hiddenBefore: hiddenBefore + b, stateBlock: B)
        }
    }
}

/// One unit for up to 16 slots. preactivations: the input gate's, the others `quarter` floats apart, less
/// the biases i, f, g, o; gates: where the input gate's activations go, the others `gateQuarter` apart;
/// the new c and h go `stateBlock` floats after cellBefore and hiddenBefore. Masked slots keep c and h.
@_transparent
func cellForward(lanes n: Int, preactivations: UnsafePointer<Float>, quarter: Int, biases: SIMD4<Float>,
                 gates: UnsafeMutablePointer<Float>, gateQuarter: Int, mask: UnsafePointer<Float>,
                 cellBefore: UnsafeMutablePointer<Float>, hiddenBefore: UnsafeMutablePointer<Float>, stateBlock: Int) {
    let i = sigmoid(loadVector(preactivations, n) + biases[0])
    let f = sigmoid(loadVector(preactivations + quarter, n) + biases[1])
    let g = tanh(loadVector(preactivations + 2 * quarter, n) + biases[2])
    let o = sigmoid(loadVector(preactivations + 3 * quarter, n) + biases[3])
    storeVector(i, gates, n)
    storeVector(f, gates + gateQuarter, n)
    storeVector(g, gates + 2 * gateQuarter, n)
    storeVector(o, gates + 3 * gateQuarter, n)
    let masked = loadVector(mask, n) .== 0
    let previousCell = loadVector(cellBefore, n)
    let c = (f * previousCell).addingProduct(i, g).replacing(with: previousCell, where: masked)
    let cTanh = tanh(c)
    storeVector(c, cellBefore + stateBlock, n)
    storeVector((o * cTanh).replacing(with: loadVector(hiddenBefore, n), where: masked), hiddenBefore + stateBlock, n)
}

/// Backward through the window (truncated at its start).
/// In: a.hiddenGradient blocks 1...T = d(loss)/d(output h_t) from the layer above or the head, block 0 = 0;
/// cellGradient [H, B] = 0. Out: a.hiddenGradient block 0 = d/d(incoming h), cellGradient = d/d(incoming c),
/// grads (overwritten; grads.kernel only with `inputs`), inputGradient = d/dX^T [I, T*B] when given and the
/// products plan one, and gateGradientTransposed = dZ^T [T*B, 4H] (row stride s.transposedGateStride), from
/// which a TokenProjection takes the kernel's gradient when `inputs` is nil.
/// a.gates is overwritten, step by step, with d/d(pre-activations): each step's activations are dead once
/// its gradient is known, and writing over them saves a [4H, T*B] buffer and its memory traffic.
func lstmBackward(_ s: LayerShape, products: LayerProducts, inputs: UnsafePointer<Float>?, weights w: LayerTensors,
                  grads: LayerTensors, mask: UnsafePointer<Float>, activations a: LayerActivations,
                  cellGradient: UnsafeMutablePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  gateGradientTransposed: UnsafeMutablePointer<Float>, clock: PhaseClock) {
    let B = s.slots, H = s.units, G = s.gates, gateGradient = a.gates
    a.stepProduct.update(repeating: 0, count: H * B)  // nothing flows back into the window's last step
    grads.bias.update(repeating: 0, count: G)
    for t in stride(from: s.window - 1, through: 0, by: -1) {
        let step = gateGradient + t * B
        clock.measure(\.gates) {
            gatesBackward(s, step: t, mask: mask, activations: a, cellGradient: cellGradient, biasGradient: grads.bias)
        }
        clock.measure(\.matmul) {
            products.hiddenGradient(w.recurrentKernel, step, into: a.stepProduct)
            // dZ^T's rows of this step, while the step's block is cached (the weight gradients read dZ^T).
            let stride = s.transposedGateStride
            transpose(step, rows: G, columns: B, sourceStride: s.columnStride,
                      into: gateGradientTransposed + t * B * stride, targetStride: stride)
        }
    }
    for j in 0 ..< H {
        let incoming = a.hiddenGradient + j * s.stateStride, product = a.stepProduct + j * B
        for b in 0 ..< B { incoming[b] += product[b] }
    }
    clock.measure(\.matmul) {
        // dW = X^T dZ^T, dU = H_{t-1} dZ^T over the whole window (the kernels read B row by row); d(X^T) = W dZ.
        if let inputs { products.kernelGradient(inputs, gateGradientTransposed, into: grads.kernel) }
        products.recurrentKernelGradient(a.hidden, gateGradientTransposed, into: grads.recurrentKernel)
        if let inputGradient, let product = products.inputGradient { product(w.kernel, gateGradient, into: inputGradient) }
    }
}

/// Timestep t backward for every unit and slot. a.gates block t: activations; a.hiddenGradient block t+1:
/// d/d(h_t) from above, a.stepProduct: U dZ_{t+1}, the rest of d/d(h_t); cellGradient [H, B] in: d/d(c_t),
/// out: d/d(c_{t-1}); a.gates block t out: d/d(pre-activations), whose sums over the slots are added to
/// biasGradient [4H] (while cached).
/// Masked slots pass both state gradients through (h_t = h_{t-1}, c_t = c_{t-1}) and get zero gate gradients.
@inline(__always)
func gatesBackward(_ s: LayerShape, step t: Int, mask: UnsafePointer<Float>, activations a: LayerActivations,
                   cellGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>) {
    let B = s.slots, H = s.units, columns = s.columnStride, stateColumns = s.stateStride
    for j in 0 ..< H {
        let offset = j * columns + t * B
        let cellBefore = a.cell + j * stateColumns + t * B
        let hiddenGradientBefore = a.hiddenGradient + j * stateColumns + t * B, recurrent = a.stepProduct + j * B
        if j + prefetchUnits < H {  // rows not cached since forward (see prefetchRow)
            let d = prefetchUnits
            for gate in 0 ..< 4 { prefetchRow(a.gates + offset + gate * H * columns + d * columns, count: B) }
            prefetchRow(cellBefore + d * stateColumns, count: 2 * B)
            prefetchRow(hiddenGradientBefore + d * stateColumns, count: 2 * B)
        }
        var b = 0  // as in gatesForward
        while b + vectorWidth <= B {
            cellBackward(lanes: vectorWidth, gates: a.gates + offset + b, quarter: H * columns, mask: mask + t * B + b,
                         cellBefore: cellBefore + b, hiddenGradientBefore: hiddenGradientBefore + b, stateBlock: B,
                         recurrentGradient: recurrent + b, cellGradient: cellGradient + j * B + b)
            b += vectorWidth
        }
        if b < B {
            cellBackward(lanes: B - b, gates: a.gates + offset + b, quarter: H * columns, mask: mask + t * B + b,
                         cellBefore: cellBefore + b, hiddenGradientBefore: hiddenGradientBefore + b, stateBlock: B,
                         recurrentGradient: recurrent + b, cellGradient: cellGradient + j * B + b)
        }
        for gate in 0 ..< 4 { biasGradient[gate * H + j] += sum(a.gates + offset + gate * H * columns, count: B) }
    }
}

/// One unit for up to 16 slots, backward. gates: activations i, f, g, o `quarter` floats apart, replaced
/// by the gradients of their pre-activations; c_t and d/d(h_t) from above lie `stateBlock` floats after
/// cellBefore and hiddenGradientBefore = d/d(h_{t-1}), to which masked slots pass theirs; recurrentGradient:
/// the rest of d/d(h_t); cellGradient in: d/d(c_t), out: d/d(c_{t-1}).
@_transparent
func cellBackward(lanes n: Int, gates: UnsafeMutablePointer<Float>, quarter: Int, mask: UnsafePointer<Float>,
                  cellBefore: UnsafePointer<Float>, hiddenGradientBefore: UnsafeMutablePointer<Float>,
                  stateBlock: Int, recurrentGradient: UnsafePointer<Float>, cellGradient: UnsafeMutablePointer<Float>) {
    let i = loadVector(gates, n), f = loadVector(gates + quarter, n)
    let g = loadVector(gates + 2 * quarter, n), o = loadVector(gates + 3 * quarter, n)
    let masked = loadVector(mask, n) .== 0, zero = Vector()
    // tanh(c_t) recomputed rather than stored: the same function of the same value, so the same bits,
    // and cheaper than a [H, T*B] buffer written in forward and read back from memory here.
    let cTanh = tanh(loadVector(cellBefore + stateBlock, n))
    let dh = loadVector(hiddenGradientBefore + stateBlock, n) + loadVector(recurrentGradient, n)
    let dcAfter = loadVector(cellGradient, n)
    let dc = dcAfter.addingProduct(dh * o, 1 - cTanh * cTanh)
    storeVector((dc * g * i * (1 - i)).replacing(with: zero, where: masked), gates, n)
    storeVector((dc * loadVector(cellBefore, n) * f * (1 - f)).replacing(with: zero, where: masked), gates + quarter, n)
    storeVector((dc * i * (1 - g * g)).replacing(with: zero, where: masked), gates + 2 * quarter, n)
    storeVector((dh * cTanh * o * (1 - o)).replacing(with: zero, where: masked), gates + 3 * quarter, n)
    storeVector((dc * f).replacing(with: dcAfter, where: masked), cellGradient, n)
    let passedThrough = dh.replacing(with: zero, where: .!masked)
    storeVector(loadVector(hiddenGradientBefore, n) + passedThrough, hiddenGradientBefore, n)
}

/// How many units ahead the gate passes prefetch their rows. The next step's rows, the first choice,
/// were evicted again before use at H = 512 (a step's rows fill L2); 4 and 8 units ahead measured alike.
let prefetchUnits = 4

/// Prefetches the cache lines of `count` floats from `row`. The gate passes touch one step's block of
/// each row, rows 8 KB and more apart: a stride the hardware prefetchers do not follow, so without
/// these hints every block came from memory at the pass's pace (charlm ran about 9% slower).
@inline(__always)
func prefetchRow(_ row: UnsafePointer<Float>, count: Int) {
    var k = 0
    while k < count {
        lstm_prefetch(row + k)
        k += 16
    }
    lstm_prefetch(row + count - 1)
}

/// Zeroes block 0 (columns 0 ..< `columns`) of a [rows, stride] state matrix.
func zeroFirstBlock(_ matrix: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int) {
    for r in 0 ..< rows { (matrix + r * stride).update(repeating: 0, count: columns) }
}

/// Sum of `count` floats: sixteen partial sums in a fixed order, so deterministic, and vectorised.
@inline(__always)
func sum(_ values: UnsafePointer<Float>, count: Int) -> Float {
    var partial = Vector()
    var k = 0
    while k < count {
        partial += loadVector(values + k, min(vectorWidth, count - k))
        k += vectorWidth
    }
    var total: Float = 0
    for lane in 0 ..< vectorWidth { total += partial[lane] }
    return total
}

/// sums [columns] = sum over rows of matrix [rows, columns], row by row (a fixed order).
func columnSums(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, into sums: UnsafeMutablePointer<Float>) {
    sums.update(repeating: 0, count: columns)
    for r in 0 ..< rows {
        let row = matrix + r * columns
        for k in 0 ..< columns { sums[k] += row[k] }
    }
}
