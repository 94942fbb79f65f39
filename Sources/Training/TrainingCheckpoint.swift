import Comm
import Foundation
import Model
import Storage

/// Gathers a run's weights, optimizer state and every global slot's state to rank 0 and
/// writes them as a checkpoint (docs/checkpoints.md).
struct CheckpointWriter {
    let config: TrainingConfig
    let header: DatasetHeader
    /// Computed by rank 0 (it reads the whole dataset's targets) and shared with every rank.
    let fingerprint: String

    /// Collective: every rank sends its slots' state; rank 0 returns the checkpoint, the
    /// others nil. `finishedEpoch` is the closing epoch's sums at an epoch end.
    func capture(_ trainer: Trainer, finishedEpoch: TargetSums? = nil) throws -> Checkpoint? {
        let model = trainer.model, comm = trainer.comm
        let layers = model.config.layers, H = model.config.hidden
        let B = model.slots, S = B * comm.size
        var states: [String: [Float]] = [:]
        for (name, local) in [("state/h", model.hidden), ("state/c", model.cell)] {
            var whole = [Float](repeating: 0, count: comm.isRoot ? layers * S * H : 0)
            try whole.withUnsafeMutableBufferPointer { whole in
                for layer in 0..<layers {
                    let part = UnsafeBufferPointer(rebasing: local[layer * B * H ..< (layer + 1) * B * H])
                    let into = comm.isRoot ? UnsafeMutableBufferPointer(rebasing: whole[layer * S * H ..< (layer + 1) * S * H]) : whole
                    try comm.gather(part, into: into, root: 0)
                }
            }
            states[name] = whole
        }
        guard comm.isRoot else { return nil }

        var checkpoint = Checkpoint(vocab: header.vocab, targetOrigin: header.targetOrigin, normalization: header.normalization)
        for spec in model.parameterLayout.tensors {
            let range = spec.offset ..< spec.offset + spec.count
            checkpoint.tensors["model/" + spec.name] = Tensor(shape: spec.shape, values: Array(model.parameters[range]))
            for (name, buffer) in trainer.optimizer.state {
                checkpoint.tensors["optimizer/\(name)/\(spec.name)"] = Tensor(shape: spec.shape, values: Array(buffer[range]))
            }
        }
        for (name, values) in states { checkpoint.tensors[name] = Tensor(shape: [layers, S, H], values: values) }

        let position = trainer.position
        let epochSums = finishedEpoch ?? position.epochSums
        var attributes: [String: AttributeValue] = [
            "config": .string(try config.json()),
            "epoch": .int(Int64(position.epoch)),
            "step": .int(Int64(position.step)),
            "global_step": .int(Int64(position.globalStep)),
            "iterations": .int(Int64(trainer.optimizer.iterations)),
            "ranks": .int(Int64(comm.size)),
            "slots_per_rank": .int(Int64(B)),
            "task": .string(header.task.rawValue),
            "target_kind": .string(header.targetKind.rawValue),
            "loss": .double(epochSums.meanLoss),
            "epoch_loss_sum": .double(position.epochSums.loss),
            "epoch_targets": .int(Int64(position.epochSums.targets)),
            "epoch_correct": .int(Int64(position.epochSums.correct)),
            "dataset_fingerprint": .string(fingerprint),
        ]
        if header.task.isClassification { attributes["num_classes"] = .int(Int64(header.numClasses)) }
        if header.inputKind == .tokens {
            attributes["vocab_size"] = .int(Int64(header.vocabSize))
        } else {
            attributes["features"] = .int(Int64(header.features))
        }
        checkpoint.attributes = attributes
        return checkpoint
    }

