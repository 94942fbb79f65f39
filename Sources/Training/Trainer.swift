import Comm
import Foundation
import Layout
import Model
import Storage

/// One step as rank 0 reports it: every figure is global (summed over all ranks).
public struct StepReport: Sendable {
    public var epoch: Int
    public var step: Int
    public var stepsPerEpoch: Int
    public var globalStep: Int
    public var sums: TargetSums
    /// The learning rate the step used (after warm-up and schedule).
    public var learningRate: Double
    /// Slot-timesteps per second over all ranks, padding included.
    public var tokensPerSecond: Double
    /// Share of this step's wall time spent in the gradient allreduce (including waiting for
    /// slower ranks).
    public var allreduceShare: Double
    /// Seconds left in the run at the current pace.
    public var secondsLeft: Double
}

public struct EpochReport: Sendable {
    public var epoch: Int
    public var sums: TargetSums
    public var validation: TargetSums?
    public var seconds: Double
    /// The epoch's slot-timesteps over all ranks (padding included) over the wall seconds its steps
    /// took (those run by this process, when it resumed mid-epoch).
    public var tokensPerSecond: Double
}

public enum TrainingEvent: Sendable {
    case step(StepReport)
    case epoch(EpochReport)
    /// Rank 0 wrote a checkpoint.
    case checkpoint(path: String)
}

/// Why `run` returned.
public enum TrainingOutcome: Sendable, Equatable {
    case finished
    case reachedMaxSteps
    case stopRequested
    /// A resumed run with nothing left to do.
    case nothingToDo
    /// `--patience` epochs in a row without a lower `val_loss`.
    case stoppedEarly
}

/// The training loop: layout -> batch -> forward/backward -> one allreduce -> optimizer ->
/// checkpoint.
///
/// Every rank runs the same loop on its own slots. Gradients leave the model as sums over this
/// rank's targets; the allreduce adds every rank's sums together with the loss, target count,
/// correct count and stop votes riding in a trailer of the same buffer, and the update divides by
/// the global target count. So R ranks x B slots compute what 1 rank x R*B slots computes.
public final class Trainer {
    /// The resolved configuration: every default filled in.
    public let config: TrainingConfig
    public let header: DatasetHeader
    public let layout: StreamLayout
    public let comm: Communicator
    public let model: LSTMModel
    public let optimizer: any Optimizer
    public let metricKind: MetricKind
    /// Where a resumed run picked up, or nil for a fresh run.
    public let resumedFrom: String?
    private let batch: WindowBatch
    private let feeder: StreamFeeder
    private let validation: DatasetReader?
    private let reset: ResetPolicy
    private let checkpoints: CheckpointWriter
    private let learningRates: LearningRatePlan
    private let weightDecay: WeightDecay?

    /// Where the next step starts and the running sums of its epoch: what a checkpoint records.
    public private(set) var position: TrainingPosition

    /// Trailer slots after the gradients, summed by the same allreduce.
    private enum Trailer: Int, CaseIterable { case loss, targets, correct, stopVotes, failureVotes }

