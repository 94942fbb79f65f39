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
    /// Share of this step's wall time spent waiting for the gradients' exchange after backward
    /// ended (including waiting for slower ranks): the exposed communication, not the overlapped.
    public var allreduceShare: Double
    /// That wait in seconds.
    public var allreduceSeconds: Double
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

/// The training loop: layout -> batch -> forward/backward -> one allreduce -> update ->
/// checkpoint.
///
/// Every rank runs the same loop on its own slots. Gradients leave the model as sums over this
/// rank's targets; the allreduce adds every rank's sums together with the loss, target count,
/// correct count and stop votes riding in a trailer of the same buffer, and the update divides by
/// the global target count. So R ranks x B slots compute what 1 rank x R*B slots computes.
/// On several ranks the exchange runs in buckets while backward still works (StepExchange): the
/// trailer as soon as forward ends, each part of the gradient as soon as backward finishes it, and
/// the update takes each bucket as it lands; the sums, and so the results, are the same.
public final class Trainer {
    public let plan: TrainingPlan
    public let header: DatasetHeader
    public let layout: StreamLayout
    public let comm: Communicator
    public let model: LSTMModel
    public let optimizer: any Optimizer
    public let metricKind: MetricKind
    /// Where a resumed run picked up, or nil for a fresh run.
    public let resumedFrom: String?
    /// The checkpoint whose weights a fine-tuned run (`--init-from`) started from.
    public let initializedFrom: String?
    /// The precision the resumed checkpoint was trained in (the plan's may differ: `--precision` on resume).
    public let resumedPrecision: Precision?
    private let batch: WindowBatch
    private let feeder: StreamFeeder
    private let validation: DatasetReader?
    private let checkpoints: CheckpointWriter
    private let learningRates: LearningRatePlan
    private let update: ParameterUpdate
    /// The gradients' exchange in buckets overlapped with backward; nil on one rank.
    private let exchange: StepExchange?

    /// Where the next step starts and the running sums of its epoch: what a checkpoint records.
    public private(set) var position: TrainingPosition

    /// Opens the dataset, resolves the plan (validating every flag) and builds the model, fresh
    /// or from `request.resume` (a checkpoint path, or "latest" in the checkpoint directory).
    /// Every rank must call it; failures are the same on every rank.
    public init(request: TrainingRequest, comm: Communicator) throws {
        // Every rank's CPU must run the products asked for; refused before anything is read.
        try comm.requireOnEveryRank { try request.precision?.check() }
        let reader = try DatasetReader(path: request.dataset)
        try DataSignature.requireTargets(reader.header, path: request.dataset, for: "train")
        header = reader.header
        self.comm = comm
        let restored = try RestoredCheckpoint.load(request, dataset: reader, comm: comm)
        let initial = try request.initFrom.map { try InitialWeights.load($0, dataset: reader, comm: comm) }
        let plan = try restored?.decision.plan
            ?? TrainingPlan(fresh: request, header: header, ranks: comm.size, initial: initial?.decision.architecture)
        self.plan = plan
        resumedFrom = restored?.decision.path
        resumedPrecision = restored?.decision.savedPrecision
        initializedFrom = initial?.decision.path
        if let restored, request.precision == nil {
            try comm.requireOnEveryRank {
                do { try plan.precision.check() } catch {
                    throw TrainingError("\(restored.decision.path) was trained with --precision \(plan.precision.rawValue), which a resume keeps unless given: \(error)")
                }
            }
        }
        // Rank 0 alone reads the folder and the dataset's fingerprint (a resume has both already).
        let identity = try restored?.decision.identity ?? comm.decidedByRoot {
            RunIdentity(folder: try RunFolder.fresh(plan.checkpoints.directory), fingerprint: try reader.fingerprint(),
                        origin: initial?.decision.origin)
        }
        let slotsPerRank = plan.slotsPerRank
        layout = try StreamLayout(rows: header.rows, length: header.length, window: plan.recipe.window, globalSlots: comm.size * slotsPerRank)
        guard plan.epochs <= Int(Int32.max) / layout.stepsPerEpoch else {
            throw TrainingError("--epochs \(plan.epochs) of \(layout.stepsPerEpoch) steps each is more steps than a run can count; use --epochs \(Int(Int32.max) / layout.stepsPerEpoch) or fewer")
        }
        let data = DataSignature(header)
        validation = try plan.validation.map { path in
            let reader = try DatasetReader(path: path)
            try data.check(reader.header, path: path, for: "train --validation")
            return reader
        }

        let modelConfig = plan.modelConfig(for: data)
        if restored == nil {
            try modelConfig.checkMemory(slots: slotsPerRank, window: layout.window, header: header,
                                        modelConfig.sizes(slots: slotsPerRank, window: layout.window, flags: true) + " on \(plan.dataset)")
        }
        let recipe = plan.recipe
        model = LSTMModel(config: modelConfig, slots: slotsPerRank, window: layout.window, gradientTrailer: GradientTrailer.count,
                          dropout: recipe.dropout > 0 ? Dropout(rate: recipe.dropout, seed: recipe.seed, firstGlobalSlot: comm.rank * slotsPerRank) : nil,
                          precision: plan.precision)
        learningRates = LearningRatePlan(plan, stepsPerEpoch: layout.stepsPerEpoch)
        optimizer = makeOptimizer(plan, parameterCount: model.parameterLayout.count)
        update = ParameterUpdate(optimizer: optimizer, clipNorm: plan.clipNorm,
                                 weightDecay: recipe.weightDecay > 0 ? WeightDecay(decay: recipe.weightDecay, parameterLayout: model.parameterLayout) : nil)
        exchange = try StepExchange.make(comm: comm, model: model, format: plan.exchange)
        batch = WindowBatch(config: modelConfig, slots: slotsPerRank, window: layout.window)
        feeder = StreamFeeder(reader: reader, layout: layout, slots: Layout.slots(ofRank: comm.rank, slotsPerRank: slotsPerRank))
        metricKind = MetricKind(header)
        checkpoints = CheckpointWriter(plan: plan, data: data, identity: identity)

        if let restored {
            position = restored.decision.position
            try restored.restore(into: model, optimizer: optimizer, comm: comm)
        } else {
            position = TrainingPosition()
            if let initial { try initial.restore(into: model, comm: comm) } else { model.initialize(seed: recipe.seed) }
        }
    }

