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

/// How the learning rate moves after warm-up (docs/commands.md has the formulas).
public enum LearningRateSchedule: String, Codable, Sendable, CaseIterable {
    /// The base rate throughout.
    case constant
    /// From the base rate down to `--min-lr` along half a cosine, by the last step of the last epoch.
    case cosine
    /// Halved (not below `--min-lr`) after each epoch whose monitored loss is not below the best so far.
    case plateau
}

/// Everything that defines a training run (docs/commands.md), stored as JSON in checkpoints.
///
/// nil means "not given": `resolved(for:)` turns it into the default, and `resumed(from:)` into
/// the checkpoint's value (except `maxSteps`, which a resume never inherits). The fields of
/// `shape` fix what the run computes: a resume refuses to change them.
public struct TrainingConfig: Codable, Equatable, Sendable {
    public struct Shape: Codable, Equatable, Sendable {
        public var window: Int?
        public var hidden: Int?
        public var layers: Int?
        public var embedding: Int?
        public var optimizer: OptimizerKind?
        public var momentum: Float?
        public var reset: ResetPolicy?
        public var seed: UInt64?
        /// Inverted dropout on the inputs of every layer and of the head.
        public var dropout: Float?
        /// Decoupled weight decay (Keras 3), not on biases.
        public var weightDecay: Float?
        public var lrSchedule: LearningRateSchedule?
        /// Warm-up steps: the rate climbs linearly to the base rate.
        public var warmup: Int?
        public var minLearningRate: Float?
        public init() {}
    }

    public var dataset: String
    public var shape = Shape()
    /// Slots per rank; the global slot count (ranks x slots) is fixed on resume.
    public var slotsPerRank: Int?
    /// The total, counted from the start of training, as in Keras.
    public var epochs: Int?
    public var maxSteps: Int?
    public var learningRate: Float?
    public var clipNorm: Float?
    public var validation: String?
    public var log: String?
    public var checkpointDirectory = "checkpoints"
    /// Write a checkpoint when `global_step % checkpointEvery == 0`; 0 = at epoch ends only.
    public var checkpointEvery: Int?
    public var keep: Int?
    public var keepBest = false
    /// With validation: stop after this many epochs in a row without a lower `val_loss`.
    public var patience: Int?

    public init(dataset: String) { self.dataset = dataset }

    /// Every default filled in, so the stored configuration says exactly what ran.
    public func resolved(for header: DatasetHeader) -> TrainingConfig {
        var config = self
        config.slotsPerRank = slotsPerRank ?? 16
        config.shape.window = shape.window ?? header.length
        config.shape.hidden = shape.hidden ?? 128
        config.shape.layers = shape.layers ?? 1
        config.shape.embedding = shape.embedding ?? 64
        config.shape.optimizer = shape.optimizer ?? .adam
        config.shape.momentum = shape.momentum ?? 0
        config.shape.reset = shape.reset ?? ResetPolicy(header.stream)
        config.shape.seed = shape.seed ?? 0
        config.shape.dropout = shape.dropout ?? 0
        config.shape.weightDecay = shape.weightDecay ?? 0
        config.shape.lrSchedule = shape.lrSchedule ?? .constant
        config.shape.warmup = shape.warmup ?? 0
        config.shape.minLearningRate = shape.minLearningRate ?? 0
        config.keepBest = keepBest || patience != nil
        config.learningRate = learningRate ?? config.shape.optimizer!.defaultLearningRate
        config.epochs = epochs ?? 10
        config.checkpointEvery = checkpointEvery ?? 0
        config.keep = keep ?? 3
        return config
    }

