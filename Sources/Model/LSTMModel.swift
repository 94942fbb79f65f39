/// Stacked LSTM with a dense head over windows of `slots` x `window`, carrying each slot's state
/// from window to window. Parameters, gradients and activations are one allocation each, made
/// here; `run` allocates nothing. Every matrix product is planned here (Kernels.swift) and runs on one
/// thread in a fixed order, so results are bit-identical run to run.
///
/// A training step, as the train loop drives it:
///
///     // refill `batch` (time-major: row t * slots + b); resetState(slot:) where a row starts
///     let result = model.run(batch, backward: true)       // sums over this rank's targets
///     model.gradients[parameterLayout.count...] = loss sum, target count, ...   // the caller's trailer
///     allreduce(model.gradients)                          // one buffer, one collective
///     // (or, on several ranks, `run(..., readiness:)` starts each of `gradientBuckets` as backward
///     // finishes it, and the update below runs bucket by bucket as their sums land)
///     if globalTargets > 0 {
///         scale model.gradients[0 ..< parameterLayout.count] by 1 / globalTargets
///         clipByGlobalNorm(that slice, maxNorm:)          // optional
///         optimizer.step(parameters: model.parameters, gradients: that slice)
///     }
public final class LSTMModel {
    public let config: ModelConfig
    public let parameterLayout: ParameterLayout
    /// The gradient's groups in the order backward completes them, each a contiguous range of
    /// `gradients`: the head, each LSTM layer from the top, then the first layer with the embedding
    /// (which the token table's backward finishes together). They depend on the model only.
    public let gradientBuckets: [Range<Int>]
    public let slots: Int
    public let window: Int
    /// [parameterLayout.count]; tensors are views at `parameterLayout.tensors[i].offset`.
    public var parameters: UnsafeMutableBufferPointer<Float>
    /// [parameterLayout.count + gradientTrailer]: after a backward run the first `parameterLayout.count` hold
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
    private var layerProducts: [LayerProducts]
    /// The kernel path and precision every product was planned with.
    private let productKernels: ProductKernels
    public var precision: Precision { productKernels.precision }
    /// Set by `freezeKernels`.
    private var kernelsFrozen = false
    /// The head's products over the top layer's outputs (OutputHead.swift).
    private let headProducts: HeadProducts
    /// [T*B, 4H] scratch: a layer's gate gradients transposed, rows `transposedGateStride` apart.
    private let gateGradientTransposed: UnsafeMutablePointer<Float>
    /// [K, T*B] the logits' gradient transposed, rows `columnStride` apart.
    private let logitGradientTransposed: UnsafeMutablePointer<Float>
    /// [I, T*B] the first layer's inputs (embedded tokens or features), rows `columnStride` apart.
    private let firstLayerInputs: UnsafeMutablePointer<Float>
    /// [E, T*B] d(loss)/d(embedded)^T (token input only), rows `columnStride` apart.
    private let embeddedGradient: UnsafeMutablePointer<Float>
    /// [H, B] the running d(loss)/d(c) of the layer in backward.
    private let cellGradientScratch: UnsafeMutablePointer<Float>
    /// [T*B, K] logits, then outputs; and their gradient.
    private let logitsRange: Range<Int>
    private let logitGradient: UnsafeMutablePointer<Float>
    private let embeddingOffset: Int?, denseKernelOffset: Int, denseBiasOffset: Int
    /// Masks and dropped inputs when the model was made with dropout; `dropping` while a run uses them.
    private let dropoutMasks: DropoutMasks?
    private var dropping = false
    /// The first layer's input projection as a table lookup, for token input where that pays;
    /// `projecting` while a run uses it (not while dropping: dropout sits between the two).
    private let tokenProjection: TokenProjection?
    private var projecting = false

