import Model
import Storage

public enum ResetPolicy: String, Codable, Sendable, CaseIterable {
    /// Zero a slot's state at the start of each row: rows are independent sequences.
    case row
    /// Carry state across rows, zeroing only at epoch start: rows are pieces of one long stream.
    case epoch

    /// What the dataset's `stream` attribute implies.
    public init(_ stream: StreamKind) { self = stream == .independent ? .row : .epoch }
}

public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
    case adam, sgd
    public var defaultLearningRate: Float { self == .adam ? 1e-3 : 0.01 }
}

/// Everything that defines a training run (SPEC section 4). Stored as JSON in checkpoints.
/// Optionals are "take the default from the dataset" and are resolved by `resolved(for:)`.
public struct TrainingConfig: Codable, Equatable, Sendable {
    public var dataset: String
    public var slotsPerRank = 16
    public var window: Int?
    public var epochs = 10
    public var maxSteps: Int?
    public var hidden = 128
    public var layers = 1
    public var embedding = 64
    public var optimizer = OptimizerKind.adam
    public var learningRate: Float?
    public var momentum: Float = 0
    public var clipNorm: Float?
    public var reset: ResetPolicy?
    public var seed: UInt64 = 0
    public var validation: String?
    public var log: String?

    public init(dataset: String) { self.dataset = dataset }

    /// Fills in every default that depends on the dataset, so the stored config is explicit.
    public func resolved(for header: DatasetHeader) -> TrainingConfig {
        var config = self
        config.window = window ?? header.length
        config.learningRate = learningRate ?? optimizer.defaultLearningRate
        config.reset = reset ?? ResetPolicy(header.stream)
        return config
    }

    /// The network this configuration trains on this dataset.
    public func modelConfig(for header: DatasetHeader) -> ModelConfig {
        let input: ModelInput = header.inputKind == .tokens
            ? .tokens(vocabSize: header.vocabSize, embedding: embedding)
            : .features(header.features)
        let head: Head = switch header.task {
        case .binary: .binary
        case .multiclass: .multiclass
        case .regression: .regression
        }
        return ModelConfig(input: input, hidden: hidden, layers: layers, head: head, outputs: header.targetWidth)
    }
}

public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