    /// Rank 0: records the validation result, writes `DIR/ckpt-<global step>.h5`, keeps the
    /// newest `--keep`, and with `--keep-best` copies it to `DIR/best.h5` when its
    /// validation loss is the lowest so far. Returns the path written.
    func write(_ checkpoint: Checkpoint, globalStep: Int, validation: TargetSums?) throws -> String {
        var checkpoint = checkpoint
        if let validation {
            checkpoint.attributes["val_loss"] = .double(validation.meanLoss)
            if header.task.isClassification { checkpoint.attributes["val_accuracy"] = .double(validation.accuracy) }
        }
        let directory = config.checkpointDirectory
        let path = directory + "/" + Checkpoint.fileName(globalStep: globalStep)
        do {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw AtomicOutput.systemError("\(path): cannot create the folder \(directory)")
            }
            try checkpoint.write(to: path)
            try Checkpoint.prune(directory, keep: config.keep!)
            if config.keepBest, let validation, validation.meanLoss < (try bestValidationLoss() ?? .infinity) {
                try checkpoint.write(to: directory + "/best.h5")
            }
        } catch let error as StorageError where error.systemReason != nil {
            let intact = (try? Checkpoint.latest(in: directory)) ?? nil
            throw TrainingError("\(error); " + (intact.map { "\($0) is intact" } ?? "no earlier checkpoint was written"))
        }
        return path
    }

    private func bestValidationLoss() throws -> Double? {
        let best = config.checkpointDirectory + "/best.h5"
        guard FileManager.default.fileExists(atPath: best) else { return nil }
        guard case .double(let loss)? = try Checkpoint(path: best).attributes["val_loss"] else { return nil }
        return loss
    }
}

/// A checkpoint being resumed: read and checked by rank 0, its decisions broadcast so that every
/// rank fails or continues together, and its tensors sent to every rank.
struct RestoredCheckpoint {
    let path: String
    /// The resolved configuration of the resumed run.
    let config: TrainingConfig
    let position: TrainingPosition
    let iterations: Int
    /// Rank 0 only.
    private let checkpoint: Checkpoint?

    /// What rank 0 decides and every rank needs.
    private struct Decision: Codable {
        var path: String
        var config: TrainingConfig
        var position: TrainingPosition
        var iterations: Int
    }

    /// Returns nil when `resume` is "latest" and there is no checkpoint yet (start fresh).
    static func load(_ resume: String, request: TrainingConfig, dataset: DatasetReader, comm: Communicator) throws -> RestoredCheckpoint? {
        var checkpoint: Checkpoint?
        let decision = try comm.decidedByRoot { () -> Decision? in
            guard let path = resume == "latest" ? try Checkpoint.latest(in: request.checkpointDirectory) : resume else { return nil }
            let fingerprint = try dataset.fingerprint()  // outside: a bad dataset is not a damaged checkpoint
            var decision: Decision?
            do {
                checkpoint = try Checkpoint(path: path) { declared, shapes in
                    decision = try decide(declared, shapes: shapes, path: path, request: request, dataset: dataset,
                                          fingerprint: fingerprint, ranks: comm.size)
                }
            } catch let error as StorageError where resume == "latest" {
                throw TrainingError("\(error); " + (olderCleanCheckpoint(than: path, in: request.checkpointDirectory).map {
                    "\($0) reads cleanly: resume from it with --resume \($0)"
                } ?? "no older checkpoint in \(request.checkpointDirectory) reads cleanly"))
            }
            return decision
        }
        guard let decision else { return nil }
        return RestoredCheckpoint(path: decision.path, config: decision.config, position: decision.position, iterations: decision.iterations, checkpoint: checkpoint)
    }

    /// The newest checkpoint in `directory` older than `damaged` that reads without error.
    private static func olderCleanCheckpoint(than damaged: String, in directory: String) -> String? {
        let older = ((try? Checkpoint.newestFirst(in: directory)) ?? []).drop { $0 != damaged }.dropFirst()
        return older.first { (try? Checkpoint(path: $0)) != nil }
    }

