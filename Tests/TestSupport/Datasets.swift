import Foundation
import Storage

/// Writes a feature dataset for a binary or one-value regression task: `value(row, t, f)` gives
/// the inputs of the valid timesteps, `label(row, t)` the target of a row (t is then its last
/// valid timestep, with `targetKind` row) or of each valid timestep (with `targetKind` step).
public func writeFeatureDataset(
    _ path: String, rows: Int, length: Int, features: Int = 1, padding: Padding = .pre, stream: StreamKind = .independent,
    targetKind: TargetKind = .row, task: Task = .binary, targetOrigin: TargetOrigin? = nil, lengths: (Int) -> Int = { _ in Int.max },
    value: (_ row: Int, _ t: Int, _ f: Int) -> Float, label: (_ row: Int, _ t: Int) -> Float
) throws {
    let header = DatasetHeader(
        rows: rows, length: length, inputKind: .features, features: features, vocabSize: 0, vocab: [],
        targetKind: targetKind, task: task, numClasses: task == .binary ? 2 : 0, targetWidth: 1,
        padding: padding, stream: stream, source: "test", targetOrigin: targetOrigin
    )
    func setTarget(_ block: inout RowBlock, _ index: Int, _ value: Float) {
        if task == .binary { block.classTargets[index] = Int32(value) } else { block.valueTargets[index] = value }
    }
    var block = RowBlock(header: header, start: 0, count: rows)
    for row in 0..<rows {
        let valid = min(lengths(row), length)
        block.lengths[row] = Int32(valid)
        let steps = padding == .pre ? (length - valid)..<length : 0..<valid
        for t in steps {
            for f in 0..<features { block.features[(row * length + t) * features + f] = value(row, t, f) }
            if targetKind == .step { setTarget(&block, row * length + t, label(row, t)) }
        }
        if targetKind == .row, let last = steps.last { setTarget(&block, row, label(row, last)) }
    }
    let writer = try DatasetWriter(path: path, header: header, compression: 0)
    try writer.append(block)
    try writer.finish()
}

/// A contiguous stream cut into rows of 8 steps, one window each. Every even row opens with a
/// +-1 pulse; every step of it and of the next row is labelled with that pulse's sign. Even rows
/// teach the model to hold the sign inside a window; odd rows can only be answered from the
/// previous window, through the carried state.
public func writePulseStream(_ path: String, rows: Int) throws {
    // A fixed pseudo-random sign per pulse (Knuth's multiplicative hash), the same every run.
    let signs = (0..<rows / 2).map { ($0 &* 2_654_435_761) >> 16 & 1 == 1 }
    try writeFeatureDataset(path, rows: rows, length: 8, stream: .contiguous, targetKind: .step,
                            value: { row, t, _ in row % 2 == 0 && t == 0 ? (signs[row / 2] ? 1 : -1) : 0 },
                            label: { row, _ in signs[row / 2] ? 1 : 0 })
}

/// Rows of up to 12 timesteps (varied lengths, pre-padded) with 2 features by default and a
/// binary per-row target: with `--window 4`, 3 windows per row, the first ones without targets.
/// 203 rows by default, a count no global slot count in the tests divides.
public func writeVariedRows(_ path: String, rows: Int = 203, features: Int = 2, task: Task = .binary) throws {
    try writeFeatureDataset(path, rows: rows, length: 12, features: features, task: task, lengths: { 3 + $0 % 10 },
                            value: { row, t, f in sin(Float(row * 7 + t * (f + 1))) },
                            label: { row, _ in row % 3 == 0 ? 1 : 0 })
}
