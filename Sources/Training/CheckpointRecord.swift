import Comm
import Foundation
import Model
import Storage

/// What a training checkpoint says beside its tensors (docs/checkpoints.md): every root
/// attribute, typed, encoded and decoded here and nowhere else. The tensors (`/model`,
/// `/optimizer`, `/state`) and the dataset's vocabulary, normalisation and target origin travel
/// beside it in Storage's `Checkpoint`.
public struct CheckpointRecord {
    /// `config`: the run's plan, as JSON (its architecture and recipe under `shape`). Its precision and
    /// exchange are also the root attributes `precision` and `exchange`, for readers that do not parse the config.
    public var plan: TrainingPlan
    /// `ranks` of the run that wrote it; `slots_per_rank` is the plan's.
    var ranks: Int
    /// `epoch` and `step` of the next step, `global_step`, the running sums `epoch_loss_sum`,
    /// `epoch_targets`, `epoch_correct`, and the monitor's `best_monitored_loss`,
    /// `epochs_without_improvement` and `early_stopped`.
    var position: TrainingPosition
    /// `iterations`: optimizer updates done (fewer than steps when some steps had no target).
    var iterations: Int
    /// `loss`: the mean loss of the epoch so far, or of the finished epoch at an epoch end.
    var loss: Double
    /// `lr`: the rate of the next step (absent from checkpoints older than the schedules).
    var learningRate: Double?
    /// `val_loss` and `val_accuracy` (classification) of the epoch that ended here.
    var validationLoss: Double?
    var validationAccuracy: Double?
    /// `task`, `target_kind`, `num_classes`, `vocab_size` or `features`, with the vocabulary,
    /// normalisation and target origin the checkpoint copies from the dataset.
    public var data: DataSignature
    /// `dataset_fingerprint`: SHA-256 of the training data (Storage's `DatasetFingerprint`).
    var fingerprint: String
    /// `run_id`: 32 hex digits drawn when the run started fresh (absent from older checkpoints).
    var runID: String?
    /// `init_from_run_id` and `init_from_step`: the checkpoint a fine-tuned run started from.
    var origin: WeightsOrigin?

    /// S: `ranks` x `slots_per_rank`.
    public var globalSlots: Int { ranks * plan.slotsPerRank }

    /// The checkpoint file's contents: these attributes and `tensors`.
    func checkpoint(tensors: [String: Tensor]) throws -> Checkpoint {
        let monitor = position.monitor
        var attributes: [String: AttributeValue] = [
            "config": .string(try plan.json()),
            "ranks": .int(Int64(ranks)),
            "slots_per_rank": .int(Int64(plan.slotsPerRank)),
            "epoch": .int(Int64(position.epoch)),
            "step": .int(Int64(position.step)),
            "global_step": .int(Int64(position.globalStep)),
            "iterations": .int(Int64(iterations)),
            "loss": .double(loss),
            "epoch_loss_sum": .double(position.epochSums.loss),
            "epoch_targets": .int(Int64(position.epochSums.targets)),
            "epoch_correct": .int(Int64(position.epochSums.correct)),
            "best_monitored_loss": .double(monitor.best ?? .infinity),
            "epochs_without_improvement": .int(Int64(monitor.epochsWithoutImprovement)),
            "early_stopped": .int(monitor.earlyStopped ? 1 : 0),
            "task": .string(data.task.rawValue),
            "target_kind": .string(data.targetKind.rawValue),
            "dataset_fingerprint": .string(fingerprint),
            "precision": .string(plan.precision.rawValue),
            "exchange": .string(plan.exchange.rawValue),
        ]
        attributes["run_id"] = runID.map { .string($0) }
        attributes["init_from_run_id"] = origin?.runID.map { .string($0) }
        attributes["init_from_step"] = origin.map { .int(Int64($0.globalStep)) }
        attributes["lr"] = learningRate.map { .double($0) }
        attributes["val_loss"] = validationLoss.map { .double($0) }
        attributes["val_accuracy"] = validationAccuracy.map { .double($0) }
        if data.task.isClassification { attributes["num_classes"] = .int(Int64(data.numClasses)) }
        if data.inputKind == .tokens {
            attributes["vocab_size"] = .int(Int64(data.vocabSize))
        } else {
            attributes["features"] = .int(Int64(data.features))
        }
        return Checkpoint(attributes: attributes, tensors: tensors, vocab: data.vocab, targetOrigin: data.targetOrigin,
                          normalization: data.normalization)
    }

}

