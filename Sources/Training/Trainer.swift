import Comm
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
}

public enum TrainingEvent: Sendable {
    case step(StepReport)
    case epoch(EpochReport)
}

/// The training loop: layout -> batch -> forward/backward -> one allreduce -> optimizer.
///
/// Every rank runs the same loop on its own slots. Gradients leave the model as sums over this
/// rank's targets; the allreduce adds every rank's sums together with the loss, target count,
/// correct count and stop votes riding in a trailer of the same buffer, and the update divides by
/// the global target count. So R ranks x B slots compute what 1 rank x R*B slots computes.
public final class Trainer {
    public let config: TrainingConfig
    public let header: DatasetHeader
    public let layout: StreamLayout
    public let comm: Communicator
    public let model: LSTMModel
    public let metricKind: MetricKind
    private let batch: WindowBatch
    private let feeder: StreamFeeder
    public let optimizer: any Optimizer
    private let validation: DatasetReader?

    /// Where the next step starts, and what has been done: what a checkpoint records.
    public private(set) var epoch = 0
    public private(set) var step = 0
    public private(set) var globalStep = 0
    public private(set) var epochSums = TargetSums()

    /// Trailer slots after the gradients, summed by the same allreduce.
    private enum Trailer: Int, CaseIterable { case loss, targets, correct, stopVotes }

    public init(config: TrainingConfig, comm: Communicator) throws {
        let reader = try DatasetReader(path: config.dataset)
        header = reader.header
        let config = config.resolved(for: header)
        self.config = config
        self.comm = comm
        let globalSlots = comm.size * config.slotsPerRank
        guard config.slotsPerRank > 0 else { throw TrainingError("--slots must be positive") }
        guard globalSlots <= header.rows else {
            throw TrainingError("\(comm.size) ranks x \(config.slotsPerRank) slots = \(globalSlots) global slots, but \(config.dataset) has only \(header.rows) rows; use --slots \(max(1, header.rows / comm.size)) or fewer")
        }
        guard config.epochs > 0 else { throw TrainingError("--epochs must be positive") }
        guard config.hidden > 0, config.layers > 0, config.embedding > 0 else {
            throw TrainingError("--hidden, --layers and --embedding must be positive")
        }
        layout = try StreamLayout(rows: header.rows, length: header.length, window: config.window!, globalSlots: globalSlots)
        validation = try config.validation.map { path in
            let reader = try DatasetReader(path: path)
            try reader.header.checkCompatible(withTraining: header, path: path)
            return reader
        }

        let modelConfig = config.modelConfig(for: header)
        model = LSTMModel(config: modelConfig, slots: config.slotsPerRank, window: layout.window, gradientTrailer: Trailer.allCases.count)
        model.initialize(seed: config.seed)
        batch = WindowBatch(config: modelConfig, slots: config.slotsPerRank, window: layout.window)
        feeder = StreamFeeder(reader: reader, layout: layout, slots: Layout.slots(ofRank: comm.rank, slotsPerRank: config.slotsPerRank))
        optimizer = makeOptimizer(config, parameterCount: model.layout.count)
        metricKind = MetricKind(header)
    }

    /// Trains until the last epoch ends, `--max-steps` is reached, or any rank's
    /// `stopRequested` says so (then every rank stops after the same step).
    public func run(stopRequested: () -> Bool = { false }, report: (TrainingEvent) -> Void) throws {
        let parameterCount = model.layout.count
        let trailer = UnsafeMutableBufferPointer(rebasing: model.gradients[parameterCount...])
        let slotTimestepsPerStep = Double(layout.globalSlots * layout.window)
        var recentStepSeconds = 0.0

        while epoch < config.epochs {
            let epochStart = ContinuousClock.now
            if step == 0 {
                for slot in 0..<config.slotsPerRank { model.resetState(slot: slot) }
                epochSums = TargetSums()
            }
            while step < layout.stepsPerEpoch {
                let stepStart = ContinuousClock.now
                let startingRow = try feeder.fill(batch, step: step)
                if config.reset == .row { for slot in startingRow { model.resetState(slot: slot) } }
                let local = model.run(batch, backward: true)

                trailer[Trailer.loss.rawValue] = Float(local.lossSum)
                trailer[Trailer.targets.rawValue] = Float(local.targets)
                trailer[Trailer.correct.rawValue] = Float(local.correct)
                trailer[Trailer.stopVotes.rawValue] = stopRequested() ? 1 : 0
                let allreduceStart = ContinuousClock.now
                try comm.allreduceSum(model.gradients)
                let allreduceSeconds = (ContinuousClock.now - allreduceStart).seconds

                let sums = TargetSums(loss: Double(trailer[Trailer.loss.rawValue]), targets: Double(trailer[Trailer.targets.rawValue]), correct: Double(trailer[Trailer.correct.rawValue]))
                guard sums.loss.isFinite else {
                    throw TrainingError("the loss became \(sums.loss) at epoch \(epoch) step \(step) (global step \(globalStep)); lower --lr or set --clip-norm")
                }
                // A step with no target anywhere (per-row targets, early windows) only warms the state.
                if sums.targets > 0 {
                    let gradients = UnsafeMutableBufferPointer(rebasing: model.gradients[..<parameterCount])
                    scale(gradients, by: Float(1 / sums.targets))
                    if let maxNorm = config.clipNorm { _ = clipByGlobalNorm(gradients, maxNorm: maxNorm) }
                    optimizer.step(parameters: model.parameters, gradients: UnsafeBufferPointer(gradients))
                }
                epochSums += sums
                step += 1
                globalStep += 1

                let stepSeconds = (ContinuousClock.now - stepStart).seconds
                recentStepSeconds = recentStepSeconds == 0 ? stepSeconds : 0.9 * recentStepSeconds + 0.1 * stepSeconds
                let stepsLeft = min(
                    (config.epochs - epoch) * layout.stepsPerEpoch - step,
                    (config.maxSteps ?? .max) - globalStep
                )
                report(.step(StepReport(
                    epoch: epoch, step: step - 1, stepsPerEpoch: layout.stepsPerEpoch, globalStep: globalStep,
                    sums: sums, tokensPerSecond: slotTimestepsPerStep / stepSeconds,
                    allreduceShare: allreduceSeconds / stepSeconds, secondsLeft: Double(stepsLeft) * recentStepSeconds
                )))
                if trailer[Trailer.stopVotes.rawValue] > 0 || globalStep == config.maxSteps { return }
            }
            let validationSums = try validation.map { try evaluate($0) }
            report(.epoch(EpochReport(epoch: epoch, sums: epochSums, validation: validationSums, seconds: (ContinuousClock.now - epochStart).seconds)))
            epoch += 1
            step = 0
        }
    }

    /// The stateful pass over a validation set in the training layout, from zero state.
    /// Uses the training model's state buffers: the next epoch starts from zero state anyway.
    private func evaluate(_ reader: DatasetReader) throws -> TargetSums {
        try Evaluation(model: model, batch: batch, reader: reader, globalSlots: layout.globalSlots, comm: comm)
            .run(assignment: .contiguous, reset: config.reset!)
    }
}

private func scale(_ values: UnsafeMutableBufferPointer<Float>, by factor: Float) {
    for i in values.indices { values[i] *= factor }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
