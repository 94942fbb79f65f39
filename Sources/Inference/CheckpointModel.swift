import Comm
import Layout
import Model
import Storage
import Training

/// How `evaluate` and `predict` deal the rows to the checkpoint's global slots (docs/commands.md).
public enum EvaluationLayout: String, CaseIterable, Sendable {
    /// The training layout and reset policy, from zero state like an epoch start.
    case train
    /// Every row from zero state.
    case independent
    /// Slot j reads rows j, j+S, j+2S, ... carrying its state whatever the reset policy says:
    /// what Keras' `predict(x, batch_size=S)` does with a stateful model, the common mistake.
    case interleaved

    /// The row assignment and reset policy of this layout, for a model trained with `training`.
    func pass(trainedWith training: ResetPolicy) -> (assignment: StreamLayout.Assignment, reset: ResetPolicy) {
        switch self {
        case .train: (.contiguous, training)
        case .independent: (.contiguous, .row)
        case .interleaved: (.interleaved, .epoch)
        }
    }
}

/// A trained model read from a checkpoint for `evaluate` and `predict`: its weights only, no
/// optimizer state and no slot state, since every pass starts from zero state. It keeps the
/// checkpoint's global slot count S, so the training layout deals rows to slots as training did.
public final class CheckpointModel {
    /// The dataset's header.
    public let header: DatasetHeader
    /// What the model was trained on, from the checkpoint: its targets' task, kind, width, origin
    /// and normalisation decide the outputs' shape and units, also for a dataset without targets.
    public let signature: DataSignature
    public let metricKind: MetricKind
    public let globalSlots: Int
    public let comm: Communicator
    /// The reset policy the model was trained with: the `train` layout's.
    public let trainingReset: ResetPolicy
    let evaluation: Evaluation

    private struct Decision: Codable {
        var plan: TrainingPlan
        var globalSlots: Int
        var signature: DataSignature
    }

    /// Collective. Rank 0 reads the checkpoint and refuses a dataset the model does not fit and
    /// a rank count that does not divide S; every rank then receives the weights. A dataset
    /// without targets (task "none") is refused for `use` when it `needsTargets` (evaluate),
    /// before the checkpoint is read, and otherwise must match the model's inputs only. `precision`:
    /// the products' arithmetic (from the checkpoint's fp32 weights either way), already checked to
    /// run here (`Precision.check`).
    public init(checkpoint path: String, dataset: String, comm: Communicator, use: String = "evaluate", needsTargets: Bool = true,
                precision: Precision = .fp32) throws {
        let reader = try DatasetReader(path: dataset)
        if needsTargets { try DataSignature.requireTargets(reader.header, path: dataset, for: use) }
        header = reader.header
        // Forward outputs do not depend on the window (state carries from window to window within
        // a row), so rows shorter than the training window are read in one window.
        func window(_ plan: TrainingPlan) -> Int { plan.recipe.window(forRowLength: reader.header.length) }
        var checkpoint: Checkpoint?
        let decision = try comm.decidedByRoot {
            var decision: Decision?
            checkpoint = try Checkpoint(path: path) { declared, shapes in
                let record = try CheckpointRecord(declared, shapes: shapes, path)
                try record.data.check(reader.header, path: dataset, for: use, acceptingNoTargets: !needsTargets)
                let slotsHere = try TrainingPlan.slotsPerRank(sharing: record.globalSlots, ranks: comm.size)
                _ = try record.network(shapes: shapes, path: path, slots: slotsHere, window: window(record.plan), header: reader.header)
                decision = Decision(plan: record.plan, globalSlots: record.globalSlots, signature: record.data)
            }
            return decision!
        }
        self.comm = comm
        globalSlots = decision.globalSlots
        trainingReset = decision.plan.recipe.reset
        signature = decision.signature
        metricKind = MetricKind(header)

        let slotsPerRank = globalSlots / comm.size
        let modelConfig = decision.plan.modelConfig(for: decision.signature)
        let model = LSTMModel(config: modelConfig, slots: slotsPerRank, window: window(decision.plan), precision: precision)
        try Checkpoint.broadcast("model", of: checkpoint, into: model.parameters, layout: model.parameterLayout, comm: comm)
        evaluation = Evaluation(model: model, batch: WindowBatch(config: modelConfig, slots: slotsPerRank, window: window(decision.plan)),
                                reader: reader, globalSlots: globalSlots, comm: comm)
    }

    /// Collective: one pass over the dataset in `layout`; the sums cover every rank's targets.
    public func evaluate(_ layout: EvaluationLayout) throws -> TargetSums {
        try run(layout)
    }

    /// This rank's model and window batch: inside `run`'s `visit`, the model's outputs and
    /// carried state and the batch's inputs, masks and targets are that step's.
    public var model: LSTMModel { evaluation.model }
    public var batch: WindowBatch { evaluation.batch }
    public var reader: DatasetReader { evaluation.reader }

    /// Collective: a pass in `layout` calling `visit` after every step with the step and the layout
    /// (which says where every global slot stands), for passes built on this one (predict, forecast).
    public func run(_ layout: EvaluationLayout, visit: (_ step: Int, _ layout: StreamLayout) throws -> Void = { _, _ in }) throws -> TargetSums {
        let pass = layout.pass(trainedWith: trainingReset)
        return try evaluation.run(assignment: pass.assignment, reset: pass.reset, visit: visit)
    }
}