extension CheckpointRecord {
    /// Decodes `declared` (a checkpoint's attributes and copied dataset records, before any
    /// tensor is read; `shapes` are the tensors' declared shapes), refusing a missing or
    /// malformed attribute in one line that names it.
    public init(_ declared: Checkpoint, shapes: [String: [Int]], _ path: String) throws {
        let attributes = Attributes(values: declared.attributes, path: path)
        plan = try TrainingPlan(json: try attributes.string("config"), path: path)
        ranks = try attributes.int("ranks")
        let slots = try attributes.int("slots_per_rank")
        guard ranks > 0, slots > 0, slots <= (1 << 40) / ranks else {
            throw TrainingError("\(path): attributes ranks \(ranks) and slots_per_rank \(slots) are not a slot count")
        }
        guard slots == plan.slotsPerRank else {
            throw TrainingError("\(path): attribute slots_per_rank \(slots) disagrees with its config's \(plan.slotsPerRank)")
        }
        // Absent from checkpoints written before bf16, which all trained in fp32 (so does their config).
        if let precision: Precision = try attributes.optionalEnumeration("precision"), precision != plan.precision {
            throw TrainingError("\(path): attribute precision \(precision.rawValue) disagrees with its config's \(plan.precision.rawValue)")
        }
        // Absent from checkpoints written before `--exchange`, which exchanged fp32 (so does their config).
        if let exchange: ExchangeFormat = try attributes.optionalEnumeration("exchange"), exchange != plan.exchange {
            throw TrainingError("\(path): attribute exchange \(exchange.rawValue) disagrees with its config's \(plan.exchange.rawValue)")
        }
        var monitor = MonitorState()
        if let best = try attributes.optionalDouble("best_monitored_loss") { monitor.best = best.isFinite ? best : nil }
        monitor.epochsWithoutImprovement = try attributes.optionalInt("epochs_without_improvement") ?? 0
        monitor.earlyStopped = (try attributes.optionalInt("early_stopped") ?? 0) != 0
        let sums = TargetSums(loss: try attributes.double("epoch_loss_sum"), targets: Double(try attributes.int("epoch_targets")),
                              correct: Double(try attributes.int("epoch_correct")))
        position = TrainingPosition(epoch: try attributes.int("epoch"), step: try attributes.int("step"),
                                    globalStep: try attributes.int("global_step"), epochSums: sums, monitor: monitor)
        iterations = try attributes.int("iterations")
        loss = try attributes.optionalDouble("loss") ?? .nan
        learningRate = try attributes.optionalDouble("lr")
        validationLoss = try attributes.optionalDouble("val_loss")
        validationAccuracy = try attributes.optionalDouble("val_accuracy")
        fingerprint = try attributes.optionalString("dataset_fingerprint") ?? ""
        runID = try attributes.optionalString("run_id")
        origin = try attributes.optionalInt("init_from_step").map {
            WeightsOrigin(runID: try attributes.optionalString("init_from_run_id"), globalStep: $0)
        }

        let vocabSize = try attributes.optionalInt("vocab_size") ?? 0
        let task: Task = try attributes.enumeration("task")
        guard task.hasTargets else { throw TrainingError("\(path): attribute task is '\(task.rawValue)', but a model predicts targets") }
        guard let outputs = shapes["model/dense/bias"], outputs.count == 1 else { throw TrainingError("\(path): model/dense/bias is missing or not a vector") }
        data = DataSignature(inputKind: vocabSize > 0 ? .tokens : .features, features: vocabSize > 0 ? 0 : try attributes.int("features"),
                             vocab: declared.vocab, vocabSize: vocabSize, task: task,
                             numClasses: task.isClassification ? try attributes.int("num_classes") : 0,
                             targetKind: try attributes.enumeration("target_kind"), targetWidth: outputs[0],
                             targetOrigin: declared.targetOrigin, normalization: declared.normalization)
    }

    /// The network the checkpoint holds, after checking that its weights (and with
    /// `optimizerState`, the optimizer's moments) and every slot's state have the shapes the plan
    /// builds, and that a model of `slots` x `window` fits in memory (`header`: the data it will read).
    public func network(shapes: [String: [Int]], path: String, slots: Int, window: Int, header: DatasetHeader?,
                 optimizerState: Bool = false) throws -> ModelConfig {
        let network = plan.modelConfig(for: data)
        try network.checkMemory(slots: slots, window: window, header: header,
                                "\(path): its configuration (\(network.sizes(slots: slots, window: window, flags: false)))")
        let prefixes = ["model"] + (optimizerState ? plan.recipe.optimizerStateNames.map { "optimizer/" + $0 } : [])
        for spec in ParameterLayout(network).tensors {
            for name in prefixes.map({ "\($0)/\(spec.name)" }) where shapes[name] != spec.shape {
                throw TrainingError("\(path): \(name) has shape \(shapes[name]?.description ?? "none"), expected \(spec.shape)")
            }
        }
        let stateShape = [network.layers, globalSlots, network.hidden]
        for name in ["state/h", "state/c"] where shapes[name] != stateShape {
            throw TrainingError("\(path): \(name) has shape \(shapes[name]?.description ?? "none"), expected \(stateShape)")
        }
        return network
    }
}

