import Layout
import Storage
#if canImport(Glibc)
import Glibc
#endif

public enum PredictionFormat: String, CaseIterable, Sendable {
    /// `/predictions`, float32 `[N, K]` (per-row targets) or `[N, L, K]` (per timestep).
    case h5
    /// `row,p0,...` or `row,t,p0,...` (valid timesteps only).
    case csv
}

extension CheckpointModel {
    /// Collective: refuses, on every rank before any work, an output rank 0 could not write.
    public func checkOutput(_ path: String, force: Bool) throws {
        _ = try comm.decidedByRoot { try AtomicOutput.checkDestination(path, force: force); return true }
    }

    /// Collective: a pass in `layout` whose outputs rank 0 gathers and writes to `path` in row
    /// order, whatever the layout and rank count. Written to a temporary file renamed into place,
    /// so an existing output is only replaced by a complete one.
    ///
    /// Memory on rank 0: one step's outputs of every slot, and the row each slot is on; rows are
    /// written as they complete. CSV is converted from such an HDF5 file, a block of rows at a time.
    public func predict(_ layout: EvaluationLayout, to path: String, format: PredictionFormat, force: Bool) throws {
        guard comm.isRoot else { return try gatherPredictions(layout, into: nil) }
        try AtomicOutput.write(to: path, force: force) { temporary in
            switch format {
            case .h5:
                try gatherPredictions(layout, into: PredictionFile(path: temporary, header: header))
            case .csv:
                let scratch = temporary + ".h5"
                defer { unlink(scratch) }
                try gatherPredictions(layout, into: PredictionFile(path: scratch, header: header))
                try writeCSV(from: scratch, to: temporary)
            }
        }
    }

    /// Every rank sends, for each of its slots, a record per reported timestep (each timestep
    /// for per-timestep targets, the row's scored timestep for per-row targets): a scored flag
    /// and the K outputs. Rank 0 (`file` non-nil) places them in each slot's current row.
    private func gatherPredictions(_ layout: EvaluationLayout, into file: PredictionFile?) throws {
        let batch = evaluation.batch, outputs = evaluation.model.outputs
        let B = batch.slots, T = batch.window, K = evaluation.model.config.outputs, L = header.length
        let perStep = header.targetKind == .step
        let reported = perStep ? T : 1, record = 1 + K, rowValues = perStep ? L * K : K
        // Regression outputs of a normalised dataset are written in original units.
        let normalization = header.normalization.flatMap { $0.targetsMean.isEmpty ? nil : $0 }
        var part = [Float](repeating: 0, count: B * reported * record)
        var whole = [Float](repeating: 0, count: file == nil ? 0 : globalSlots * reported * record)
        var rows = [Float](repeating: 0, count: file == nil ? 0 : globalSlots * rowValues)

        _ = try run(layout) { step, streamLayout in
            part.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            for b in 0..<B {
                for t in 0..<T where batch.targetMask[t * B + b] != 0 {
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

    /// The HDF5 predictions as CSV lines, in row order; per timestep, only valid timesteps, `t`
    /// counted as in the padded row (the index into `/predictions` and `/inputs`).
    private func writeCSV(from predictionsPath: String, to path: String) throws {
        let predictions = try H5File(path: predictionsPath, mode: .readOnly).dataset("predictions")
        let lengths = try evaluation.reader.readLengths()
        let K = evaluation.model.config.outputs, L = header.length, perStep = header.targetKind == .step
        guard let out = fopen(path, "w") else { throw TrainingError("\(path): cannot write: \(String(cString: strerror(errno)))") }

        let probabilities = (0..<K).map { "p\($0)" }.joined(separator: ",")
        fputs((perStep ? "row,t," : "row,") + probabilities + "\n", out)
        let blockRows = max(1, (1 << 20) / (perStep ? L * K : K))
        for start in stride(from: 0, to: header.rows, by: blockRows) {
            let block = start ..< min(start + blockRows, header.rows)
            let values: [Float]
            do { values = try predictions.read(rows: block) } catch { fclose(out); throw error }
            for row in block {
                let base = (row - start) * (perStep ? L * K : K)
                func line(_ prefix: String, _ offset: Int) {
                    fputs(prefix + (0..<K).map { "\(values[offset + $0])" }.joined(separator: ",") + "\n", out)
                }
                guard perStep else { line("\(row),", base); continue }
                let length = Int(lengths[row])
                for t in header.padding == .pre ? (L - length)..<L : 0..<length { line("\(row),\(t),", base + t * K) }
            }
        }
        let failed = ferror(out) != 0
        guard fclose(out) == 0, !failed else { throw TrainingError("\(path): write failed: \(String(cString: strerror(errno)))") }
    }
}

/// `/predictions` of an HDF5 file being written, one row at a time in any order.
final class PredictionFile {
    private let file: H5File
    private let predictions: H5Dataset

    init(path: String, header: DatasetHeader) throws {
        file = try H5File(path: path, mode: .truncate)
        let K = header.targetWidth
        let shape = header.targetKind == .step ? [header.rows, header.length, K] : [header.rows, K]
        // Contiguous, not chunked and compressed: rows arrive out of order, a chunk would be
        // decompressed and rewritten for each.
        predictions = try file.createDataset("predictions", of: Float.self, shape: shape)
    }

    func write(_ values: UnsafeBufferPointer<Float>, row: Int) throws {
        try predictions.write(values, rowsFrom: row)
    }
}
