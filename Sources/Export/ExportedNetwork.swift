import Model
import Storage
import Inference

/// One LSTM layer's weights as the checkpoint stores them (Keras' layout, gates i, f, c, o).
struct LSTMWeights {
    /// [I, 4H]
    var kernel: Tensor
    /// [H, 4H]
    var recurrentKernel: Tensor
    /// [4H]
    var bias: Tensor
}

/// What every export format is made of: a checkpoint's weights and slot states, read once and
/// checked (shapes, configuration) by `SavedNetwork`.
struct ExportedNetwork {
    let config: ModelConfig
    /// S: the slot states are `[layers, S, H]`.
    let globalSlots: Int
    /// [V, E], token inputs only.
    let embedding: Tensor?
    let layers: [LSTMWeights]
    /// [H, K]
    let denseKernel: Tensor
    /// [K]
    let denseBias: Tensor
    /// `[layers, S, H]` each.
    let stateH: Tensor, stateC: Tensor
    /// Feature inputs' mean and standard deviation [F] when the dataset was normalised: the
    /// weights read z units, exported models read original units.
    let inputScaling: (mean: [Double], std: [Double])?
    /// Regression targets' mean and standard deviation [K] when normalised: the head predicts z
    /// units, exported models predict original units.
    let outputScaling: (mean: [Double], std: [Double])?

    /// Throws when the checkpoint's `/normalization` does not fit the model: F input statistics
    /// for feature inputs (none for tokens), K target statistics for regression (none otherwise).
    init(_ network: SavedNetwork) throws {
        config = network.modelConfig
        globalSlots = network.globalSlots
        embedding = network.inputKind == .tokens ? network.tensor("embedding/embeddings") : nil
        layers = (0 ..< config.layers).map { layer in
            LSTMWeights(kernel: network.tensor("lstm_\(layer)/kernel"),
                        recurrentKernel: network.tensor("lstm_\(layer)/recurrent_kernel"),
                        bias: network.tensor("lstm_\(layer)/bias"))
        }
        denseKernel = network.tensor("dense/kernel")
        denseBias = network.tensor("dense/bias")
        stateH = network.tensor("state/h")
        stateC = network.tensor("state/c")
        let statistics = network.normalization
        inputScaling = statistics.flatMap { $0.inputsMean.isEmpty ? nil : ($0.inputsMean, $0.inputsStd) }
        outputScaling = statistics.flatMap { $0.targetsMean.isEmpty ? nil : ($0.targetsMean, $0.targetsStd) }
        let features = if case .features(let F) = config.input { F } else { 0 }
        let targets = config.head == .regression ? config.outputs : 0
        if let statistics, statistics.inputsMean.count != features || statistics.targetsMean.count != targets {
            throw ExportError("\(network.path): /normalization holds \(statistics.inputsMean.count) input and \(statistics.targetsMean.count) target statistics, but the model reads \(features) features and predicts \(targets) regression values")
        }
    }

    var hidden: Int { config.hidden }
    var outputs: Int { config.outputs }
}

extension Tensor {
    /// A vector of float64 statistics, rounded to float32.
    init(_ vector: [Double]) {
        self.init(shape: [vector.count], values: vector.map { Float($0) })
    }

    /// The transpose of a matrix: [rows, columns] -> [columns, rows].
    func transposed() -> Tensor {
        precondition(shape.count == 2, "only a matrix has a transpose")
        let rows = shape[0], columns = shape[1]
        var out = [Float](repeating: 0, count: values.count)
        for r in 0 ..< rows {
            for c in 0 ..< columns { out[c * rows + r] = values[r * columns + c] }
        }
        return Tensor(shape: [columns, rows], values: out)
    }

    /// The values as little-endian bytes (safetensors, ONNX raw_data).
    var littleEndianBytes: [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(values.count * 4)
        for value in values {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }
}
