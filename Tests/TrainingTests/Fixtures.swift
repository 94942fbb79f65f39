import Foundation
import Storage
import XCTest

/// A folder that disappears with the test.
final class Scratch {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "lstm-dist-training-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

/// Writes a binary-task feature dataset: `value(row, t, f)` gives the inputs of the valid
/// timesteps, `label(row, t)` the target of a row (t is then its last valid timestep, with
/// `targetKind` row) or of each valid timestep (with `targetKind` step).
func writeFeatureDataset(
    _ path: String, rows: Int, length: Int, features: Int = 1, padding: Padding = .pre, stream: StreamKind = .independent,
    targetKind: TargetKind = .row, lengths: (Int) -> Int = { _ in Int.max },
    value: (_ row: Int, _ t: Int, _ f: Int) -> Float, label: (_ row: Int, _ t: Int) -> Int32
) throws {
    let header = DatasetHeader(
        rows: rows, length: length, inputKind: .features, features: features, vocabSize: 0, vocab: [],
        targetKind: targetKind, task: .binary, numClasses: 2, targetWidth: 1, padding: padding, stream: stream, source: "test"
    )
    var block = RowBlock(header: header, start: 0, count: rows)
    for row in 0..<rows {
        let valid = min(lengths(row), length)
        block.lengths[row] = Int32(valid)
        let steps = padding == .pre ? (length - valid)..<length : 0..<valid
        for t in steps {
            for f in 0..<features { block.features[(row * length + t) * features + f] = value(row, t, f) }
            if targetKind == .step { block.classTargets[row * length + t] = label(row, t) }
        }
        if targetKind == .row, let last = steps.last { block.classTargets[row] = label(row, last) }
    }
    let writer = try DatasetWriter(path: path, header: header, compression: 0)
    try writer.append(block)
    try writer.finish()
}
