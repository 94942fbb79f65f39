import Comm
import Foundation
import Model
import Storage

/// Gathers a run's weights, optimizer state and every global slot's state to rank 0 and
/// writes them as a checkpoint (docs/checkpoints.md).
struct CheckpointWriter {
    let plan: TrainingPlan
    let data: DataSignature
    /// Decided by rank 0 (it reads the whole dataset's targets) and shared with every rank.
    let identity: RunIdentity

    /// Collective: every rank sends its slots' state; rank 0 returns the checkpoint, the
    /// others nil. `finishedEpoch` is the closing epoch's sums at an epoch end.
    func capture(_ trainer: Trainer, finishedEpoch: TargetSums? = nil) throws -> CapturedCheckpoint? {
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

        var tensors = states.mapValues { Tensor(shape: [layers, S, H], values: $0) }
        for spec in model.parameterLayout.tensors {
            let range = spec.offset ..< spec.offset + spec.count
            tensors["model/" + spec.name] = Tensor(shape: spec.shape, values: Array(model.parameters[range]))
            for (name, buffer) in trainer.optimizer.state {
                tensors["optimizer/\(name)/\(spec.name)"] = Tensor(shape: spec.shape, values: Array(buffer[range]))
            }
        }
        let position = trainer.position
        let record = CheckpointRecord(plan: plan, ranks: comm.size, position: position, iterations: trainer.optimizer.iterations,
                                      loss: (finishedEpoch ?? position.epochSums).meanLoss, learningRate: trainer.nextLearningRate,
                                      data: data, fingerprint: identity.fingerprint, runID: identity.folder.runID,
                                      origin: identity.origin)
        return CapturedCheckpoint(record: record, tensors: tensors)
    }

    /// Rank 0: records the validation result, writes `DIR/ckpt-<global step>.h5`, keeps the
    /// newest `--keep`, and with `--keep-best` copies it to `DIR/best.h5` when its
    /// validation loss is the lowest so far. Returns the path written.
    func write(_ captured: CapturedCheckpoint, validation: TargetSums?) throws -> String {
        var record = captured.record
        if let validation {
            record.validationLoss = validation.meanLoss
            if data.task.isClassification { record.validationAccuracy = validation.accuracy }
        }
        let checkpoint = try record.checkpoint(tensors: captured.tensors)
        let directory = plan.checkpoints.directory
        let path = directory + "/" + Checkpoint.fileName(globalStep: record.position.globalStep)
        do {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw AtomicOutput.systemError("\(path): cannot create the folder \(directory)")
            }
            try checkpoint.write(to: path)
            try Checkpoint.prune(directory, keep: plan.checkpoints.keep, belongsToRun: identity.folder.owns)
            if plan.checkpoints.keepBest, let validation, let best = try bestValidationLoss(), validation.meanLoss < best {
                try checkpoint.write(to: directory + "/best.h5")
            }
        } catch let error as StorageError where error.systemReason != nil {
            let intact = (try? Checkpoint.latest(in: directory)) ?? nil
            throw TrainingError("\(error); " + (intact.map { "\($0) is intact" } ?? "no earlier checkpoint was written"))
        }
        return path
    }

    /// The `val_loss` that a new best must beat: infinity without a `best.h5`, nil when the
    /// `best.h5` there is another run's (it is left alone).
    private func bestValidationLoss() throws -> Double? {
        let best = plan.checkpoints.directory + "/best.h5"
        guard FileManager.default.fileExists(atPath: best) else { return .infinity }
        guard identity.folder.owns(best) else { return nil }
        guard case .double(let loss)? = try Checkpoint.attribute("val_loss", of: best) else { return .infinity }
        return loss
    }
}

/// A checkpoint gathered on rank 0, before its epoch's validation result is known.
struct CapturedCheckpoint {
    var record: CheckpointRecord
    var tensors: [String: Tensor]
}

/// A checkpoint being resumed: read and checked by rank 0, its decisions broadcast so that every
/// rank fails or continues together, and its tensors sent to every rank.
struct RestoredCheckpoint {
    /// What rank 0 decides and every rank needs.
    struct Decision: Codable {
        var path: String
        /// The resumed run's plan.
        var plan: TrainingPlan {
            get { var plan = savedPlan; plan.exchange = exchange; return plan }
            set { savedPlan = newValue; exchange = newValue.exchange }
        }
        /// The plan's JSON (the checkpoint's `config`) leaves out `exchange`, a root attribute of its own.
        fileprivate var savedPlan: TrainingPlan
        fileprivate var exchange: ExchangeFormat
        var position: TrainingPosition
        var iterations: Int
        var identity: RunIdentity
    }

