import Comm
import Layout
import Model
import Storage
import Training

/// `forecast` (docs/commands.md): a pass over the dataset in the training layout that, at the end
/// of every row, forks each slot's state and rolls it `steps` timesteps ahead, each prediction
/// fed back as the next input of the feature it is a later value of.
///
/// All of a step's slots end their rows together (every slot reads window `k mod W` at step k),
/// so the forks of a step roll as one batch through a one-timestep copy of the model. Memory: the
/// forecasts of one step's rows (on rank 0, of every global slot), never the whole output.
public final class Forecaster {
    public let source: CheckpointModel
    public let steps: Int
    /// Input features that no target continues: held at their last value while rolling.
    public let heldFeatures: [Int]
    /// For each target column, the feature it is fed back into.
    private let targetFeatures: [Int]
    /// [B] x one timestep: the forks, and their inputs.
    private let roll: LSTMModel
    private let rollBatch: WindowBatch
    /// Turns the model's outputs into original units (pack --normalize); nil when they are.
    /// A target continues its feature with that feature's statistics, so outputs are fed back as they are.
    private let normalization: Normalization?
    /// Whether the dataset has targets. With them (packed with --horizon 1), a row's last targets
    /// are the values after its last input, fed in as the first roll step's input; without, the
    /// state after the row's last input is already the origin, and its output is step 1.
    private let labelled: Bool

