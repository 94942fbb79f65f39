import Layout
import Storage
import Training

extension CheckpointModel {
    /// Collective: refuses, on every rank before any work, an output rank 0 could not write.
    public func checkOutput(_ path: String, force: Bool) throws {
        _ = try comm.decidedByRoot { try AtomicOutput.checkDestination(path, force: force); return true }
    }

    /// Collective: a pass in `layout` whose outputs rank 0 gathers and writes to `path` in row
    /// order, whatever the layout and rank count: `/predictions`, float32 `[N, K]` (per-row
    /// targets) or `[N, L, K]` (per timestep), or CSV `row,p0,...` or `row,t,p0,...` (valid
    /// timesteps only, `t` counted as in the padded row: the index into `/predictions` and
    /// `/inputs`). Written to a temporary file renamed into place, so an existing output is only
    /// replaced by a complete one. The shape, K and units are the model's (the checkpoint's
    /// target kind, outputs and normalisation), so a dataset without targets gets the same
    /// predictions as the labelled one packed from the same inputs.
    ///
    /// Memory on rank 0: one step's outputs of every slot, and the row each slot is on; rows are
    /// written as they complete (`RowOutputFile`).
    public func predict(_ layout: EvaluationLayout, to path: String, format: RowOutputFile.Format, force: Bool) throws {
        guard comm.isRoot else { return try gatherPredictions(layout, into: nil) }
        let header = self.header, K = evaluation.model.config.outputs, L = header.length, perStep = signature.targetKind == .step
        try RowOutputFile.write(to: path, format: format, force: force, dataset: "predictions",
                                shape: perStep ? [header.rows, L, K] : [header.rows, K]) {
            try gatherPredictions(layout, into: $0)
        } csvLines: {
            guard perStep else { return .perRow }
            let lengths = try evaluation.reader.readLengths()
            return .perIndex(column: "t", first: 0) { header.validSteps(length: Int(lengths[$0])) }
        }
    }

    /// Every rank sends, for each of its slots, a record per reported timestep (each valid
    /// timestep for per-timestep targets; for per-row targets the window's last valid one, so the
    /// row's last valid timestep is the one left when the row ends): a reported flag and the K
    /// outputs. Rank 0 (`file` non-nil) places them in each slot's current row. The timesteps
    /// come from the mask, not the targets, which a dataset may not have.
    private func gatherPredictions(_ layout: EvaluationLayout, into file: RowOutputFile?) throws {
        let batch = evaluation.batch, outputs = evaluation.model.outputs
        let B = batch.slots, T = batch.window, K = evaluation.model.config.outputs, L = header.length
        let perStep = signature.targetKind == .step
        let reported = perStep ? T : 1, record = 1 + K, rowValues = perStep ? L * K : K
        // Regression outputs of a model trained on normalised targets are written in original units.
        let normalization = signature.normalization.flatMap { $0.targetsMean.isEmpty ? nil : $0 }
        var part = [Float](repeating: 0, count: B * reported * record)
        var whole = [Float](repeating: 0, count: file == nil ? 0 : globalSlots * reported * record)
        var rows = [Float](repeating: 0, count: file == nil ? 0 : globalSlots * rowValues)

        _ = try run(layout) { step, streamLayout in
            part.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            for b in 0..<B {
                let lastValid = (0..<T).last { batch.mask[$0 * B + b] != 0 }
                for t in 0..<T where batch.mask[t * B + b] != 0 && (perStep || t == lastValid) {
                    let at = (b * reported + (perStep ? t : 0)) * record
                    part[at] = 1
                    for k in 0..<K {
                        let output = outputs[(t * B + b) * K + k]
                        part[at + 1 + k] = normalization?.originalTarget(output, column: k) ?? output
                    }
                }
            }
            try part.withUnsafeBufferPointer { part in
                try whole.withUnsafeMutableBufferPointer { try comm.gather(part, into: $0, root: 0) }
            }
            guard let file else { return }
            for slot in 0..<globalSlots {
                guard let position = streamLayout.position(slot: slot, step: step) else { continue }
                let row = slot * rowValues
                if position.startsRow { rows.withUnsafeMutableBufferPointer { $0[row ..< row + rowValues].update(repeating: 0) } }
                for r in 0..<reported {
                    let at = (slot * reported + r) * record
                    guard whole[at] != 0 else { continue }
                    let to = row + (perStep ? (position.timesteps.lowerBound + r) * K : 0)
                    for k in 0..<K { rows[to + k] = whole[at + 1 + k] }
                }
                if position.window == streamLayout.windowsPerRow - 1 {
                    try rows.withUnsafeBufferPointer { try file.write(UnsafeBufferPointer(rebasing: $0[row ..< row + rowValues]), row: position.row) }
                }
            }
        }
    }
}