    let decision: Decision
    /// Rank 0 only.
    private let checkpoint: Checkpoint?

    /// Returns nil when `request.resume` is "latest" and there is no checkpoint yet (start fresh).
    static func load(_ request: TrainingRequest, dataset: DatasetReader, comm: Communicator) throws -> RestoredCheckpoint? {
        guard let resume = request.resume else { return nil }
        let directory = request.checkpointDirectory(resuming: resume)
        var checkpoint: Checkpoint?
        let decision = try comm.decidedByRoot { () -> Decision? in
            guard let path = resume == "latest" ? try Checkpoint.latest(in: directory) : resume else { return nil }
            let fingerprint = try dataset.fingerprint()  // outside: a bad dataset is not a damaged checkpoint
            var decision: Decision?
            do {
                checkpoint = try Checkpoint(path: path) { declared, shapes in
                    decision = try decide(CheckpointRecord(declared, shapes: shapes, path), shapes: shapes, path: path,
                                          request: request, dataset: dataset, fingerprint: fingerprint, ranks: comm.size)
                }
            } catch let error as StorageError where resume == "latest" {
                throw TrainingError("\(error); " + (olderCleanCheckpoint(than: path, in: directory).map {
                    "\($0) reads cleanly: resume from it with --resume \($0)"
                } ?? "no older checkpoint in \(directory) reads cleanly"))
            }
            return decision
        }
        return decision.map { RestoredCheckpoint(decision: $0, checkpoint: checkpoint) }
    }

    /// The newest checkpoint in `directory` older than `damaged` that reads without error.
    private static func olderCleanCheckpoint(than damaged: String, in directory: String) -> String? {
        let older = ((try? Checkpoint.newestFirst(in: directory)) ?? []).drop { $0 != damaged }.dropFirst()
        return older.first { (try? Checkpoint(path: $0)) != nil }
    }

    /// Rank 0's checks, before any tensor is read: the same dataset, a plan the request does not
    /// contradict and that fits in memory, and tensors of the shapes it builds.
    private static func decide(_ record: CheckpointRecord, shapes: [String: [Int]], path: String, request: TrainingRequest,
                               dataset: DatasetReader, fingerprint: String, ranks: Int) throws -> Decision {
        guard record.fingerprint == fingerprint else {
            throw TrainingError("\(path) was trained on another dataset than \(dataset.path) (dataset_fingerprint differs); resume on the same data or start a new run")
        }
        let header = dataset.header
        let plan = try TrainingPlan(resuming: record.plan, savedRanks: record.ranks, request: request, header: header, ranks: ranks)
        _ = try record.network(shapes: shapes, path: path, slots: plan.slotsPerRank, window: plan.recipe.window,
                               header: header, optimizerState: true)
        var position = record.position
        // The plateau schedule's rate is the `lr` recorded after warm-up, unless the resume gives a new `--lr`.
        if plan.recipe.lrSchedule == .plateau, request.learningRate == nil, position.globalStep >= plan.recipe.warmup {
            position.monitor.plateauRate = record.learningRate
        }
        return Decision(path: path, savedPlan: plan, exchange: plan.exchange, position: position, iterations: record.iterations,
                        identity: RunIdentity(folder: .resumed(plan.checkpoints.directory, runID: record.runID), fingerprint: fingerprint,
                                              origin: record.origin))
    }

    /// Collective: rank 0 sends the weights and optimizer state to every rank and each slot's
    /// state to the rank that now owns it.
    func restore(into model: LSTMModel, optimizer: any Optimizer, comm: Communicator) throws {
        try Checkpoint.broadcast("model", of: checkpoint, into: model.parameters, layout: model.parameterLayout, comm: comm)
        for (name, buffer) in optimizer.state {
            try Checkpoint.broadcast("optimizer/\(name)", of: checkpoint, into: buffer, layout: model.parameterLayout, comm: comm)
        }
        optimizer.iterations = decision.iterations

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
    public func decidedByRoot<Value: Codable>(_ decide: () throws -> Value) throws -> Value {
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

extension Checkpoint {
    /// Collective: the tensors under `prefix` of rank 0's checkpoint (nil elsewhere), laid out
    /// by `layout`, into `buffer` on every rank.
    public static func broadcast(_ prefix: String, of checkpoint: Checkpoint?, into buffer: UnsafeMutableBufferPointer<Float>,
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
