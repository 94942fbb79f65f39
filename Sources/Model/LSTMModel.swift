import COpenBLAS

/// Stacked LSTM with a dense head over windows of `slots` x `window`, carrying each slot's state
/// from window to window. Parameters, gradients and activations are one allocation each, made
/// here; `run` allocates nothing. BLAS runs on one thread, so results are bit-identical run to run.
public final class LSTMModel {
    public let config: ModelConfig
    public let layout: ParameterLayout
    public let slots: Int
    public let window: Int
    /// [layout.count]; tensors are views at `layout.tensors[i].offset`.
    public var parameters: UnsafeMutableBufferPointer<Float>
    /// [layout.count + gradientTrailer]: after a backward run the first `layout.count` hold
    /// d(lossSum)/d(parameters); the trailer belongs to the caller (sums that ride the same allreduce).
    public var gradients: UnsafeMutableBufferPointer<Float>
    /// [layers, B, H] carried state.
    public var hidden: UnsafeMutableBufferPointer<Float>
    public var cell: UnsafeMutableBufferPointer<Float>
    /// [layers, B, H] after a backward run: d(lossSum)/d(state at the window's start).
    public var hiddenGradient: UnsafeMutableBufferPointer<Float>
    public var cellGradient: UnsafeMutableBufferPointer<Float>
    /// [T*B, K] after `run`: probabilities (sigmoid/softmax) or values (regression).
    public var outputs: UnsafeBufferPointer<Float> { UnsafeBufferPointer(rebasing: activationArena[logitsRange]) }

    /// Set to accumulate `phaseTimes` (matrix products vs gate passes); off by default.
    public var measuresPhases: Bool {
        get { clock.isEnabled }
        set { clock.isEnabled = newValue }
    }
    public var phaseTimes: PhaseTimes {
        get { clock.times }
        set { clock.times = newValue }
    }

    private let clock = PhaseClock()
    private let activationArena: UnsafeMutableBufferPointer<Float>
    private let layerShapes: [LayerShape]
    private let layerWeights: [LayerTensors]
    private let layerGradients: [LayerTensors]
    private let layerActivations: [LayerActivations]
    /// [T*B, E] embedded tokens and their gradient (token input only).
    private let embedded: UnsafeMutablePointer<Float>
    private let embeddedGradient: UnsafeMutablePointer<Float>
    /// [T*B, 4H] scratch shared by the layers' backward passes.
    private let gateGradient: UnsafeMutablePointer<Float>
    /// [T*B, K]
    private let logitsRange: Range<Int>
    private let logitGradient: UnsafeMutablePointer<Float>

    public init(config: ModelConfig, slots: Int, window: Int, gradientTrailer: Int = 0) {
        precondition(slots > 0 && window > 0 && gradientTrailer >= 0)
        precondition(config.head != .binary || config.outputs == 1, "a binary head has one output")
        openblas_set_num_threads(1)
        self.config = config
        self.layout = ParameterLayout(config)
        self.slots = slots
        self.window = window
        let B = slots, T = window, H = config.hidden, K = config.outputs, rows = B * T
        parameters = .zeroed(layout.count)
        gradients = .zeroed(layout.count + gradientTrailer)
        hidden = .zeroed(config.layers * B * H)
        cell = .zeroed(config.layers * B * H)
        hiddenGradient = .zeroed(config.layers * B * H)
        cellGradient = .zeroed(config.layers * B * H)

        // Carve the activation arena: sizes first, then pointers.
        let embeddingWidth: Int
        if case .tokens(_, let width) = config.input { embeddingWidth = width } else { embeddingWidth = 0 }
        let shapes = (0 ..< config.layers).map {
            LayerShape(slots: B, window: T, inputs: $0 == 0 ? config.input.width : H, units: H)
        }
        let perLayer = rows * 4 * H + 3 * (T + 1) * B * H + rows * H
        let total = config.layers * perLayer + 2 * rows * embeddingWidth + rows * 4 * H + 2 * rows * K
        activationArena = .zeroed(total)
        var next = activationArena.baseAddress!
        func take(_ count: Int) -> UnsafeMutablePointer<Float> {
            defer { next += count }
            return next
        }
        layerActivations = shapes.map { _ in
            LayerActivations(gates: take(rows * 4 * H), hidden: take((T + 1) * B * H), cell: take((T + 1) * B * H),
                             cellTanh: take(rows * H), hiddenGradient: take((T + 1) * B * H))
        }
        embedded = take(rows * embeddingWidth)
        embeddedGradient = take(rows * embeddingWidth)
        gateGradient = take(rows * 4 * H)
        let logitsStart = next - activationArena.baseAddress!
        logitsRange = logitsStart ..< logitsStart + rows * K
        _ = take(rows * K)
        logitGradient = take(rows * K)
        precondition(next == activationArena.baseAddress! + total)

        layerShapes = shapes
        let layout = self.layout, parameterBase = parameters.baseAddress!, gradientBase = gradients.baseAddress!
        func tensors(_ base: UnsafeMutablePointer<Float>, layer: Int) -> LayerTensors {
            LayerTensors(kernel: base + layout["lstm_\(layer)/kernel"]!.offset,
                         recurrentKernel: base + layout["lstm_\(layer)/recurrent_kernel"]!.offset,
                         bias: base + layout["lstm_\(layer)/bias"]!.offset)
        }
        layerWeights = (0 ..< config.layers).map { tensors(parameterBase, layer: $0) }
        layerGradients = (0 ..< config.layers).map { tensors(gradientBase, layer: $0) }
    }