/// Typed reads of a checkpoint's root attributes, each failure one line naming the attribute.
private struct Attributes {
    let values: [String: AttributeValue]
    let path: String

    func int(_ name: String) throws -> Int { try required(name, optionalInt, "an integer") }
    func double(_ name: String) throws -> Double { try required(name, optionalDouble, "a number") }
    func string(_ name: String) throws -> String { try required(name, optionalString, "a string") }

    func optionalInt(_ name: String) throws -> Int? {
        switch values[name] {
        case nil: return nil
        case .int(let value)?: return Int(value)
        default: throw missing(name, "an integer")
        }
    }

    func optionalDouble(_ name: String) throws -> Double? {
        switch values[name] {
        case nil: return nil
        case .double(let value)?: return value
        case .int(let value)?: return Double(value)
        default: throw missing(name, "a number")
        }
    }

    func optionalString(_ name: String) throws -> String? {
        switch values[name] {
        case nil: return nil
        case .string(let value)?: return value
        default: throw missing(name, "a string")
        }
    }

    /// A string attribute holding one of an enumeration's raw values.
    func enumeration<Value: RawRepresentable<String>>(_ name: String) throws -> Value {
        guard let value = Value(rawValue: try string(name)) else { throw missing(name, "a known value") }
        return value
    }

    /// The same, nil when the attribute is absent.
    func optionalEnumeration<Value: RawRepresentable<String>>(_ name: String) throws -> Value? {
        guard values[name] != nil else { return nil }
        return try enumeration(name) as Value
    }

    private func required<Value>(_ name: String, _ read: (String) throws -> Value?, _ expected: String) throws -> Value {
        guard let value = try read(name) else { throw missing(name, expected) }
        return value
    }

    private func missing(_ name: String, _ expected: String) -> TrainingError {
        TrainingError("\(path): attribute \(name) is missing or not \(expected)")
    }
}

// MARK: - The `config` attribute

extension TrainingPlan: Codable {
    /// The JSON keys, snake_case as docs/checkpoints.md shows them.
    private enum Keys: String, CodingKey {
        case dataset, shape, epochs, log, tensorboard, validation, keep, patience, precision, exchange
        case slotsPerRank = "slots_per_rank", maxSteps = "max_steps", learningRate = "learning_rate", clipNorm = "clip_norm"
        case checkpointDirectory = "checkpoint_directory", checkpointEvery = "checkpoint_every", keepBest = "keep_best"
    }

    private enum ShapeKeys: String, CodingKey {
        case window, hidden, layers, embedding, optimizer, momentum, reset, seed, dropout, warmup
        case weightDecay = "weight_decay", lrSchedule = "lr_schedule", minLearningRate = "min_learning_rate"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(dataset, forKey: .dataset)
        var shape = container.nestedContainer(keyedBy: ShapeKeys.self, forKey: .shape)
        try shape.encode(recipe.window, forKey: .window)
        try shape.encode(architecture.hidden, forKey: .hidden)
        try shape.encode(architecture.layers, forKey: .layers)
        try shape.encode(architecture.embedding, forKey: .embedding)
        try shape.encode(recipe.optimizer, forKey: .optimizer)
        try shape.encode(recipe.momentum, forKey: .momentum)
        try shape.encode(recipe.reset, forKey: .reset)
        try shape.encode(recipe.seed, forKey: .seed)
        try shape.encode(recipe.dropout, forKey: .dropout)
        try shape.encode(recipe.weightDecay, forKey: .weightDecay)
        try shape.encode(recipe.lrSchedule, forKey: .lrSchedule)
        try shape.encode(recipe.warmup, forKey: .warmup)
        try shape.encode(recipe.minLearningRate, forKey: .minLearningRate)
        try container.encode(slotsPerRank, forKey: .slotsPerRank)
        try container.encode(epochs, forKey: .epochs)
        try container.encodeIfPresent(maxSteps, forKey: .maxSteps)
        try container.encode(learningRate, forKey: .learningRate)
        try container.encodeIfPresent(clipNorm, forKey: .clipNorm)
        try container.encode(precision, forKey: .precision)
        try container.encode(exchange, forKey: .exchange)
        try container.encodeIfPresent(validation, forKey: .validation)
        try container.encodeIfPresent(log, forKey: .log)
        try container.encodeIfPresent(tensorboard, forKey: .tensorboard)
        try container.encode(checkpoints.directory, forKey: .checkpointDirectory)
        try container.encode(checkpoints.every, forKey: .checkpointEvery)
        try container.encode(checkpoints.keep, forKey: .keep)
        try container.encode(checkpoints.keepBest, forKey: .keepBest)
        try container.encodeIfPresent(patience, forKey: .patience)
    }

