import Comm
import Foundation
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

/// What the user asked of `train`: each flag as given, nil when it was not (docs/commands.md).
/// `TrainingPlan` turns it into what runs.
public struct TrainingRequest: Sendable {
    public var dataset: String
    public var resume: String?
    /// Fine-tune: start from this checkpoint's weights.
    public var initFrom: String?
    // The network.
    public var hidden: Int?
    public var layers: Int?
    public var embedding: Int?
    // The recipe.
    public var window: Int?
    public var reset: ResetPolicy?
    public var optimizer: OptimizerKind?
    public var momentum: Float?
    public var seed: UInt64?
    public var dropout: Float?
    public var weightDecay: Float?
    public var lrSchedule: LearningRateSchedule?
    public var warmup: Int?
    public var minLearningRate: Float?
    // What a resume may change.
    public var slotsPerRank: Int?
    public var epochs: Int?
    public var maxSteps: Int?
    public var learningRate: Float?
    public var clipNorm: Float?
    /// The products' arithmetic; a resume may change it.
    public var precision: Precision?
    public var exchange: ExchangeFormat?
    public var validation: String?
    public var log: String?
    public var tensorboard: String?
    public var checkpointDirectory: String?
    public var checkpointEvery: Int?
    public var keep: Int?
    public var keepBest = false
    public var patience: Int?

    public init(dataset: String) { self.dataset = dataset }

    /// `--validation none`: a resume stops validating (and with it `--keep-best` and `--patience`).
    public static let noValidation = "none"

    /// `--checkpoint-dir`, or by default "checkpoints", or the folder of `--resume PATH`.
    func checkpointDirectory(resuming resume: String?) -> String {
        if let checkpointDirectory { return checkpointDirectory }
        guard let resume, resume != "latest" else { return "checkpoints" }
        let folder = (resume as NSString).deletingLastPathComponent
        return folder.isEmpty ? "." : folder
    }

    /// Refuses values no dataset or checkpoint could make right.
    func validate() throws {
        func positive(_ value: Int?, _ flag: String) throws {
            if let value, value <= 0 { throw TrainingError("\(flag) must be at least 1, got \(value)") }
        }
        try positive(slotsPerRank, "--slots")
        try positive(window, "--window")
        try positive(epochs, "--epochs")
        try positive(maxSteps, "--max-steps")
        try positive(hidden, "--hidden")
        try positive(layers, "--layers")
        try positive(embedding, "--embedding")
        try positive(keep, "--keep")
        try positive(patience, "--patience")
        if let dropout, !(0..<1).contains(dropout) { throw TrainingError("--dropout must be in [0, 1), got \(dropout)") }
        if let weightDecay, !(weightDecay >= 0) { throw TrainingError("--weight-decay must be zero or positive") }
        if let warmup, warmup < 0 { throw TrainingError("--warmup must be 0 or more") }
        if let minLearningRate, !(minLearningRate >= 0) { throw TrainingError("--min-lr must be zero or positive") }
        if let minLearningRate, let learningRate, minLearningRate > learningRate {
            throw TrainingError("--min-lr \(minLearningRate) is above --lr \(learningRate)")
        }
        if patience != nil, validation == nil, resume == nil { throw TrainingError("--patience needs --validation: it watches val_loss") }
        if let checkpointEvery, checkpointEvery < 0 { throw TrainingError("--checkpoint-every must be 0 or more") }
        if let clipNorm, !(clipNorm > 0 && clipNorm.isFinite) { throw TrainingError("--clip-norm must be a positive number") }
        if let learningRate, !(learningRate >= 0 && learningRate.isFinite) { throw TrainingError("--lr must be zero or a positive number") }
        if let momentum, !(0..<1).contains(momentum) { throw TrainingError("--momentum must be in [0, 1)") }
        if keepBest, validation == nil, resume == nil { throw TrainingError("--keep-best needs --validation") }
        if initFrom != nil, resume != nil {
            throw TrainingError("--init-from starts a new run and --resume continues one: give one of them")
        }
        if validation == Self.noValidation, keepBest || patience != nil {
            throw TrainingError("--validation none turns off --keep-best and --patience: drop them")
        }
    }
}

/// A training run as it runs: every default, resume rule and dataset-dependent value decided
/// once, from a `TrainingRequest` and the dataset (and the checkpoint it resumes). Checkpoints
/// store it as their `config` attribute (docs/checkpoints.md), its architecture and recipe under
/// `shape`: the part a resume may not change. Optionals are only where absence is a setting.
public struct TrainingPlan: Sendable, Equatable {
    /// The network's size.
    public struct Architecture: Codable, Sendable, Equatable {
        public var hidden: Int
        public var layers: Int
        /// Embedding width (token inputs only).
        public var embedding: Int
    }