    /// Opens the dataset and builds the model, fresh or from `resume` (a checkpoint path, or
    /// "latest" in the checkpoint directory). Every rank must call it; failures are the same on
    /// every rank.
    public init(config request: TrainingConfig, comm: Communicator, resume: String? = nil) throws {
        let reader = try DatasetReader(path: request.dataset)
        header = reader.header
        self.comm = comm
        let restored = try resume.flatMap { try RestoredCheckpoint.load($0, request: request, dataset: reader, comm: comm) }
        let config = restored?.config ?? request.resolved(for: header)
        self.config = config
        resumedFrom = restored?.path
        let slotsPerRank = config.slotsPerRank!
        reset = config.shape.reset!

        guard slotsPerRank > 0 else { throw TrainingError("--slots must be positive") }
        let (globalSlots, overflow) = comm.size.multipliedReportingOverflow(by: slotsPerRank)
        guard !overflow, globalSlots <= header.rows else {
            throw TrainingError("\(comm.size) ranks x \(slotsPerRank) slots\(overflow ? "" : " = \(globalSlots) global slots"), but \(config.dataset) has only \(header.rows) rows; use --slots \(max(1, header.rows / comm.size)) or fewer")
        }
        guard config.shape.hidden! > 0, config.shape.layers! > 0, config.shape.embedding! > 0 else {
            throw TrainingError("--hidden, --layers and --embedding must be positive")
        }
        if config.patience != nil && config.validation == nil {
            throw TrainingError("--patience needs --validation: it watches val_loss")
        }
        layout = try StreamLayout(rows: header.rows, length: header.length, window: config.shape.window!, globalSlots: globalSlots)
        guard config.epochs! <= Int(Int32.max) / layout.stepsPerEpoch else {
            throw TrainingError("--epochs \(config.epochs!) of \(layout.stepsPerEpoch) steps each is more steps than a run can count; use --epochs \(Int(Int32.max) / layout.stepsPerEpoch) or fewer")
        }
        let signature = DataSignature(header)
        validation = try config.validation.map { path in
            let reader = try DatasetReader(path: path)
            try signature.check(reader.header, path: path)
            return reader
        }

        let modelConfig = config.modelConfig(for: header)
        if restored == nil {
            try modelConfig.checkMemory(slots: slotsPerRank, window: layout.window, header: header,
                                        modelConfig.sizes(slots: slotsPerRank, window: layout.window, flags: true) + " on \(config.dataset)")
        }
        let dropout = config.shape.dropout!
        guard dropout >= 0 && dropout < 1 else { throw TrainingError("--dropout must be in [0, 1), not \(dropout)") }
        model = LSTMModel(config: modelConfig, slots: slotsPerRank, window: layout.window, gradientTrailer: Trailer.allCases.count,
                          dropout: dropout > 0 ? Dropout(rate: dropout, seed: config.shape.seed!, firstGlobalSlot: comm.rank * slotsPerRank) : nil)
        learningRates = LearningRatePlan(config, stepsPerEpoch: layout.stepsPerEpoch)
        weightDecay = config.shape.weightDecay! > 0 ? WeightDecay(decay: config.shape.weightDecay!, parameterLayout: model.parameterLayout) : nil
        optimizer = makeOptimizer(config, parameterCount: model.parameterLayout.count)
        batch = WindowBatch(config: modelConfig, slots: slotsPerRank, window: layout.window)
        feeder = StreamFeeder(reader: reader, layout: layout, slots: Layout.slots(ofRank: comm.rank, slotsPerRank: slotsPerRank))
        metricKind = MetricKind(header)
        checkpoints = CheckpointWriter(config: config, header: header, fingerprint: try comm.decidedByRoot { try reader.fingerprint() })

        if let restored {
            position = restored.position
            try restored.restore(into: model, optimizer: optimizer, comm: comm)
        } else {
            position = TrainingPosition()
            model.initialize(seed: config.shape.seed!)
        }
    }