    /// Rank 0's checks, before any tensor is read: the same dataset, a configuration the request
    /// does not contradict and that fits in memory, and tensors of the shapes it builds.
    private static func decide(_ checkpoint: Checkpoint, shapes: [String: [Int]], path: String, request: TrainingConfig,
                               dataset: DatasetReader, fingerprint: String, ranks: Int) throws -> Decision {
        guard case .string(let saved)? = checkpoint.attributes["dataset_fingerprint"], saved == fingerprint else {
            throw TrainingError("\(path) was trained on another dataset than \(dataset.path) (dataset_fingerprint differs); resume on the same data or start a new run")
        }
        let savedConfig = try checkpoint.config(path)
        _ = try checkpoint.globalSlots(path)  // both attributes in range
        let savedSlots = try checkpoint.int("slots_per_rank", path)
        guard savedConfig.slotsPerRank == savedSlots else {
            throw TrainingError("\(path): attribute slots_per_rank \(savedSlots) disagrees with its config's \(savedConfig.slotsPerRank!)")
        }
        let config = try request.resumed(from: savedConfig, savedRanks: try checkpoint.int("ranks", path), ranks: ranks)
        let modelConfig = config.modelConfig(for: dataset.header)
        let (slots, window) = (config.slotsPerRank!, min(config.shape.window!, dataset.header.length))
        try modelConfig.checkMemory(slots: slots, window: window, header: dataset.header,
                                    "\(path): its configuration (\(modelConfig.sizes(slots: slots, window: window, flags: false)))")
        let optimizerState = makeOptimizer(config, parameterCount: 0).state.map { "optimizer/\($0.name)" }
        try checkShapes(shapes, ["model"] + optimizerState, of: ParameterLayout(modelConfig), path)
        let stateShape = [config.shape.layers!, config.slotsPerRank! * ranks, config.shape.hidden!]
        for name in ["state/h", "state/c"] where shapes[name] != stateShape {
            throw TrainingError("\(path): \(name) has shape \(shapes[name]?.description ?? "none"), expected \(stateShape)")
        }
        let sums = TargetSums(loss: try checkpoint.double("epoch_loss_sum", path), targets: Double(try checkpoint.int("epoch_targets", path)),
                              correct: Double(try checkpoint.int("epoch_correct", path)))
        let position = TrainingPosition(epoch: try checkpoint.int("epoch", path), step: try checkpoint.int("step", path),
                                        globalStep: try checkpoint.int("global_step", path), epochSums: sums,
                                        monitor: try checkpoint.monitor(path, config: config, lrGiven: request.learningRate != nil))
        return Decision(path: path, config: config, position: position, iterations: try checkpoint.int("iterations", path))
    }

    /// Collective: rank 0 sends the weights and optimizer state to every rank and each slot's
    /// state to the rank that now owns it.
    func restore(into model: LSTMModel, optimizer: any Optimizer, comm: Communicator) throws {
        try Checkpoint.broadcast("model", of: checkpoint, into: model.parameters, layout: model.parameterLayout, comm: comm)
        for (name, buffer) in optimizer.state {
            try Checkpoint.broadcast("optimizer/\(name)", of: checkpoint, into: buffer, layout: model.parameterLayout, comm: comm)
        }
        optimizer.iterations = iterations

        let layers = model.config.layers, H = model.config.hidden, B = model.slots, S = B * comm.size
        for (name, local) in [("state/h", model.hidden), ("state/c", model.cell)] {
            // Shapes were checked by `decide`.
            let whole = checkpoint?.tensors[name]?.values ?? []
            try whole.withUnsafeBufferPointer { whole in
                for layer in 0..<layers {
                    let from = comm.isRoot ? UnsafeBufferPointer(rebasing: whole[layer * S * H ..< (layer + 1) * S * H]) : whole
                    try comm.scatter(from, into: UnsafeMutableBufferPointer(rebasing: local[layer * B * H ..< (layer + 1) * B * H]), root: 0)
                }
            }
        }
    }
}

extension Communicator {
    /// Runs `decide` on rank 0 alone (it reads files the others need not read) and returns its
    /// result on every rank, or throws its error on every rank: so that all ranks continue or
    /// fail together, and rank 0 alone reports.
    func decidedByRoot<Value: Codable>(_ decide: () throws -> Value) throws -> Value {
        var message = ""
        if isRoot {
            let outcome: RootOutcome<Value>
            do { outcome = .decided(try decide()) } catch { outcome = .refused("\(error)") }
            message = String(decoding: try JSONEncoder().encode(outcome), as: UTF8.self)
        }
        switch try JSONDecoder().decode(RootOutcome<Value>.self, from: Data(try broadcast(message).utf8)) {
        case .decided(let value): return value
        case .refused(let reason): throw TrainingError(reason)
        }
    }
}

private enum RootOutcome<Value: Codable>: Codable {
    case decided(Value)
    case refused(String)
}

/// Throws unless every tensor of `layout` is declared under each prefix with its shape.
func checkShapes(_ shapes: [String: [Int]], _ prefixes: [String], of layout: ParameterLayout, _ path: String) throws {
    for spec in layout.tensors {
        for name in prefixes.map({ "\($0)/\(spec.name)" }) where shapes[name] != spec.shape {
            throw TrainingError("\(path): \(name) has shape \(shapes[name]?.description ?? "none"), expected \(spec.shape)")
        }
    }
}

extension TrainingConfig {
    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    init(json: String, path: String) throws {
        do {
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            self = try decoder.decode(TrainingConfig.self, from: Data(json.utf8))
        } catch {
            throw TrainingError("\(path): attribute config is not a training configuration (\(error))")
        }
    }
}