    /// Sizes must be positive; the recipe fields added after version 1 (dropout, weight decay,
    /// schedule, warm-up, minimum rate) and the precision default to what runs before them trained with.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        let shape = try container.nestedContainer(keyedBy: ShapeKeys.self, forKey: .shape)
        func positive<Key: CodingKey>(_ key: Key, in container: KeyedDecodingContainer<Key>) throws -> Int {
            let value = try container.decode(Int.self, forKey: key)
            guard value > 0 else {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "is \(value), expected a positive integer")
            }
            return value
        }
        dataset = try container.decode(String.self, forKey: .dataset)
        architecture = Architecture(hidden: try positive(.hidden, in: shape), layers: try positive(.layers, in: shape),
                                    embedding: try positive(.embedding, in: shape))
        recipe = Recipe(window: try positive(.window, in: shape), reset: try shape.decode(ResetPolicy.self, forKey: .reset),
                        optimizer: try shape.decode(OptimizerKind.self, forKey: .optimizer),
                        momentum: try shape.decode(Float.self, forKey: .momentum), seed: try shape.decode(UInt64.self, forKey: .seed),
                        dropout: try shape.decodeIfPresent(Float.self, forKey: .dropout) ?? 0,
                        weightDecay: try shape.decodeIfPresent(Float.self, forKey: .weightDecay) ?? 0,
                        lrSchedule: try shape.decodeIfPresent(LearningRateSchedule.self, forKey: .lrSchedule) ?? .constant,
                        warmup: try shape.decodeIfPresent(Int.self, forKey: .warmup) ?? 0,
                        minLearningRate: try shape.decodeIfPresent(Float.self, forKey: .minLearningRate) ?? 0)
        slotsPerRank = try positive(.slotsPerRank, in: container)
        epochs = try positive(.epochs, in: container)
        maxSteps = try container.decodeIfPresent(Int.self, forKey: .maxSteps)
        learningRate = try container.decode(Float.self, forKey: .learningRate)
        clipNorm = try container.decodeIfPresent(Float.self, forKey: .clipNorm)
        precision = try container.decodeIfPresent(Precision.self, forKey: .precision) ?? .fp32
        exchange = try container.decodeIfPresent(ExchangeFormat.self, forKey: .exchange) ?? .fp32
        validation = try container.decodeIfPresent(String.self, forKey: .validation)
        log = try container.decodeIfPresent(String.self, forKey: .log)
        tensorboard = try container.decodeIfPresent(String.self, forKey: .tensorboard)
        let every = try container.decode(Int.self, forKey: .checkpointEvery)
        guard every >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .checkpointEvery, in: container, debugDescription: "is \(every), expected 0 or more")
        }
        checkpoints = Checkpointing(directory: try container.decode(String.self, forKey: .checkpointDirectory), every: every,
                                    keep: try positive(.keep, in: container), keepBest: try container.decode(Bool.self, forKey: .keepBest))
        patience = try container.decodeIfPresent(Int.self, forKey: .patience)
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    init(json: String, path: String) throws {
        do {
            self = try JSONDecoder().decode(TrainingPlan.self, from: Data(json.utf8))
        } catch let error as DecodingError {
            throw TrainingError("\(path): attribute config: \(Self.describe(error))")
        } catch {
            throw TrainingError("\(path): attribute config is not JSON")
        }
    }

    /// One line: which field, and what was expected there.
    private static func describe(_ error: DecodingError) -> String {
        func field(_ path: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
            let names = (path + [last].compactMap { $0 }).map(\.stringValue)
            return names.isEmpty ? "the configuration" : names.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(field(context.codingPath, key)) is missing"
        case .valueNotFound(let type, let context): return "\(field(context.codingPath)) is null, expected \(describe(type))"
        case .typeMismatch(let type, let context): return "\(field(context.codingPath)) is not \(describe(type))"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "not JSON" }
            // Ours say what they expected; Foundation's are about an enumeration's raw value.
            let ours = context.debugDescription.hasPrefix("is ")
            return "\(field(context.codingPath)) " + (ours ? context.debugDescription : "is not a known value")
        @unknown default: return "not a training configuration"
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is UInt64.Type: "an integer"
        case is Float.Type: "a number"
        default: "an object"
        }
    }
}