    /// Trains until the last epoch ends, `--max-steps` is reached, or any rank's
    /// `stopRequested` says so (then every rank stops after the same step). Writes checkpoints
    /// as configured and one on every stop.
    public func run(stopRequested: () -> Bool = { false }, report: (TrainingEvent) -> Void) throws -> TrainingOutcome {
        let maxSteps = plan.maxSteps ?? .max
        guard position.epoch < plan.epochs, position.globalStep < maxSteps, !position.monitor.earlyStopped else { return .nothingToDo }
        var pace = StepPace()
        while position.epoch < plan.epochs {
            let epochStart = ContinuousClock.now, firstStep = position.step
            if position.step == 0 {
                for slot in 0..<batch.slots { model.resetState(slot: slot) }
                position.epochSums = TargetSums()
            }
            var stop: TrainingOutcome?
            while position.step < layout.stepsPerEpoch {
                let stopVoted = try step(stopRequested: stopRequested(), pace: &pace, report: report)
                stop = stopVoted ? .stopRequested : position.globalStep >= maxSteps ? .reachedMaxSteps : nil
                let epochEnds = position.step == layout.stepsPerEpoch
                if let stop, !epochEnds {
                    try save(try checkpoints.capture(self), report: report)
                    return stop
                }
                if !epochEnds, plan.checkpoints.every > 0, position.globalStep % plan.checkpoints.every == 0 {
                    try save(try checkpoints.capture(self), report: report)
                }
            }
            let stepsRun = position.step - firstStep
            try endEpoch(seconds: (ContinuousClock.now - epochStart).seconds, stepsRun: stepsRun, report: report)
            if let stop { return stop }
            if position.monitor.earlyStopped { return .stoppedEarly }
        }
        return .finished
    }