    deinit {
        parameters.deallocate()
        gradients.deallocate()
        hidden.deallocate()
        cell.deallocate()
        hiddenGradient.deallocate()
        cellGradient.deallocate()
        activationArena.deallocate()
    }

    /// Zeroes h and c of one slot in every layer.
    public func resetState(slot: Int) {
        precondition((0 ..< slots).contains(slot))
        let H = config.hidden
        for layer in 0 ..< config.layers {
            let start = (layer * slots + slot) * H
            hidden.baseAddress!.advanced(by: start).update(repeating: 0, count: H)
            cell.baseAddress!.advanced(by: start).update(repeating: 0, count: H)
        }
    }

    /// Forward over the window from the carried state, which advances to the window's end
    /// (masked steps keep it). With `backward`, gradients[0..<layout.count] = d(lossSum)/d(parameters)
    /// (overwritten; truncated BPTT at the window's start), and hiddenGradient/cellGradient are set.
    /// A window without targets gives zero gradients and `targets == 0`.
    public func run(_ batch: WindowBatch, backward: Bool) -> WindowResult {
        precondition(batch.slots == slots && batch.window == window, "the batch was made for another model shape")
        let B = slots, T = window, H = config.hidden, K = config.outputs, rows = B * T
        let mask = UnsafePointer(batch.mask.baseAddress!)
        let firstInput = layerInput(batch)

        for layer in 0 ..< config.layers {
            let a = layerActivations[layer], state = layer * B * H
            a.hidden.update(from: hidden.baseAddress! + state, count: B * H)
            a.cell.update(from: cell.baseAddress! + state, count: B * H)
            let x = layer == 0 ? firstInput : UnsafePointer(layerActivations[layer - 1].hidden + B * H)
            lstmForward(layerShapes[layer], x: x, weights: layerWeights[layer], mask: mask, activations: a, clock: clock)
            (hidden.baseAddress! + state).update(from: a.hidden + T * B * H, count: B * H)
            (cell.baseAddress! + state).update(from: a.cell + T * B * H, count: B * H)
        }

        let top = layerActivations[config.layers - 1]
        let logits = activationArena.baseAddress! + logitsRange.lowerBound
        let dense = tensor("dense/kernel"), denseBias = tensor("dense/bias")
        clock.measure(\.matmul) { matmul(top.hidden + B * H, parameters.baseAddress! + dense.offset, into: logits, m: rows, n: K, k: H) }
        let result = headLoss(config.head, outputs: K, logits: logits, bias: parameters.baseAddress! + denseBias.offset,
                              batch: batch, logitGradient: backward ? logitGradient : nil)
        guard backward else { return result }
        guard result.targets > 0 else {
            gradients.baseAddress!.update(repeating: 0, count: layout.count)
            hiddenGradient.update(repeating: 0)
            cellGradient.update(repeating: 0)
            return result
        }

        let gradientBase = gradients.baseAddress!
        clock.measure(\.matmul) {
            matmul(top.hidden + B * H, transposeA: true, logitGradient, into: gradientBase + dense.offset, m: H, n: K, k: rows)
            matmul(logitGradient, parameters.baseAddress! + dense.offset, transposeB: true, into: top.hiddenGradient + B * H,
                   m: rows, n: H, k: K)
        }
        columnSums(logitGradient, rows: rows, columns: K, into: gradientBase + denseBias.offset)
        top.hiddenGradient.update(repeating: 0, count: B * H)

        for layer in stride(from: config.layers - 1, through: 0, by: -1) {
            let a = layerActivations[layer], state = layer * B * H
            let below: UnsafeMutablePointer<Float>?
            if layer > 0 {
                let belowGradient = layerActivations[layer - 1].hiddenGradient
                belowGradient.update(repeating: 0, count: B * H)
                below = belowGradient + B * H
            } else {
                below = config.input.isTokens ? embeddedGradient : nil
            }
            let cellGradientOfLayer = cellGradient.baseAddress! + state
            cellGradientOfLayer.update(repeating: 0, count: B * H)
            let x = layer == 0 ? firstInput : UnsafePointer(layerActivations[layer - 1].hidden + B * H)
            lstmBackward(layerShapes[layer], x: x, weights: layerWeights[layer], grads: layerGradients[layer],
                         mask: mask, activations: a, cellGradient: cellGradientOfLayer, gateGradient: gateGradient,
                         inputGradient: below, clock: clock)
            (hiddenGradient.baseAddress! + state).update(from: a.hiddenGradient, count: B * H)
        }

        if case .tokens(let vocabulary, let width) = config.input {
            embeddingBackward(tokens: batch.tokens.baseAddress!, mask: mask, rows: rows, embeddedGradient: embeddedGradient,
                              vocabulary: vocabulary, width: width,
                              tableGradient: gradientBase + tensor("embedding/embeddings").offset)
        }
        return result
    }

    /// [T*B, I] the first layer's input: the embedded tokens, or the batch's features as they are.
    private func layerInput(_ batch: WindowBatch) -> UnsafePointer<Float> {
        switch config.input {
        case .tokens(let vocabulary, let width):
            embeddingForward(tokens: batch.tokens.baseAddress!, mask: batch.mask.baseAddress!, rows: slots * window,
                             table: parameters.baseAddress! + tensor("embedding/embeddings").offset,
                             vocabulary: vocabulary, width: width, embedded: embedded)
            return UnsafePointer(embedded)
        case .features:
            return UnsafePointer(batch.features.baseAddress!)
        }
    }

    private func tensor(_ name: String) -> TensorSpec { layout[name]! }
}

extension ModelInput {
    var isTokens: Bool {
        if case .tokens = self { return true }
        return false
    }
}
