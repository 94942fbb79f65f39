import CElementwise

// One LSTM layer over a window, forward and backward, llm.c style: plain functions, shapes above
// each. Gate order i, f, c (written g here), o, as Keras.
//
// Activations are FEATURE-MAJOR: a [features, T*B] matrix whose column r = t * B + b is slot b at
// timestep t, so one timestep is a [features, B] block of columns (the gates, which only their own
// step's work reads, are kept step by step instead: LayerActivations.gates). The per-timestep
// products then have 4H (or H) rows and B columns, U^T [4H,H] x h [H,B], which OpenBLAS ran 1.5 to
// 1.7 times faster than the slot-major h [B,H] x U [H,4H] (measured: 86 vs 148 us at B=32, H=256),
// and the gate passes vectorise across slots, so a mask is a lane select rather than a branch. The
// products are planned once per layer (LayerProducts) and run on the kernels of Kernels.swift.

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
    /// Row stride of both kernels transposed [4H, I + H]. Padded as well: the kernels as they are, rows 4H
    /// apart (a power of two when H is), ran the products reading them 1.4 to 5 times slower at 8 to 32 slots.
    var transposedKernelsStride: Int { paddedStride(inputs + units) }
    /// Row stride of the padded copy of both kernels as they are [I + H, 4H] (LayerProducts).
    var asStoredKernelsStride: Int { paddedStride(gates) }
    /// Where in a layer's kernel copies both kernels as they are begin: after both transposed over several steps.
    var asStoredKernelsOffset: Int { window == 1 ? 0 : gates * transposedKernelsStride }
    /// Floats of a layer's kernel copies.
    var kernelCopiesSize: Int { asStoredKernelsOffset + (inputs + units) * asStoredKernelsStride }
    /// Floats of one step's block of the gates [4H, B].
    var gateBlock: Int { gates * slots }
    /// A timestep as the gate passes see it.
    var step: lstm_step_shape {
        lstm_step_shape(slots: slots, units: units, gate_stride: slots, state_stride: stateStride)
    }
}

/// A layer's matrix products, planned for its shapes and strides when the model is built.
///
/// Forward, a step's pre-activations W^T x_t + U^T h_{t-1} [4H, B] are summed into one small block
/// (rows B apart) that stays cached for the step's gate pass. Over a window of several steps both kernels
/// are transposed once per run, side by side in `kernelCopies` ([4H, I] then [4H, H], rows
/// `transposedKernelsStride` apart), for the faster NN kernels. Backward, each step's gate gradients dZ_t
/// [4H, B] give U dZ_t and W dZ_t while cached, reading both kernels as they are from padded rows after the
/// transposed ones ([I, 4H] then [H, 4H], rows `asStoredKernelsStride` apart, copied once per run): there
/// large's U dZ_t ran at 87 to 98 GFLOP/s, through U^T on libxsmm's transposing kernels at 59 to 89, and
/// reading U itself, rows 4H apart (a power of two when H is), at a fraction of either (docs/platform.md).
/// A one-step window (generate and forecast run those) reads the kernels as they are, [I, 4H] and [H, 4H],
/// where a copy per run would cost more than the step's products; a frozen model (`LSTMModel.freezeKernels`)
/// reads the padded copy of both, made once, since rows 4H apart ran those products at half speed.
struct LayerProducts {
    /// W^T x_t [4H, B] from the kernel and the step's inputs, a block of X^T [I, T*B].
    let inputProjection: MatrixProduct
    /// += U^T h_{t-1} [4H, B] from the recurrent kernel and a state block [H, B].
    let recurrent: MatrixProduct
    /// U dZ_t [H, B] (rows B apart) from the recurrent kernel [H, 4H] (its padded copy over several steps) and a
    /// step's gate gradients [4H, B] (rows B apart).
    let hiddenGradient: MatrixProduct
    /// dW = X^T dZ^T: [I, 4H] from the inputs and the transposed gate gradients [T*B, 4H].
    let kernelGradient: MatrixProduct
    /// dU = H_{t-1} dZ^T: [H, 4H] from the state blocks 0...T-1 [H, T*B] and the same.
    let recurrentKernelGradient: MatrixProduct
    /// W dZ_t, a block [I, B] of d(X^T) [I, T*B], from the kernel [I, 4H] (its padded copy over several steps) and
    /// a step's gate gradients [4H, B]; nil when no one needs it.
    let inputGradient: MatrixProduct?
    /// Whether the forward products read the frozen copy of the kernels (one-step windows only).
    let readsFrozenCopy: Bool