extension Checkpoint {
    func double(_ name: String, _ path: String) throws -> Double {
        switch attributes[name] {
        case .double(let value)?: return value
        case .int(let value)?: return Double(value)
        default: throw TrainingError("\(path): attribute \(name) is missing or not a number")
        }
    }

    /// The plateau schedule's and early stopping's state (absent from checkpoints written
    /// before they existed: nothing monitored yet). The plateau rate after warm-up is the `lr`
    /// the checkpoint recorded, unless the resume gives a new `--lr`.
    func monitor(_ path: String, config: TrainingConfig, lrGiven: Bool) throws -> MonitorState {
        var monitor = MonitorState()
        if attributes["best_monitored_loss"] != nil {
            let best = try double("best_monitored_loss", path)
            monitor.best = best.isFinite ? best : nil
        }
        if attributes["epochs_without_improvement"] != nil { monitor.epochsWithoutImprovement = try int("epochs_without_improvement", path) }
        if attributes["early_stopped"] != nil { monitor.earlyStopped = try int("early_stopped", path) != 0 }
        if config.shape.lrSchedule == .plateau, !lrGiven, try int("global_step", path) >= config.shape.warmup!, attributes["lr"] != nil {
            monitor.plateauRate = try double("lr", path)
        }
        return monitor
    }

    func int(_ name: String, _ path: String) throws -> Int {
        guard case .int(let value)? = attributes[name] else { throw TrainingError("\(path): attribute \(name) is missing or not an integer") }
        return Int(value)
    }

    /// A string attribute holding one of an enumeration's raw values.
    func enumeration<Value: RawRepresentable<String>>(_ name: String, _ path: String) throws -> Value {
        guard case .string(let text)? = attributes[name], let value = Value(rawValue: text) else {
            throw TrainingError("\(path): attribute \(name) is missing or not a known value")
        }
        return value
    }

    /// S = `ranks` x `slots_per_rank` of the run that wrote it, each positive and S at most 2^40.
    func globalSlots(_ path: String) throws -> Int {
        let (ranks, slots) = (try int("ranks", path), try int("slots_per_rank", path))
        guard ranks > 0, slots > 0, slots <= (1 << 40) / ranks else {
            throw TrainingError("\(path): attributes ranks \(ranks) and slots_per_rank \(slots) are not a slot count")
        }
        return ranks * slots
    }

    /// The resolved configuration of the run that wrote it: every field a run fills in present,
    /// and sizes positive.
    func config(_ path: String) throws -> TrainingConfig {
        guard case .string(let json)? = attributes["config"] else { throw TrainingError("\(path): attribute config is missing or not a string") }
        let config = try TrainingConfig(json: json, path: path)
        let sizes = [("window", config.shape.window), ("hidden", config.shape.hidden), ("layers", config.shape.layers),
                     ("embedding", config.shape.embedding), ("slots_per_rank", config.slotsPerRank), ("epochs", config.epochs),
                     ("keep", config.keep)]
        if let (name, value) = sizes.first(where: { !($0.1.map { $0 > 0 } ?? false) }) {
            throw TrainingError("\(path): attribute config: \(name) is \(value.map { "\($0)" } ?? "missing"), expected a positive integer")
        }
        let shape = config.shape
        guard shape.reset != nil, shape.optimizer != nil, shape.momentum != nil, shape.seed != nil, config.learningRate != nil,
              (config.checkpointEvery ?? -1) >= 0 else {
            throw TrainingError("\(path): attribute config is not a complete training configuration")
        }
        return config
    }


    /// Collective: the tensors under `prefix` of rank 0's checkpoint (nil elsewhere), laid out
    /// by `layout`, into `buffer` on every rank.
    static func broadcast(_ prefix: String, of checkpoint: Checkpoint?, into buffer: UnsafeMutableBufferPointer<Float>,
                          layout: ParameterLayout, comm: Communicator) throws {
        if let checkpoint {
            for spec in layout.tensors {
                _ = UnsafeMutableBufferPointer(rebasing: buffer[spec.offset ..< spec.offset + spec.count])
                    .initialize(fromContentsOf: checkpoint.tensors["\(prefix)/\(spec.name)"]!.values)
            }
        }
        try comm.broadcast(UnsafeMutableRawBufferPointer(buffer), root: 0)
    }
}