    /// How the network is trained.
    public struct Recipe: Sendable, Equatable {
        /// Timesteps per window (truncated BPTT length), at most the training data's row length.
        public var window: Int
        public var reset: ResetPolicy
        public var optimizer: OptimizerKind
        public var momentum: Float
        /// Of the weight initialisation and the dropout masks.
        public var seed: UInt64
        /// Inverted dropout on the inputs of every layer and of the head.
        public var dropout: Float
        /// Decoupled weight decay (Keras 3), not on biases.
        public var weightDecay: Float
        public var lrSchedule: LearningRateSchedule
        /// Warm-up steps: the rate climbs linearly to the base rate.
        public var warmup: Int
        public var minLearningRate: Float

        /// The window over data of rows `length` long: inference reads shorter rows in one window.
        public func window(forRowLength length: Int) -> Int { min(window, length) }
    }

    public struct Checkpointing: Sendable, Equatable {
        public var directory: String
        /// Write a checkpoint when `global_step % every == 0`; 0 = at epoch ends only.
        public var every: Int
        /// Step checkpoints kept.
        public var keep: Int
        /// Keep `best.h5`, the checkpoint with the lowest `val_loss`.
        public var keepBest: Bool
    }

    public var dataset: String
    public var architecture: Architecture
    public var recipe: Recipe
    /// Slots per rank; the global slot count (ranks x slots) is fixed on resume.
    public var slotsPerRank: Int
    /// The total, counted from the start of training, as in Keras.
    public var epochs: Int
    /// Stop at this global step (never inherited by a resume).
    public var maxSteps: Int?
    public var learningRate: Float
    /// Clip gradients to this global norm.
    public var clipNorm: Float?
    /// The products' arithmetic (weights, gradients, moments and state are fp32 whatever it is); also the
    /// checkpoint's root attribute `precision`.
    public var precision: Precision
    /// How gradients cross the network; also the checkpoint's root attribute `exchange`.
    public var exchange: ExchangeFormat
    public var validation: String?
    public var log: String?
    /// `--tensorboard DIR`: TensorBoard event files, written by rank 0.
    public var tensorboard: String?
    public var checkpoints: Checkpointing
    /// With validation: stop after this many epochs in a row without a lower `val_loss`.
    public var patience: Int?

    /// A fresh run of `request` on `header` with `ranks` ranks; with `--init-from`, of the
    /// network size of the checkpoint it starts from (`initial`), which a flag may not contradict.
    init(fresh request: TrainingRequest, header: DatasetHeader, ranks: Int, initial: Architecture? = nil) throws {
        try request.validate()
        let optimizer = request.optimizer ?? .adam
        dataset = request.dataset
        if let initial {
            func fixed(_ flag: String, _ mine: Int?, _ theirs: Int) throws -> Int {
                guard let mine, mine != theirs else { return theirs }
                throw TrainingError("\(flag) \(mine) conflicts with --init-from's \(theirs): the network's size comes from the checkpoint; drop the flag")
            }
            architecture = Architecture(hidden: try fixed("--hidden", request.hidden, initial.hidden),
                                        layers: try fixed("--layers", request.layers, initial.layers),
                                        embedding: try fixed("--embedding", request.embedding, initial.embedding))
        } else {
            architecture = Architecture(hidden: request.hidden ?? 128, layers: request.layers ?? 1, embedding: request.embedding ?? 64)
        }
        recipe = Recipe(window: request.window ?? header.length, reset: request.reset ?? ResetPolicy(header.stream),
                        optimizer: optimizer, momentum: request.momentum ?? 0, seed: request.seed ?? 0,
                        dropout: request.dropout ?? 0, weightDecay: request.weightDecay ?? 0,
                        lrSchedule: request.lrSchedule ?? .constant, warmup: request.warmup ?? 0,
                        minLearningRate: request.minLearningRate ?? 0)
        slotsPerRank = request.slotsPerRank ?? 16
        epochs = request.epochs ?? 10
        maxSteps = request.maxSteps
        learningRate = request.learningRate ?? optimizer.defaultLearningRate
        clipNorm = request.clipNorm
        precision = request.precision ?? .fp32
        exchange = request.exchange ?? .fp32
        validation = request.validation == TrainingRequest.noValidation ? nil : request.validation
        log = request.log
        tensorboard = request.tensorboard
        checkpoints = Checkpointing(directory: request.checkpointDirectory(resuming: nil), every: request.checkpointEvery ?? 0,
                                    keep: request.keep ?? 3, keepBest: request.keepBest || request.patience != nil)
        patience = request.patience
        try check(header, ranks: ranks)
    }