    /// Trains until the last epoch ends, `--max-steps` is reached, or any rank's
    /// `stopRequested` says so (then every rank stops after the same step). Writes checkpoints
    /// as configured and one on every stop.
    public func run(stopRequested: () -> Bool = { false }, report: (TrainingEvent) -> Void) throws -> TrainingOutcome {
        let maxSteps = config.maxSteps ?? .max
        guard position.epoch < config.epochs!, position.globalStep < maxSteps, !position.monitor.earlyStopped else { return .nothingToDo }
        let parameterCount = model.parameterLayout.count
        let gradients = UnsafeMutableBufferPointer(rebasing: model.gradients[..<parameterCount])
        let trailer = UnsafeMutableBufferPointer(rebasing: model.gradients[parameterCount...])
        let slotTimestepsPerStep = Double(layout.globalSlots * layout.window)
        var recentStepSeconds = 0.0

        var stop: TrainingOutcome?

        func saveCheckpoint(_ captured: Checkpoint?, validation: TargetSums? = nil) throws {
            guard var captured else { return }
            captured.attributes.merge(monitorAttributes()) { $1 }
            report(.checkpoint(path: try checkpoints.write(captured, globalStep: position.globalStep, validation: validation)))
        }

        while position.epoch < config.epochs! {
            let epochStart = ContinuousClock.now, firstStep = position.step
            if position.step == 0 {
                for slot in 0..<batch.slots { model.resetState(slot: slot) }
                position.epochSums = TargetSums()
            }
            while position.step < layout.stepsPerEpoch {
                let stepStart = ContinuousClock.now
                // A rank whose rows hold a bad value skips the model and votes to fail in the
                // step's allreduce, so every rank stops here together.
                var fillFailure: Error?
                do {
                    try feeder.fill(batch, step: position.step) { slot in if reset == .row { model.resetState(slot: slot) } }
                } catch {
                    if comm.size == 1 { throw error }
                    fillFailure = error
                }
                let learningRate = nextLearningRate
                let local = fillFailure == nil ? model.run(batch, backward: true, dropoutStep: position.globalStep) : WindowResult()

                trailer[Trailer.loss.rawValue] = Float(local.lossSum)
                trailer[Trailer.targets.rawValue] = Float(local.targets)
                trailer[Trailer.correct.rawValue] = Float(local.correct)
                trailer[Trailer.stopVotes.rawValue] = stopRequested() ? 1 : 0
                trailer[Trailer.failureVotes.rawValue] = fillFailure == nil ? 0 : 1
                let allreduceStart = ContinuousClock.now
                try comm.allreduceSum(model.gradients)
                let allreduceSeconds = (ContinuousClock.now - allreduceStart).seconds
                if trailer[Trailer.failureVotes.rawValue] > 0 { throw try comm.agreeOnFailure(fillFailure) }

                let sums = TargetSums(loss: Double(trailer[Trailer.loss.rawValue]), targets: Double(trailer[Trailer.targets.rawValue]), correct: Double(trailer[Trailer.correct.rawValue]))
                guard sums.loss.isFinite else {
                    throw TrainingError("the loss became \(sums.loss) at epoch \(position.epoch) step \(position.step) (global step \(position.globalStep)); no checkpoint was written for it; lower --lr or set --clip-norm", raisedByEveryRank: true)
                }
                // A step with no target anywhere (per-row targets, early windows) only warms the state.
                if sums.targets > 0 {
                    scale(gradients, by: Float(1 / sums.targets))
                    if let maxNorm = config.clipNorm { _ = clipByGlobalNorm(gradients, maxNorm: maxNorm) }
                    optimizer.learningRate = Float(learningRate)
                    weightDecay?.apply(to: model.parameters, learningRate: optimizer.learningRate)
                    optimizer.step(parameters: model.parameters, gradients: UnsafeBufferPointer(gradients))
                }
                position.epochSums += sums
                position.step += 1
                position.globalStep += 1

                let stepSeconds = (ContinuousClock.now - stepStart).seconds
                recentStepSeconds = recentStepSeconds == 0 ? stepSeconds : 0.9 * recentStepSeconds + 0.1 * stepSeconds
                let stepsLeft = min((config.epochs! - position.epoch) * layout.stepsPerEpoch - position.step, maxSteps - position.globalStep)
                report(.step(StepReport(
                    epoch: position.epoch, step: position.step - 1, stepsPerEpoch: layout.stepsPerEpoch, globalStep: position.globalStep,
                    sums: sums, learningRate: learningRate, tokensPerSecond: slotTimestepsPerStep / stepSeconds,
                    allreduceShare: allreduceSeconds / stepSeconds, secondsLeft: Double(stepsLeft) * recentStepSeconds
                )))

                stop = trailer[Trailer.stopVotes.rawValue] > 0 ? .stopRequested
                    : position.globalStep >= maxSteps ? .reachedMaxSteps : nil
                let epochEnds = position.step == layout.stepsPerEpoch
                if let stop, !epochEnds {
                    try saveCheckpoint(try checkpoints.capture(self))
                    return stop
                }
                if !epochEnds, let every = config.checkpointEvery, every > 0, position.globalStep % every == 0 {
                    try saveCheckpoint(try checkpoints.capture(self))
                }
            }
            let tokensPerSecond = Double(position.step - firstStep) * slotTimestepsPerStep / (ContinuousClock.now - epochStart).seconds
            let finished = position.epochSums
            position.finishEpoch()
            // Captured before validation, which reuses the slots' state buffers.
            let captured = try checkpoints.capture(self, finishedEpoch: finished)
            let validationSums = try validation.map { try evaluate($0) }
            monitor(validationSums ?? finished)
            report(.epoch(EpochReport(epoch: position.epoch - 1, sums: finished, validation: validationSums,
                                      seconds: (ContinuousClock.now - epochStart).seconds, tokensPerSecond: tokensPerSecond)))
            try saveCheckpoint(captured, validation: validationSums)
            if let stop { return stop }
            if position.monitor.earlyStopped { return .stoppedEarly }
        }
        return .finished
    }