    /// This request continuing `saved` (a resolved configuration) on `ranks` ranks: the shape and
    /// global slot count come from `saved`, and a flag that contradicts them is refused.
    public func resumed(from saved: TrainingConfig, savedRanks: Int, ranks: Int) throws -> TrainingConfig {
        func fixed<Value: Equatable>(_ flag: String, _ mine: Value?, _ theirs: Value?) throws -> Value? {
            if let mine, mine != theirs {
                throw TrainingError("\(flag) \(mine) conflicts with the checkpoint's \(theirs.map { "\($0)" } ?? "none"); drop the flag to resume")
            }
            return theirs
        }
        var config = self
        config.shape.window = try fixed("--window", shape.window, saved.shape.window)
        config.shape.hidden = try fixed("--hidden", shape.hidden, saved.shape.hidden)
        config.shape.layers = try fixed("--layers", shape.layers, saved.shape.layers)
        config.shape.embedding = try fixed("--embedding", shape.embedding, saved.shape.embedding)
        config.shape.optimizer = try fixed("--optimizer", shape.optimizer, saved.shape.optimizer)
        config.shape.momentum = try fixed("--momentum", shape.momentum, saved.shape.momentum)
        config.shape.reset = try fixed("--reset", shape.reset, saved.shape.reset)
        config.shape.seed = try fixed("--seed", shape.seed, saved.shape.seed)
        // Checkpoints written before these flags existed trained without them.
        config.shape.dropout = try fixed("--dropout", shape.dropout, saved.shape.dropout ?? 0)
        config.shape.weightDecay = try fixed("--weight-decay", shape.weightDecay, saved.shape.weightDecay ?? 0)
        config.shape.lrSchedule = try fixed("--lr-schedule", shape.lrSchedule, saved.shape.lrSchedule ?? .constant)
        config.shape.warmup = try fixed("--warmup", shape.warmup, saved.shape.warmup ?? 0)
        config.shape.minLearningRate = try fixed("--min-lr", shape.minLearningRate, saved.shape.minLearningRate ?? 0)

        config.slotsPerRank = try fixed("--slots", slotsPerRank, try Self.slotsPerRank(sharing: savedRanks * saved.slotsPerRank!, ranks: ranks))
        config.epochs = epochs ?? saved.epochs
        config.learningRate = learningRate ?? saved.learningRate
        config.clipNorm = clipNorm ?? saved.clipNorm
        config.validation = validation ?? saved.validation
        config.log = log ?? saved.log
        config.checkpointEvery = checkpointEvery ?? saved.checkpointEvery
        config.keep = keep ?? saved.keep
        config.patience = patience ?? saved.patience
        config.keepBest = keepBest || saved.keepBest || config.patience != nil
        return config
    }

    /// A checkpoint's global slots split over `ranks`, refused when they do not split evenly.
    static func slotsPerRank(sharing globalSlots: Int, ranks: Int) throws -> Int {
        guard globalSlots % ranks == 0 else {
            throw TrainingError("the checkpoint has \(globalSlots) global slots, which \(ranks) ranks cannot share evenly; use a rank count that divides \(globalSlots)")
        }
        return globalSlots / ranks
    }

    /// The network this configuration trains on this dataset (after `resolved`).
    public func modelConfig(for header: DatasetHeader) -> ModelConfig {
        modelConfig(for: DataSignature(header))
    }

    /// The network this configuration trains on data of this signature (after `resolved`).
    func modelConfig(for data: DataSignature) -> ModelConfig {
        let input: ModelInput = data.inputKind == .tokens
            ? .tokens(vocabSize: data.vocabSize, embedding: shape.embedding!)
            : .features(data.features)
        let head: Head = switch data.task {
        case .binary: .binary
        case .multiclass: .multiclass
        case .regression: .regression
        }
        return ModelConfig(input: input, hidden: shape.hidden!, layers: shape.layers!, head: head, outputs: data.targetWidth)
    }
}

public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    /// Raised by every rank at the same point (decided from allreduced values), so the ranks
    /// can report it once and leave together instead of aborting the job.
    public let raisedByEveryRank: Bool

    public init(_ description: String, raisedByEveryRank: Bool = false) {
        self.description = description
        self.raisedByEveryRank = raisedByEveryRank
    }
}