    /// One step on every rank: fill the window, forward and backward, the allreduce, the update.
    /// Returns whether any rank asked to stop.
    private func step(stopRequested: Bool, pace: inout StepPace, report: (TrainingEvent) -> Void) throws -> Bool {
        let stepStart = ContinuousClock.now
        // A rank whose rows hold a bad value skips the model and votes to fail in the
        // step's allreduce, so every rank stops here together.
        var fillFailure: Error?
        do {
            try feeder.fill(batch, step: position.step) { slot in if plan.recipe.reset == .row { model.resetState(slot: slot) } }
        } catch {
            if comm.size == 1 { throw error }
            fillFailure = error
        }
        let learningRate = nextLearningRate
        exchange?.beginStep(stopVote: stopRequested, failureVote: fillFailure != nil)
        let local = fillFailure == nil
            ? model.run(batch, backward: true, dropoutStep: position.globalStep, readiness: exchange?.overlaps == true ? exchange : nil)
            : WindowResult()

        let parameterCount = model.parameterLayout.count
        let gradients = UnsafeMutableBufferPointer(rebasing: model.gradients[..<parameterCount])
        let global: GradientTrailer.Global
        var allreduceSeconds = 0.0
        if let exchange {
            global = try exchange.afterBackward(local, ran: fillFailure == nil)
        } else {
            let slots = UnsafeMutableBufferPointer(rebasing: model.gradients[parameterCount...])
            GradientTrailer.write(local, stopVote: stopRequested, failureVote: fillFailure != nil, into: slots)
            let allreduceStart = ContinuousClock.now
            try comm.allreduceSum(model.gradients)
            allreduceSeconds = (ContinuousClock.now - allreduceStart).seconds
            global = GradientTrailer.read(slots)
        }
        if global.failed {
            try exchange?.exchange.waitAll()
            throw try comm.agreeOnFailure(fillFailure)
        }

        let sums = global.sums
        guard sums.loss.isFinite else {
            try exchange?.exchange.waitAll()
            throw TrainingError("the loss became \(sums.loss) at epoch \(position.epoch + 1) step \(position.step + 1) (global step \(position.globalStep + 1)), counted from 1 as progress shows them; no checkpoint was written for it; lower --lr or set --clip-norm", raisedByEveryRank: true)
        }
        // A step with no target anywhere (per-row targets, early windows) only warms the state.
        if sums.targets > 0, let exchange {
            // Each bucket is updated as it lands.
            try update.apply(parameters: model.parameters, gradients: gradients, targets: sums.targets, learningRate: Float(learningRate),
                             buckets: exchange.exchange.buckets) { try exchange.exchange.wait(bucket: $0) }
        } else if sums.targets > 0 {
            update.apply(parameters: model.parameters, gradients: gradients, targets: sums.targets, learningRate: Float(learningRate))
        } else {
            try exchange?.exchange.waitAll()
        }
        if let exchange { allreduceSeconds = exchange.exchange.waitSeconds }
        position.epochSums += sums
        position.step += 1
        position.globalStep += 1

        let stepSeconds = (ContinuousClock.now - stepStart).seconds
        pace.record(stepSeconds)
        let stepsLeft = min((plan.epochs - position.epoch) * layout.stepsPerEpoch - position.step, (plan.maxSteps ?? .max) - position.globalStep)
        report(.step(StepReport(
            epoch: position.epoch, step: position.step - 1, stepsPerEpoch: layout.stepsPerEpoch, globalStep: position.globalStep,
            sums: sums, learningRate: learningRate, tokensPerSecond: slotTimestepsPerStep / stepSeconds,
            allreduceShare: allreduceSeconds / stepSeconds, allreduceSeconds: allreduceSeconds, secondsLeft: Double(stepsLeft) * pace.recentStepSeconds
        )))
        return global.stopRequested
    }

    /// After an epoch's last step: the checkpoint's capture, validation, the monitor, the report
    /// and the checkpoint.
    private func endEpoch(seconds: Double, stepsRun: Int, report: (TrainingEvent) -> Void) throws {
        let tokensPerSecond = Double(stepsRun) * slotTimestepsPerStep / seconds
        let finished = position.epochSums
        position.finishEpoch()
        // Captured before validation, which reuses the slots' state buffers.
        let captured = try checkpoints.capture(self, finishedEpoch: finished)
        let validationSums = try validation.map { try evaluate($0) }
        monitor(validationSums ?? finished)
        report(.epoch(EpochReport(epoch: position.epoch - 1, sums: finished, validation: validationSums,
                                  seconds: seconds, tokensPerSecond: tokensPerSecond)))
        try save(captured, validation: validationSums, report: report)
    }

    /// Rank 0 writes what `capture` gathered (the monitor's state as it is now).
    private func save(_ captured: CapturedCheckpoint?, validation: TargetSums? = nil, report: (TrainingEvent) -> Void) throws {
        guard var captured else { return }
        captured.record.position.monitor = position.monitor
        captured.record.learningRate = nextLearningRate
        report(.checkpoint(path: try checkpoints.write(captured, validation: validation)))
    }

    private var slotTimestepsPerStep: Double { Double(layout.globalSlots * layout.window) }

    /// The rate of the next step.
    var nextLearningRate: Double {
        learningRates.rate(at: position.globalStep, plateauRate: position.monitor.plateauRate ?? learningRates.base)
    }

    /// After an epoch (and its validation): the best monitored loss, the plateau schedule's
    /// halving, and early stopping. Every rank computes the same from the allreduced sums.
    private func monitor(_ sums: TargetSums) {
        guard !position.monitor.record(sums.meanLoss) else { return }
        if learningRates.schedule == .plateau, position.globalStep >= learningRates.warmup {
            position.monitor.plateauRate = learningRates.halved(position.monitor.plateauRate ?? learningRates.base)
        }
        if let patience = plan.patience, position.monitor.epochsWithoutImprovement >= patience {
            position.monitor.earlyStopped = true
        }
    }

    /// The stateful pass over a validation set in the training layout, from zero state.
    /// Uses the training model's state buffers: the next epoch starts from zero state anyway.
    private func evaluate(_ reader: DatasetReader) throws -> TargetSums {
        try Evaluation(model: model, batch: batch, reader: reader, globalSlots: layout.globalSlots, comm: comm)
            .run(assignment: .contiguous, reset: plan.recipe.reset)
    }
}

/// The seconds a step takes lately, for the time left.
private struct StepPace {
    private(set) var recentStepSeconds = 0.0

    mutating func record(_ seconds: Double) {
        recentStepSeconds = recentStepSeconds == 0 ? seconds : 0.9 * recentStepSeconds + 0.1 * seconds
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

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