    /// `inputStride`: the row stride of X^T; `inputGradientStride`: of d(X^T), nil for none; `frozen`: plan a
    /// one-step window's forward products for the frozen copy.
    init(_ s: LayerShape, inputStride: Int, inputGradientStride: Int?, kernels: ProductKernels, frozen: Bool = false) {
        precondition(!frozen || s.window == 1, "only a one-step window reads a frozen copy")
        let G = s.gates, H = s.units, I = s.inputs, columns = s.columns
        let asIs = s.window == 1, asStoredStride = asIs ? G : s.asStoredKernelsStride
        let forwardStride = frozen ? s.asStoredKernelsStride : asIs ? G : s.transposedKernelsStride
        readsFrozenCopy = frozen
        // The products that read a kernel hold it (MatrixProduct.hold) for the window's steps.
        inputProjection = MatrixProduct(m: G, n: s.slots, k: I, aStride: forwardStride, transposedA: asIs,
                                        bStride: inputStride, cStride: s.slots, kernels: kernels, holdsA: true)
        recurrent = MatrixProduct(m: G, n: s.slots, k: H, aStride: forwardStride, transposedA: asIs,
                                  bStride: s.stateStride, cStride: s.slots, accumulate: true, kernels: kernels,
                                  holdsA: true)
        hiddenGradient = MatrixProduct(m: H, n: s.slots, k: G, aStride: asStoredStride, bStride: s.slots,
                                       cStride: s.slots, kernels: kernels, holdsA: true)
        kernelGradient = MatrixProduct(m: I, n: G, k: columns, aStride: inputStride, bStride: s.transposedGateStride,
                                       cStride: G, kernels: kernels)
        recurrentKernelGradient = MatrixProduct(m: H, n: G, k: columns, aStride: s.stateStride,
                                                bStride: s.transposedGateStride, cStride: G, kernels: kernels)
        inputGradient = inputGradientStride.map {
            MatrixProduct(m: I, n: s.slots, k: G, aStride: asStoredStride, bStride: s.slots, cStride: $0,
                          kernels: kernels, holdsA: true)
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
    /// `kernelCopiesSize` floats (LayerProducts). Over several steps: [4H, I + H] both kernels transposed (rows
    /// `transposedKernelsStride` apart), refreshed by every forward run. Then [I + H, 4H] both kernels as they are
    /// (rows `asStoredKernelsStride` apart): over several steps refreshed by every backward run, for one step
    /// made when the model is frozen.
    let kernelCopies: UnsafeMutablePointer<Float>
    /// Gate activations i, f, g, o, STEP-MAJOR: step t's [4H, B] is one block (`gateBlock` floats, rows B apart),
    /// so a step's gate pass, its backward products and its transpose walk one contiguous block; rows of a
    /// [4H, T*B] matrix lie 16 KB and more apart, which the hardware prefetchers do not follow.
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
    if products.readsFrozenCopy {
        (inputKernel, recurrentKernel) = asStoredKernels(s, in: a.kernelCopies)
    } else if !products.recurrent.transposedA {
        clock.measure(\.matmul) {
            let stride = s.transposedKernelsStride
            if case .columns = inputs {
                transpose(w.kernel, rows: I, columns: G, into: a.kernelCopies, targetStride: stride)
            }
            transpose(w.recurrentKernel, rows: H, columns: G, into: a.kernelCopies + I, targetStride: stride)
        }
        inputKernel = UnsafePointer(a.kernelCopies)
        recurrentKernel = UnsafePointer(a.kernelCopies + I)
    }
    if !products.readsFrozenCopy {  // a frozen copy was held when it was made
        clock.measure(\.matmul) {
            if case .columns = inputs { products.inputProjection.hold(inputKernel) }
            products.recurrent.hold(recurrentKernel)
        }
    }
    for t in 0 ..< s.window {
        clock.measure(\.matmul) {
            switch inputs {
            case .columns(let x): products.inputProjection(inputKernel, x + t * B, into: a.stepProduct)
            case .table(let table): table.project(step: t, into: a.stepProduct)
            }
            products.recurrent(recurrentKernel, a.hidden + t * B, into: a.stepProduct)
        }
        clock.measure(\.gates) {
            lstm_gates_forward(KernelPath.elementwiseISA, s.step, a.stepProduct, w.bias, mask + t * B,
                               a.gates + t * s.gateBlock, a.cell + t * B, a.hidden + t * B)
        }
    }
}

/// Backward through the window (truncated at its start).
/// In: a.hiddenGradient blocks 1...T = d(loss)/d(output h_t) from the layer above or the head, block 0 = 0;
/// cellGradient [H, B] = 0. Out: a.hiddenGradient block 0 = d/d(incoming h), cellGradient = d/d(incoming c),
/// grads (overwritten; grads.kernel only with `inputs`), inputGradient = d/dX^T [I, T*B] when given and the
/// products plan one, and gateGradientTransposed = dZ^T [T*B, 4H] (row stride s.transposedGateStride), from
/// which a TokenProjection takes the kernel's gradient when `inputs` is nil.
/// a.gates is overwritten, step by step, with d/d(pre-activations): each step's activations are dead once
/// its gradient is known, and writing over them saves a buffer as large and its memory traffic.
func lstmBackward(_ s: LayerShape, products: LayerProducts, inputs: UnsafePointer<Float>?, weights w: LayerTensors,
                  grads: LayerTensors, mask: UnsafePointer<Float>, activations a: LayerActivations,
                  cellGradient: UnsafeMutablePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  gateGradientTransposed: UnsafeMutablePointer<Float>, clock: PhaseClock,
                  betweenSteps: () -> Void = {}) {
    let B = s.slots, H = s.units, G = s.gates
    let inputGradientProduct = inputGradient == nil ? nil : products.inputGradient
    // The kernels as they are, in padded rows over a window of several steps (LayerProducts).
    var inputKernel = UnsafePointer(w.kernel), recurrentKernel = UnsafePointer(w.recurrentKernel)
    if s.window > 1 {
        clock.measure(\.matmul) {
            copyKernelsAsStored(s, w, into: a.kernelCopies, includingInputKernel: inputGradientProduct != nil)
        }
        (inputKernel, recurrentKernel) = asStoredKernels(s, in: a.kernelCopies)
    }
    clock.measure(\.matmul) {
        products.hiddenGradient.hold(recurrentKernel)
        if inputGradient != nil { inputGradientProduct?.hold(inputKernel) }
    }
    a.stepProduct.update(repeating: 0, count: H * B)  // nothing flows back into the window's last step
    grads.bias.update(repeating: 0, count: G)
    for t in stride(from: s.window - 1, through: 0, by: -1) {
        let step = a.gates + t * s.gateBlock
        clock.measure(\.gates) {  // the bias gradient sums the step's gate gradients while they are cached
            lstm_gates_backward(KernelPath.elementwiseISA, s.step, a.stepProduct, mask + t * B, step, a.cell + t * B,
                                a.hiddenGradient + t * B, cellGradient, grads.bias)
        }
        clock.measure(\.matmul) {  // while the step's gate gradients are cached
            products.hiddenGradient(recurrentKernel, step, into: a.stepProduct)
            if let inputGradient, let inputGradientProduct {
                inputGradientProduct(inputKernel, step, into: inputGradient + t * B)
            }
            // dZ^T's rows of this step, for the weight gradients.
            let stride = s.transposedGateStride
            transpose(step, rows: G, columns: B, into: gateGradientTransposed + t * B * stride, targetStride: stride)
        }
        betweenSteps()
    }
    for j in 0 ..< H {
        let incoming = a.hiddenGradient + j * s.stateStride, product = a.stepProduct + j * B
        for b in 0 ..< B { incoming[b] += product[b] }
    }
    clock.measure(\.matmul) {
        // dW = X^T dZ^T, dU = H_{t-1} dZ^T over the whole window (the kernels read B row by row).
        if let inputs { products.kernelGradient(inputs, gateGradientTransposed, into: grads.kernel) }
        products.recurrentKernelGradient(a.hidden, gateGradientTransposed, into: grads.recurrentKernel)
    }
}

/// Both kernels as they are in a layer's kernel copies (LayerActivations.kernelCopies): [I, 4H] and [H, 4H].
func asStoredKernels(_ s: LayerShape, in copies: UnsafeMutablePointer<Float>)
    -> (input: UnsafePointer<Float>, recurrent: UnsafePointer<Float>) {
    let input = copies + s.asStoredKernelsOffset
    return (UnsafePointer(input), UnsafePointer(input + s.inputs * s.asStoredKernelsStride))
}

/// Copies U, and W with `includingInputKernel`, into their padded rows in a layer's kernel copies.
func copyKernelsAsStored(_ s: LayerShape, _ w: LayerTensors, into copies: UnsafeMutablePointer<Float>,
                         includingInputKernel: Bool) {
    let input = copies + s.asStoredKernelsOffset, stride = s.asStoredKernelsStride
    if includingInputKernel { copyRows(w.kernel, rows: s.inputs, columns: s.gates, into: input, targetStride: stride) }
    copyRows(w.recurrentKernel, rows: s.units, columns: s.gates, into: input + s.inputs * stride, targetStride: stride)
}

/// Zeroes block 0 (columns 0 ..< `columns`) of a [rows, stride] state matrix.
func zeroFirstBlock(_ matrix: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int) {
    for r in 0 ..< rows { (matrix + r * stride).update(repeating: 0, count: columns) }
}

/// sums [columns] = sum over rows of matrix [rows, columns], row by row (a fixed order).
func columnSums(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, into sums: UnsafeMutablePointer<Float>) {
    sums.update(repeating: 0, count: columns)
    for r in 0 ..< rows {
        let row = matrix + r * columns
        for k in 0 ..< columns { sums[k] += row[k] }
    }
}
