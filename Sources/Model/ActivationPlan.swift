/// Where each of the model's activation buffers lies in its one arena, in floats from the arena's
/// start, decided from the configuration, slots, window and dropout: `LSTMModel.init` allocates
/// `floats` and carves the buffers at these offsets, and the memory estimate counts the same
/// `floats`. Every layer's block has the same parts, so layer l's offset is computed rather than
/// listed; the plan stays a few integers however many layers the configuration asks for.
///
/// Order in the arena: the step's block (shared by the layers, which run one at a time); per layer
/// its kernel copies, gates, hidden, cell and hidden gradient; the first layer's inputs, the embedded
/// gradient, the cell gradient scratch; logits, their gradient; the gate gradients transposed, the
/// logits' gradient transposed; the dropout masks and dropped copies.
public struct ActivationPlan: Sendable {
    /// Floats of the whole arena; `Int.max` when that does not fit in an Int (a size no machine holds).
    public let floats: Int
    /// Layer 0's shape, and that of layers 1... (inputs H instead of I).
    let firstLayer: LayerShape, upperLayer: LayerShape
    /// Dropout sites' input widths (each layer's inputs, then the head's); empty without dropout.
    let dropoutWidths: [Int]
    /// [4H, B] the products of the step being computed, rows B apart (LayerActivations.stepProduct).
    let stepProduct: Int
    /// The first layer's block; the others follow, `upperLayerFloats` each.
    let firstLayerBlock: Int
    let firstLayerFloats: Int, upperLayerFloats: Int
    /// [I, T*B] the first layer's inputs, rows `columnStride` apart.
    let firstLayerInputs: Int
    /// [E, T*B] d(loss)/d(embedded)^T (token input only; no floats otherwise), rows `columnStride` apart.
    let embeddedGradient: Int
    /// [H, B] the running d(loss)/d(c) of the layer in backward.
    let cellGradientScratch: Int
    /// [T*B, K] logits, then outputs.
    let logits: Range<Int>
    /// [T*B, K] d(lossSum)/d(logits).
    let logitGradient: Int
    /// [T*B, 4H] a layer's gate gradients transposed, rows `transposedGateStride` apart.
    let gateGradientTransposed: Int
    /// [K, T*B] the logits' gradient transposed, rows `columnStride` apart.
    let logitGradientTransposed: Int
    /// DropoutMasks' buffers (DropoutMasks.arenaSize floats), to the arena's end.
    let dropoutMasks: Int

    /// One layer's buffers, as offsets in the arena (LayerActivations has their shapes).
    struct LayerBlock {
        let kernelCopies: Int, gates: Int, hidden: Int, cell: Int, hiddenGradient: Int
    }

    public init(_ config: ModelConfig, slots: Int, window: Int, dropout: Bool) {
        let B = slots, T = window, H = config.hidden, G = 4 * H, K = config.outputs, columns = B * T
        firstLayer = LayerShape(slots: B, window: T, inputs: config.input.width, units: H)
        upperLayer = LayerShape(slots: B, window: T, inputs: H, units: H)
        let stride = firstLayer.columnStride, stateStride = firstLayer.stateStride
        let stateSize = H * stateStride
        let embeddingWidth = config.input.isTokens ? config.input.width : 0
        // Dropout sites: each layer's inputs, then the head's.
        dropoutWidths = dropout ? [config.input.width] + Array(repeating: H, count: config.layers) : []

        // Sums and the product by the layer count saturate at Int.max, so an absurd configuration gives a
        // size that the memory check refuses rather than an overflow.
        func plus(_ a: Int, _ b: Int) -> Int {
            let (sum, overflow) = a.addingReportingOverflow(b)
            return overflow ? .max : sum
        }
        func times(_ a: Int, _ b: Int) -> Int {
            let (product, overflow) = a.multipliedReportingOverflow(by: b)
            return overflow ? .max : product
        }
        let perLayer = G * columns + 3 * stateSize
        firstLayerFloats = firstLayer.kernelCopiesSize + perLayer
        upperLayerFloats = upperLayer.kernelCopiesSize + perLayer
        stepProduct = 0
        firstLayerBlock = G * B
        var next = plus(firstLayerBlock, plus(firstLayerFloats, times(config.layers - 1, upperLayerFloats)))
        func take(_ count: Int) -> Int {
            defer { next = plus(next, count) }
            return next
        }
        firstLayerInputs = take(config.input.width * stride)
        embeddedGradient = take(embeddingWidth * stride)
        cellGradientScratch = take(H * B)
        let logitsStart = take(columns * K)
        logits = logitsStart ..< plus(logitsStart, columns * K)
        logitGradient = take(columns * K)
        gateGradientTransposed = take(columns * firstLayer.transposedGateStride)
        logitGradientTransposed = take(K * stride)
        // Rows `stateStride` apart, as the outputs a dropped copy stands for: the same planned products read either.
        dropoutMasks = take(DropoutMasks.arenaSize(widths: dropoutWidths, stride: stateStride))
        floats = next
    }

    /// Layer `layer`'s buffers.
    func block(layer: Int) -> LayerBlock {
        let shape = layer == 0 ? firstLayer : upperLayer
        let start = layer == 0 ? firstLayerBlock : firstLayerBlock + firstLayerFloats + (layer - 1) * upperLayerFloats
        let gates = start + shape.kernelCopiesSize, stateSize = shape.units * shape.stateStride
        let hidden = gates + shape.gates * shape.columns
        return LayerBlock(kernelCopies: start, gates: gates, hidden: hidden, cell: hidden + stateSize,
                          hiddenGradient: hidden + 2 * stateSize)
    }

    /// Layer `layer`'s shape.
    func shape(layer: Int) -> LayerShape { layer == 0 ? firstLayer : upperLayer }
}