    /// The rate of the next step.
    private var nextLearningRate: Double {
        learningRates.rate(at: position.globalStep, plateauRate: position.monitor.plateauRate ?? learningRates.base)
    }

    /// After an epoch (and its validation): the best monitored loss, the plateau schedule's
    /// halving, and early stopping. Every rank computes the same from the allreduced sums.
    private func monitor(_ sums: TargetSums) {
        guard !position.monitor.record(sums.meanLoss) else { return }
        if learningRates.schedule == .plateau, position.globalStep >= learningRates.warmup {
            position.monitor.plateauRate = learningRates.halved(position.monitor.plateauRate ?? learningRates.base)
        }
        if let patience = config.patience, position.monitor.epochsWithoutImprovement >= patience {
            position.monitor.earlyStopped = true
        }
    }

    /// What a checkpoint records for the schedule and early stopping to continue exactly.
    private func monitorAttributes() -> [String: AttributeValue] {
        let monitor = position.monitor
        return ["lr": .double(nextLearningRate), "best_monitored_loss": .double(monitor.best ?? .infinity),
                "epochs_without_improvement": .int(Int64(monitor.epochsWithoutImprovement)),
                "early_stopped": .int(monitor.earlyStopped ? 1 : 0)]
    }

    /// The stateful pass over a validation set in the training layout, from zero state.
    /// Uses the training model's state buffers: the next epoch starts from zero state anyway.
    private func evaluate(_ reader: DatasetReader) throws -> TargetSums {
        try Evaluation(model: model, batch: batch, reader: reader, globalSlots: layout.globalSlots, comm: comm)
            .run(assignment: .contiguous, reset: reset)
    }
}

/// Where training stands: the next step to run and the running sums of the current epoch.
public struct TrainingPosition: Codable, Sendable, Equatable {
    /// Epoch (from 0) and step within it of the next step to run.
    public var epoch = 0
    public var step = 0
    /// Steps done since training began.
    public var globalStep = 0
    public var epochSums = TargetSums()
    public var monitor = MonitorState()

    /// An epoch-end position is (e + 1, 0) with zeroed sums, as docs/checkpoints.md records it.
    mutating func finishEpoch() {
        epoch += 1
        step = 0
        epochSums = TargetSums()
    }
}

private func scale(_ values: UnsafeMutableBufferPointer<Float>, by factor: Float) {
    for i in values.indices { values[i] *= factor }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