    /// `request` continuing the run planned by `saved`, whose `savedRanks` ranks wrote its
    /// checkpoint, on `ranks` ranks: the architecture, recipe and global slot count come from
    /// `saved` and a flag that contradicts them is refused; every other flag not given is `saved`'s
    /// (`--max-steps` excepted).
    init(resuming saved: TrainingPlan, savedRanks: Int, request: TrainingRequest, header: DatasetHeader, ranks: Int) throws {
        try request.validate()
        func fixed<Value: Equatable>(_ flag: String, _ mine: Value?, _ theirs: Value) throws -> Value {
            if let mine, mine != theirs {
                throw TrainingError("\(flag) \(mine) conflicts with the checkpoint's \(theirs); drop the flag to resume")
            }
            return theirs
        }
        let (old, recipe) = (saved.architecture, saved.recipe)
        dataset = request.dataset
        architecture = Architecture(hidden: try fixed("--hidden", request.hidden, old.hidden),
                                    layers: try fixed("--layers", request.layers, old.layers),
                                    embedding: try fixed("--embedding", request.embedding, old.embedding))
        self.recipe = Recipe(
            window: try fixed("--window", request.window, recipe.window), reset: try fixed("--reset", request.reset, recipe.reset),
            optimizer: try fixed("--optimizer", request.optimizer, recipe.optimizer),
            momentum: try fixed("--momentum", request.momentum, recipe.momentum), seed: try fixed("--seed", request.seed, recipe.seed),
            dropout: try fixed("--dropout", request.dropout, recipe.dropout),
            weightDecay: try fixed("--weight-decay", request.weightDecay, recipe.weightDecay),
            lrSchedule: try fixed("--lr-schedule", request.lrSchedule, recipe.lrSchedule),
            warmup: try fixed("--warmup", request.warmup, recipe.warmup),
            minLearningRate: try fixed("--min-lr", request.minLearningRate, recipe.minLearningRate))
        slotsPerRank = try fixed("--slots", request.slotsPerRank, try Self.slotsPerRank(sharing: savedRanks * saved.slotsPerRank, ranks: ranks))
        epochs = request.epochs ?? saved.epochs
        maxSteps = request.maxSteps
        learningRate = request.learningRate ?? saved.learningRate
        clipNorm = request.clipNorm ?? saved.clipNorm
        precision = request.precision ?? saved.precision
        exchange = request.exchange ?? saved.exchange
        log = request.log ?? saved.log
        tensorboard = request.tensorboard ?? saved.tensorboard
        let validates = request.validation != TrainingRequest.noValidation
        validation = validates ? request.validation ?? saved.validation : nil
        patience = validates ? request.patience ?? saved.patience : nil
        checkpoints = Checkpointing(directory: request.checkpointDirectory(resuming: request.resume),
                                    every: request.checkpointEvery ?? saved.checkpoints.every, keep: request.keep ?? saved.checkpoints.keep,
                                    keepBest: validates && (request.keepBest || saved.checkpoints.keepBest || patience != nil))
        try check(header, ranks: ranks)
    }

    /// The checks that need the dataset and the rank count.
    private func check(_ header: DatasetHeader, ranks: Int) throws {
        let (globalSlots, overflow) = ranks.multipliedReportingOverflow(by: slotsPerRank)
        guard !overflow, globalSlots <= header.rows else {
            throw TrainingError("\(ranks) ranks x \(slotsPerRank) slots\(overflow ? "" : " = \(globalSlots) global slots"), but \(dataset) has only \(header.rows) rows; use --slots \(max(1, header.rows / ranks)) or fewer")
        }
        if patience != nil && validation == nil {
            throw TrainingError("--patience needs --validation: it watches val_loss")
        }
    }

    /// A checkpoint's global slots split over `ranks`, refused when they do not split evenly.
    public static func slotsPerRank(sharing globalSlots: Int, ranks: Int) throws -> Int {
        guard globalSlots % ranks == 0 else {
            throw TrainingError("the checkpoint has \(globalSlots) global slots, which \(ranks) ranks cannot share evenly; use a rank count that divides \(globalSlots)")
        }
        return globalSlots / ranks
    }

    /// The network this plan trains on data of this signature.
    public func modelConfig(for data: DataSignature) -> ModelConfig {
        let input: ModelInput = data.inputKind == .tokens
            ? .tokens(vocabSize: data.vocabSize, embedding: architecture.embedding)
            : .features(data.features)
        let head: Head = switch data.task {
        case .binary: .binary
        case .multiclass: .multiclass
        case .regression, .unlabelled: .regression  // never unlabelled: train refuses such data, checkpoints such a task
        }
        return ModelConfig(input: input, hidden: architecture.hidden, layers: architecture.layers, head: head, outputs: data.targetWidth)
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