    /// Collective (it follows the model's load); refuses, alike on every rank, a dataset that
    /// cannot be forecast, saying what to pack instead.
    ///
    /// A dataset without targets is forecast as the model was trained: the task, target kind,
    /// horizon and target features are the checkpoint's (which copied them from its training data).
    public init(_ source: CheckpointModel, steps: Int) throws {
        let header = source.header
        let labelled = header.task.hasTargets
        // What the targets are: the dataset's, or for a dataset without them, the model's.
        let path = labelled ? source.reader.path : "\(source.reader.path) (no targets; the model's)"
        let (task, targetKind, targetOrigin) = labelled
            ? (header.task, header.targetKind, header.targetOrigin)
            : (source.signature.task, source.signature.targetKind, source.signature.targetOrigin)
        guard steps >= 1 else { throw InferenceError("--steps must be 1 or more, not \(steps)") }
        guard task == .regression else {
            throw InferenceError("\(path): forecast needs regression targets, but the task is \(task.rawValue); pack a numeric series with --target COL --horizon 1")
        }
        guard targetKind == .step else {
            throw InferenceError("\(path): forecast needs targets per timestep, but they are per row; pack the series with --target COL --horizon 1 instead of --label")
        }
        guard let origin = targetOrigin else {
            throw InferenceError("\(path): no horizon and /target_features (it was not packed by `lstm-dist pack --target`), so forecast cannot tell which input each prediction continues; pack the CSV with --target COL --horizon 1")
        }
        guard origin.horizon == 1 else {
            throw InferenceError("\(path): the targets are \(origin.horizon == 0 ? "the inputs' own timesteps (horizon 0)" : "\(origin.horizon) timesteps ahead (horizon \(origin.horizon))"); forecast feeds each prediction back as the next input, which needs --horizon 1: pack with --horizon 1 and forecast --steps N")
        }
        if let k = origin.features.firstIndex(where: { $0 < 0 }) {
            throw InferenceError("\(path): target column \(k) is not an input feature, so its predictions cannot be fed back; pack with the --target columns among --features (or without --features)")
        }
        let K = source.model.config.outputs, S = source.globalSlots
        guard steps <= (1 << 27) / (S * K) else {
            throw InferenceError("--steps \(steps): rank 0 would hold more than 512 MiB of forecasts per step (\(S) slots x \(steps) steps x \(K) values); use at most \((1 << 27) / (S * K)) steps")
        }
        self.source = source
        self.steps = steps
        let targetFeatures = origin.features.map(Int.init)
        self.targetFeatures = targetFeatures
        heldFeatures = (0 ..< header.features).filter { !targetFeatures.contains($0) }
        let model = source.model
        roll = LSTMModel(config: model.config, slots: model.slots, window: 1, precision: model.precision)
        _ = roll.parameters.update(fromContentsOf: model.parameters)
        roll.freezeKernels()
        rollBatch = WindowBatch(config: model.config, slots: model.slots, window: 1)
        normalization = source.signature.normalization.flatMap { $0.targetsMean.isEmpty ? nil : $0 }
        self.labelled = labelled
    }

    /// Collective: writes `/forecast` float32 [N, steps, K] in row order (zeros for an empty
    /// row), or CSV `row,h,p0,...` (h from 1; rows with no valid timestep are left out), through
    /// a temporary file renamed into place.
    public func forecast(to path: String, format: RowOutputFile.Format, force: Bool) throws {
        guard source.comm.isRoot else { return try run(into: nil) }
        let header = source.header, steps = self.steps
        try RowOutputFile.write(to: path, format: format, force: force, dataset: "forecast",
                                shape: [header.rows, steps, source.model.config.outputs]) {
            try run(into: $0)
        } csvLines: {
            let lengths = try source.reader.readLengths()
            return .perIndex(column: "h", first: 1) { row in lengths[row] > 0 ? 0 ..< steps : 0 ..< 0 }
        }
    }

    /// Every rank rolls its slots' forks at each step that ends rows and sends rank 0 their
    /// forecasts, [B, steps, K] (zeros for a slot with nothing to forecast); rank 0 (`file`
    /// non-nil) writes each global slot's to the row it just finished.
    private func run(into file: RowOutputFile?) throws {
        let model = source.model, batch = source.batch, header = source.header, comm = source.comm
        let B = batch.slots, T = batch.window, F = header.features, K = model.config.outputs, labelled = self.labelled
        let first = Layout.slots(ofRank: comm.rank, slotsPerRank: B).lowerBound
        // Each local slot's last valid inputs and targets (without targets: the model's outputs
        // there, the predictions of the values that follow) in its current row.
        var lastInputs = [Float](repeating: 0, count: B * F), lastTargets = [Float](repeating: 0, count: B * K)
        var seen = [Bool](repeating: false, count: B)
        var part = [Float](repeating: 0, count: B * steps * K)
        var whole = [Float](repeating: 0, count: file == nil ? 0 : source.globalSlots * steps * K)

        _ = try source.run(.train) { step, layout in
            for b in 0 ..< B {
                guard let position = layout.position(slot: first + b, step: step) else { continue }
                if position.startsRow { seen[b] = false }
                guard let t = (0 ..< T).last(where: { batch.mask[$0 * B + b] != 0 }) else { continue }
                let column = t * B + b
                for f in 0 ..< F { lastInputs[b * F + f] = batch.features[column * F + f] }
                for k in 0 ..< K { lastTargets[b * K + k] = labelled ? batch.valueTargets[column * K + k] : model.outputs[column * K + k] }
                seen[b] = true
            }
            guard step % layout.windowsPerRow == layout.windowsPerRow - 1 else { return }
            for b in 0 ..< B { seen[b] = seen[b] && layout.position(slot: first + b, step: step) != nil }
            rollForward(model, forking: seen, inputs: lastInputs, targets: lastTargets, into: &part)
            try part.withUnsafeBufferPointer { part in
                try whole.withUnsafeMutableBufferPointer { try comm.gather(part, into: $0, root: 0) }
            }
            guard let file else { return }
            for slot in 0 ..< source.globalSlots {
                guard let position = layout.position(slot: slot, step: step) else { continue }
                try whole.withUnsafeBufferPointer {
                    try file.write(UnsafeBufferPointer(rebasing: $0[slot * steps * K ..< (slot + 1) * steps * K]), row: position.row)
                }
            }
        }
    }

    /// From the state `model` carries, rolls the `forking` slots `steps` timesteps: the first
    /// input is the row's last one with its targets (the next values) in their feature columns,
    /// each later one the previous with the predictions there. `part` gets [B, steps, K] forecasts
    /// in original units, zeros for the other slots. Without targets, `targets` are the model's
    /// outputs at the row's last input: they are step 1, and the roll makes steps 2 and on.
    private func rollForward(_ model: LSTMModel, forking: [Bool], inputs: [Float], targets: [Float], into part: inout [Float]) {
        let B = roll.slots, F = model.config.input.width, K = model.config.outputs
        _ = roll.hidden.update(fromContentsOf: model.hidden)
        _ = roll.cell.update(fromContentsOf: model.cell)
        for b in 0 ..< B {
            rollBatch.mask[b] = forking[b] ? 1 : 0
            for f in 0 ..< F { rollBatch.features[b * F + f] = inputs[b * F + f] }
            for k in 0 ..< K { rollBatch.features[b * F + targetFeatures[k]] = targets[b * K + k] }
        }
        for i in part.indices { part[i] = 0 }
        if !labelled {
            for b in 0 ..< B where forking[b] {
                for k in 0 ..< K { part[b * steps * K + k] = normalization?.originalTarget(targets[b * K + k], column: k) ?? targets[b * K + k] }
            }
        }
        for h in (labelled ? 0 : 1) ..< steps {
            _ = roll.run(rollBatch, backward: false)
            for b in 0 ..< B where forking[b] {
                for k in 0 ..< K {
                    let value = roll.outputs[b * K + k]
                    rollBatch.features[b * F + targetFeatures[k]] = value
                    part[(b * steps + h) * K + k] = normalization?.originalTarget(value, column: k) ?? value
                }
            }
        }
    }
}