    /// `dropout`: the masks `run(_:backward:dropoutStep:)` applies when given a step (training);
    /// nil or no step: no dropout (evaluation, prediction, validation). `kernels`: the process's
    /// kernel path, or `.reference` for plain loops. `precision`: the products' arithmetic; the caller has
    /// checked it against `kernels` (`Precision.check(on:)`).
    public init(config: ModelConfig, slots: Int, window: Int, gradientTrailer: Int = 0, dropout: Dropout? = nil,
                kernels: KernelPath = .active, precision: Precision = .fp32) {
        precondition(slots > 0 && window > 0 && gradientTrailer >= 0)
        precondition((try? precision.check(on: kernels)) != nil, "\(precision) products cannot run on \(kernels)")
        precondition(config.head != .binary || config.outputs == 1, "a binary head has one output")
        self.config = config
        let parameterLayout = ParameterLayout(config)
        self.parameterLayout = parameterLayout
        gradientBuckets = LSTMModel.buckets(parameterLayout, layers: config.layers)
        self.slots = slots
        self.window = window
        let B = slots, T = window, H = config.hidden, G = 4 * H, K = config.outputs
        parameters = .zeroed(parameterLayout.count)
        gradients = .zeroed(parameterLayout.count + gradientTrailer)
        hidden = .zeroed(config.layers * B * H)
        cell = .zeroed(config.layers * B * H)
        hiddenGradient = .zeroed(config.layers * B * H)
        cellGradient = .zeroed(config.layers * B * H)

        // The activation arena, one allocation carved as `plan` lays it out.
        let plan = ActivationPlan(config, slots: B, window: T, dropout: dropout != nil)
        let shapes = (0 ..< config.layers).map { plan.shape(layer: $0) }
        let stride = shapes[0].columnStride, stateStride = shapes[0].stateStride
        activationArena = .zeroed(plan.floats)
        let arena = activationArena.baseAddress!
        // The layers run one at a time: they share the step's block. Each keeps its kernel copies from
        // forward to backward.
        let stepProduct = arena + plan.stepProduct
        layerActivations = (0 ..< config.layers).map {
            let block = plan.block(layer: $0)
            return LayerActivations(kernelCopies: arena + block.kernelCopies, gates: arena + block.gates,
                                    stepProduct: stepProduct, hidden: arena + block.hidden, cell: arena + block.cell,
                                    hiddenGradient: arena + block.hiddenGradient)
        }
        firstLayerInputs = arena + plan.firstLayerInputs
        embeddedGradient = arena + plan.embeddedGradient
        cellGradientScratch = arena + plan.cellGradientScratch
        logitsRange = plan.logits
        logitGradient = arena + plan.logitGradient
        gateGradientTransposed = arena + plan.gateGradientTransposed
        logitGradientTransposed = arena + plan.logitGradientTransposed
        var next = arena + plan.dropoutMasks
        func take(_ count: Int) -> UnsafeMutablePointer<Float> {
            defer { next += count }
            return next
        }
        dropoutMasks = dropout.map {
            DropoutMasks($0, widths: plan.dropoutWidths, slots: B, window: T, stride: stateStride, take: take)
        }
        precondition(next == arena + plan.floats)

        let productKernels = ProductKernels(path: kernels, precision: precision)
        self.productKernels = productKernels
        layerShapes = shapes
        layerProducts = shapes.indices.map {
            LSTMModel.planProducts(shapes, layer: $0, tokenInput: config.input.isTokens, kernels: productKernels,
                                   frozen: false)
        }
        headProducts = HeadProducts(slots: B, window: T, inputs: H, outputs: K, inputStride: stateStride,
                                    transposedStride: stride, kernels: productKernels)

        if case .tokens(let vocabulary, let width) = config.input,
           TokenProjection.pays(vocabulary: vocabulary, slots: B, window: T) {
            tokenProjection = TokenProjection(vocabulary: vocabulary, width: width, gates: G, slots: B, window: T,
                                              kernels: productKernels)
        } else {
            tokenProjection = nil
        }

        let parameterBase = parameters.baseAddress!, gradientBase = gradients.baseAddress!
        func tensors(_ base: UnsafeMutablePointer<Float>, layer: Int) -> LayerTensors {
            LayerTensors(kernel: base + parameterLayout["lstm_\(layer)/kernel"]!.offset,
                         recurrentKernel: base + parameterLayout["lstm_\(layer)/recurrent_kernel"]!.offset,
                         bias: base + parameterLayout["lstm_\(layer)/bias"]!.offset)
        }
        layerWeights = (0 ..< config.layers).map { tensors(parameterBase, layer: $0) }
        layerGradients = (0 ..< config.layers).map { tensors(gradientBase, layer: $0) }
        embeddingOffset = parameterLayout["embedding/embeddings"]?.offset
        denseKernelOffset = parameterLayout["dense/kernel"]!.offset
        denseBiasOffset = parameterLayout["dense/bias"]!.offset
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

    /// `gradientBuckets` of a layout: embedding, lstm_0, lstm_1, ..., dense lie in that order.
    private static func buckets(_ layout: ParameterLayout, layers: Int) -> [Range<Int>] {
        func end(_ name: String) -> Int { layout[name]!.offset + layout[name]!.count }
        let head = layout["dense/kernel"]!.offset ..< layout.count
        let upper = stride(from: layers - 1, through: 1, by: -1).map { layout["lstm_\($0)/kernel"]!.offset ..< end("lstm_\($0)/bias") }
        return [head] + upper + [0 ..< end("lstm_0/bias")]
    }

    private static func planProducts(_ shapes: [LayerShape], layer: Int, tokenInput: Bool, kernels: ProductKernels,
                                     frozen: Bool) -> LayerProducts {
        let stride = shapes[0].columnStride, stateStride = shapes[0].stateStride
        return LayerProducts(shapes[layer], inputStride: layer == 0 ? stride : stateStride,
                             inputGradientStride: layer > 0 ? stateStride : tokenInput ? stride : nil, kernels: kernels,
                             frozen: frozen)
    }

    /// For a one-step model whose parameters are set and will not change (generate, forecast): copies
    /// both kernels of every layer once, into rows padded as the activations' are, and makes every later
    /// run read those copies. Read as they are, rows 4H floats apart (a power of two when H is), a
    /// one-slot step's products ran at half the speed. Later changes to `parameters` are not seen, so a
    /// frozen model runs forward only.
    public func freezeKernels() {
        precondition(window == 1, "only a one-step model reads its kernels as they are")
        for layer in 0 ..< config.layers {
            copyKernelsAsStored(layerShapes[layer], layerWeights[layer], into: layerActivations[layer].kernelCopies,
                                includingInputKernel: true)
            layerProducts[layer] = LSTMModel.planProducts(layerShapes, layer: layer, tokenInput: config.input.isTokens,
                                                          kernels: productKernels, frozen: true)
            let (inputKernel, recurrentKernel) = asStoredKernels(layerShapes[layer], in: layerActivations[layer].kernelCopies)
            layerProducts[layer].inputProjection.hold(inputKernel)
            layerProducts[layer].recurrent.hold(recurrentKernel)
        }
        kernelsFrozen = true
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
    /// (masked steps keep it). With `backward`, gradients[0..<parameterLayout.count] = d(lossSum)/d(parameters)
    /// (overwritten; truncated BPTT at the window's start), and hiddenGradient/cellGradient are set.
    /// A window without targets gives zero gradients and `targets == 0`. With `dropoutStep` (the
    /// global step) and a model made with dropout, the inputs of every layer and of the head are
    /// dropped with that step's masks, in forward and backward alike. With `readiness` and
    /// `backward`, tells it when forward ends and each of `gradientBuckets` as it becomes final.
    public func run(_ batch: WindowBatch, backward: Bool, dropoutStep: Int? = nil, readiness: GradientReadiness? = nil) -> WindowResult {
        precondition(batch.slots == slots && batch.window == window, "the batch was made for another model shape")
        precondition(!(backward && kernelsFrozen), "a frozen model runs forward only")
        let mask = UnsafePointer(batch.mask.baseAddress!)
        dropping = dropoutStep != nil && dropoutMasks != nil
        projecting = tokenProjection != nil && !dropping
        if dropping { dropoutMasks!.draw(step: dropoutStep!) }
        if projecting {
            clock.measure(\.matmul) {
                tokenProjection!.forward(tokens: batch.tokens.baseAddress!, mask: mask, embeddings: embeddings,
                                         kernel: layerWeights[0].kernel)
            }
        } else {
            prepareFirstLayerInputs(batch)
        }
        if dropping { dropoutMasks!.apply(site: 0, firstLayerInputs, sourceStride: columnStride, into: firstLayerInputs, targetStride: columnStride) }
        for layer in 0 ..< config.layers {
            if dropping && layer > 0 { dropInputs(site: layer, from: layerActivations[layer - 1]) }
            forwardLayer(layer, mask: mask)
        }
        if dropping { dropInputs(site: config.layers, from: layerActivations[config.layers - 1]) }
        let result = forwardHead(batch, keepingGradient: backward)
        guard backward else { return result }
        readiness?.forwardEnded(result)
        guard result.targets > 0 else {
            gradients.baseAddress!.update(repeating: 0, count: parameterLayout.count)
            hiddenGradient.update(repeating: 0)
            cellGradient.update(repeating: 0)
            for bucket in gradientBuckets { readiness?.ready(bucket) }
            return result
        }
        backwardHead()
        readiness?.ready(gradientBuckets[0])
        for layer in stride(from: config.layers - 1, through: 0, by: -1) {
            backwardLayer(layer, mask: mask, readiness: readiness)
            if layer > 0 { readiness?.ready(gradientBuckets[config.layers - layer]) }
        }
        if projecting {
            clock.measure(\.matmul) {
                tokenProjection!.backward(gateGradientTransposed: gateGradientTransposed,
                                          stride: layerShapes[0].transposedGateStride, embeddings: embeddings,
                                          kernel: layerWeights[0].kernel, kernelGradient: layerGradients[0].kernel,
                                          embeddingGradient: gradients.baseAddress! + embeddingOffset!)
            }
        } else if let embeddingOffset, case .tokens(let vocabulary, let width) = config.input {
            embeddingBackward(tokens: batch.tokens.baseAddress!, mask: mask, columns: slots * window,
                              embeddedGradient: embeddedGradient, stride: columnStride, vocabulary: vocabulary,
                              width: width, tableGradient: gradients.baseAddress! + embeddingOffset)
        }
        readiness?.ready(gradientBuckets[config.layers])
        return result
    }

    private var columnStride: Int { layerShapes[0].columnStride }
    private var stateStride: Int { layerShapes[0].stateStride }
    /// The embedding table [V, E] (token input only).
    private var embeddings: UnsafePointer<Float> { UnsafePointer(parameters.baseAddress! + embeddingOffset!) }

    /// X^T [I, T*B] of a layer: the first layer's inputs (rows `columnStride` apart), or the outputs
    /// (blocks 1...T of the hidden state, rows `stateStride` apart) of the layer below; their dropped
    /// copy (rows `stateStride` apart too) while dropping. Nil for the first layer while projecting:
    /// its input projection is then a lookup in `tokenProjection`.
    private func inputs(of layer: Int) -> UnsafePointer<Float>? {
        if layer == 0 { return projecting ? nil : UnsafePointer(firstLayerInputs) }
        if dropping { return UnsafePointer(dropoutMasks!.dropped[layer]!) }
        return UnsafePointer(layerActivations[layer - 1].hidden + slots)
    }

    /// The outputs of the top layer, H^T [H, T*B] (the head's inputs), rows `stateStride` apart; their
    /// dropped copy while dropping.
    private var topOutputs: UnsafePointer<Float> {
        if dropping { return UnsafePointer(dropoutMasks!.dropped[config.layers]!) }
        return UnsafePointer(layerActivations[config.layers - 1].hidden + slots)
    }

    /// The dropped copy of a site's inputs: the outputs (blocks 1...T) of the layer below it.
    private func dropInputs(site: Int, from below: LayerActivations) {
        dropoutMasks!.apply(site: site, below.hidden + slots, sourceStride: stateStride,
                            into: dropoutMasks!.dropped[site]!, targetStride: stateStride)
    }

    /// A site's input gradient times its mask, in place: the gradient of what the site read is
    /// the gradient of its dropped copy, masked and scaled alike.
    private func maskGradient(site: Int, _ gradient: UnsafeMutablePointer<Float>, stride: Int) {
        if dropping { dropoutMasks!.apply(site: site, gradient, sourceStride: stride, into: gradient, targetStride: stride) }
    }

    /// Runs one layer from its carried state (copied in, feature-major) and carries the final state out.
    private func forwardLayer(_ layer: Int, mask: UnsafePointer<Float>) {
        let a = layerActivations[layer], B = slots, H = config.hidden, state = hidden.baseAddress! + layer * B * H
        let cellState = cell.baseAddress! + layer * B * H
        transpose(state, rows: B, columns: H, into: a.hidden, targetStride: stateStride)
        transpose(cellState, rows: B, columns: H, into: a.cell, targetStride: stateStride)
        let layerInputs = inputs(of: layer).map(LayerInputs.columns) ?? .table(tokenProjection!)
        lstmForward(layerShapes[layer], products: layerProducts[layer], inputs: layerInputs,
                    weights: layerWeights[layer], mask: mask, activations: a, clock: clock)
        transpose(a.hidden + window * B, rows: H, columns: B, sourceStride: stateStride, into: state)
        transpose(a.cell + window * B, rows: H, columns: B, sourceStride: stateStride, into: cellState)
    }

    /// The head over the top layer's outputs: logits [T*B, K], then outputs and the loss; the logits'
    /// gradient too when `keepingGradient`.
    private func forwardHead(_ batch: WindowBatch, keepingGradient: Bool) -> WindowResult {
        headForward(config.head, products: headProducts, inputs: topOutputs,
                    kernel: parameters.baseAddress! + denseKernelOffset, bias: parameters.baseAddress! + denseBiasOffset,
                    batch: batch, logits: activationArena.baseAddress! + logitsRange.lowerBound,
                    logitGradient: keepingGradient ? logitGradient : nil, clock: clock)
    }

    /// Dense weight gradients, and d(loss)/d(H_top) into blocks 1...T of the top layer's hidden gradient
    /// (block 0 zeroed), masked as the head's inputs were.
    private func backwardHead() {
        let top = layerActivations[config.layers - 1]
        headBackward(products: headProducts, inputs: topOutputs, kernel: parameters.baseAddress! + denseKernelOffset,
                     logitGradient: logitGradient, logitGradientTransposed: logitGradientTransposed,
                     kernelGradient: gradients.baseAddress! + denseKernelOffset,
                     biasGradient: gradients.baseAddress! + denseBiasOffset, inputGradient: top.hiddenGradient + slots,
                     clock: clock)
        zeroFirstBlock(top.hiddenGradient, rows: config.hidden, columns: slots, stride: stateStride)
        maskGradient(site: config.layers, top.hiddenGradient + slots, stride: stateStride)
    }

    /// One layer's weight gradients, its incoming-state gradients, and d(loss)/d(inputs) into the layer
    /// below (or the embedding's buffer).
    private func backwardLayer(_ layer: Int, mask: UnsafePointer<Float>, readiness: GradientReadiness?) {
        let a = layerActivations[layer], B = slots, H = config.hidden
        var inputGradient: UnsafeMutablePointer<Float>? = nil
        if layer > 0 {
            let belowGradient = layerActivations[layer - 1].hiddenGradient
            zeroFirstBlock(belowGradient, rows: H, columns: B, stride: stateStride)
            inputGradient = belowGradient + B
        } else if config.input.isTokens && !projecting {
            inputGradient = embeddedGradient
        }
        cellGradientScratch.update(repeating: 0, count: H * B)
        lstmBackward(layerShapes[layer], products: layerProducts[layer], inputs: inputs(of: layer),
                     weights: layerWeights[layer], grads: layerGradients[layer], mask: mask, activations: a,
                     cellGradient: cellGradientScratch, inputGradient: inputGradient,
                     gateGradientTransposed: gateGradientTransposed, clock: clock) { readiness?.progress() }
        if let inputGradient { maskGradient(site: layer, inputGradient, stride: layer > 0 ? stateStride : columnStride) }
        transpose(a.hiddenGradient, rows: H, columns: B, sourceStride: stateStride,
                  into: hiddenGradient.baseAddress! + layer * B * H)
        transpose(cellGradientScratch, rows: H, columns: B, into: cellGradient.baseAddress! + layer * B * H)
    }

    /// Fills `firstLayerInputs` from the batch's tokens or features.
    private func prepareFirstLayerInputs(_ batch: WindowBatch) {
        let columns = slots * window, stride = columnStride
        switch config.input {
        case .tokens(let vocabulary, let width):
            embeddingForward(tokens: batch.tokens.baseAddress!, mask: batch.mask.baseAddress!, columns: columns,
                             table: embeddings, vocabulary: vocabulary, width: width,
                             inputs: firstLayerInputs, stride: stride)
        case .features(let width):
            featuresForward(features: batch.features.baseAddress!, mask: batch.mask.baseAddress!, columns: columns,
                            width: width, inputs: firstLayerInputs, stride: stride)
        }
    }
}

extension ModelInput {
    var isTokens: Bool {
        if case .tokens = self { return true }
        return false
    }
}
