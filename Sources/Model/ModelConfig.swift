/// What feeds the first LSTM layer.
public enum ModelInput: Codable, Equatable, Sendable {
    /// Token ids `0 ..< vocabSize`, looked up in an embedding table of width `embedding`.
    case tokens(vocabSize: Int, embedding: Int)
    /// `F` float features per timestep.
    case features(Int)

    /// Width of the first LSTM layer's input.
    public var width: Int {
        switch self {
        case .tokens(_, let embedding): return embedding
        case .features(let count): return count
        }
    }
}

/// The output layer and its loss.
public enum Head: String, Codable, Sendable {
    /// One sigmoid output, binary cross-entropy.
    case binary
    /// Softmax over `outputs` classes, cross-entropy.
    case multiclass
    /// `outputs` linear values, mean squared error over them.
    case regression
}

public struct ModelConfig: Codable, Equatable, Sendable {
    public var input: ModelInput
    public var hidden: Int
    public var layers: Int
    public var head: Head
    /// K: 1 for binary, the class count for multiclass, the target width for regression.
    public var outputs: Int

    public init(input: ModelInput, hidden: Int, layers: Int, head: Head, outputs: Int) {
        self.input = input
        self.hidden = hidden
        self.layers = layers
        self.head = head
        self.outputs = outputs
    }
}

/// One named tensor inside the flat parameter buffer, row-major.
public struct TensorSpec: Sendable {
    /// The checkpoint path under `/model`, e.g. `lstm_0/kernel`.
    public let name: String
    public let shape: [Int]
    /// First element in the flat buffer.
    public let offset: Int
    public var count: Int

    init(name: String, shape: [Int], offset: Int) {
        self.name = name
        self.shape = shape
        self.offset = offset
        self.count = shape.reduce(1, *)
    }
}

/// Where every tensor lives in the one parameter buffer (the same offsets serve gradients and
/// optimizer moments). Order: embedding, then per layer kernel, recurrent kernel, bias, then dense.
public struct ParameterLayout: Sendable {
    public let tensors: [TensorSpec]
    public let count: Int

    public init(_ config: ModelConfig) {
        precondition(config.hidden > 0 && config.layers > 0 && config.outputs > 0 && config.input.width > 0,
                     "model sizes must be positive")
        let gates = 4 * config.hidden
        var shapes: [(String, [Int])] = []
        if case .tokens(let vocabulary, let embedding) = config.input {
            shapes.append(("embedding/embeddings", [vocabulary, embedding]))
        }
        for layer in 0 ..< config.layers {
            let inputWidth = layer == 0 ? config.input.width : config.hidden
            shapes.append(("lstm_\(layer)/kernel", [inputWidth, gates]))
            shapes.append(("lstm_\(layer)/recurrent_kernel", [config.hidden, gates]))
            shapes.append(("lstm_\(layer)/bias", [gates]))
        }
        shapes.append(("dense/kernel", [config.hidden, config.outputs]))
        shapes.append(("dense/bias", [config.outputs]))

        var tensors: [TensorSpec] = []
        var offset = 0
        for (name, shape) in shapes {
            let spec = TensorSpec(name: name, shape: shape, offset: offset)
            tensors.append(spec)
            offset += spec.count
        }
        self.tensors = tensors
        self.count = offset
    }

    public subscript(name: String) -> TensorSpec? { tensors.first { $0.name == name } }
}
