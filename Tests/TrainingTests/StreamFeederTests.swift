import Layout
import Model
import Storage
import TestSupport
import XCTest
@testable import Training

final class StreamFeederTests: XCTestCase {
    /// Every valid timestep carries (row + 1, t) as its two features, so a batch shows exactly
    /// which row and timestep each slot read.
    private func rowAndTimestepDataset(_ scratch: TemporaryFolder, rows: Int, length: Int, padding: Padding, lengths: @escaping (Int) -> Int) throws -> DatasetReader {
        let path = scratch.file("rows.h5")
        try writeFeatureDataset(path, rows: rows, length: length, features: 2, padding: padding, lengths: lengths,
                                value: { row, t, f in f == 0 ? Float(row + 1) : Float(t) }, label: { row, _ in Float(row % 2) })
        return try DatasetReader(path: path)
    }

    func testEachGlobalSlotReadsItsOwnRowsWindowByWindowAndIdlesAtTheEnd() throws {
        let scratch = try makeTemporaryFolder()
        let (rows, length, window, slotsPerRank, ranks) = (11, 6, 3, 2, 2)
        let reader = try rowAndTimestepDataset(scratch, rows: rows, length: length, padding: .pre, lengths: { _ in 6 })
        let layout = try StreamLayout(rows: rows, length: length, window: window, globalSlots: ranks * slotsPerRank)
        let config = ModelConfig(input: .features(2), hidden: 4, layers: 1, head: .binary, outputs: 1)

        for rank in 0..<ranks {
            let feeder = StreamFeeder(reader: reader, layout: layout, slots: Layout.slots(ofRank: rank, slotsPerRank: slotsPerRank))
            let batch = WindowBatch(config: config, slots: slotsPerRank, window: window)
            for step in 0..<layout.stepsPerEpoch {
                var startingRow: [Int] = []
                try feeder.fill(batch, step: step) { startingRow.append($0) }
                for local in 0..<slotsPerRank {
                    let global = rank * slotsPerRank + local
                    // docs/layout.md: slot g owns rows [floor(g*N/S), floor((g+1)*N/S)) and reads
                    // window k mod W of its row floor(k / W), or idles once its rows are used up.
                    let first = global * rows / layout.globalSlots, end = (global + 1) * rows / layout.globalSlots
                    let row = first + step / layout.windowsPerRow
                    let windowStart = (step % layout.windowsPerRow) * window
                    XCTAssertEqual(startingRow.contains(local), row < end && step % layout.windowsPerRow == 0)
                    for t in 0..<window {
                        let index = t * slotsPerRank + local
                        if row < end {
                            XCTAssertEqual(batch.mask[index], 1, "step \(step) slot \(global) t \(t)")
                            XCTAssertEqual(batch.features[index * 2], Float(row + 1), "step \(step) slot \(global) t \(t)")
                            XCTAssertEqual(batch.features[index * 2 + 1], Float(windowStart + t))
                            // The per-row target sits on the row's last timestep only.
                            XCTAssertEqual(batch.targetMask[index], windowStart + t == length - 1 ? 1 : 0)
                        } else {
                            XCTAssertEqual(batch.mask[index], 0, "idle slot \(global) at step \(step) must be masked")
                            XCTAssertEqual(batch.targetMask[index], 0)
                        }
                    }
                }
            }
        }
    }

    func testBlocksReadAheadOfAnySizeFillTheSameBatchesAsOneWholeRead() throws {
        let folder = try makeTemporaryFolder()
        let reader = try rowAndTimestepDataset(folder, rows: 37, length: 6, padding: .post, lengths: { 1 + $0 % 6 })
        let config = ModelConfig(input: .features(2), hidden: 4, layers: 1, head: .binary, outputs: 1)
        let rowBytes = 6 * 2 * 4
        for assignment in StreamLayout.Assignment.allCases {
            let layout = try StreamLayout(rows: 37, length: 6, window: 4, globalSlots: 6, assignment: assignment)
            func batches(blockRows: Int) throws -> [[Float]] {
                let feeder = StreamFeeder(reader: reader, layout: layout, slots: 2..<5, blockBytes: blockRows * rowBytes)
                let batch = WindowBatch(config: config, slots: 3, window: 4)
                return try (0..<layout.stepsPerEpoch).map { step in
                    try feeder.fill(batch, step: step) { _ in }
                    return Array(batch.features) + Array(batch.mask) + Array(batch.targetMask)
                }
            }
            let whole = try batches(blockRows: 1000)
            for blockRows in [1, 2, 3] {
                XCTAssertEqual(try batches(blockRows: blockRows), whole, "\(assignment), \(blockRows) rows per block")
            }
        }
    }

    func testPaddingIsMaskedAndTheRowTargetSitsOnTheLastValidStepForPreAndPost() throws {
        for padding in [Padding.pre, .post] {
            let scratch = try makeTemporaryFolder()
            let reader = try rowAndTimestepDataset(scratch, rows: 2, length: 6, padding: padding, lengths: { $0 == 0 ? 2 : 6 })
            let layout = try StreamLayout(rows: 2, length: 6, window: 6, globalSlots: 2)
            let batch = WindowBatch(config: ModelConfig(input: .features(2), hidden: 4, layers: 1, head: .binary, outputs: 1), slots: 2, window: 6)
            try StreamFeeder(reader: reader, layout: layout, slots: 0..<2).fill(batch, step: 0) { _ in }
            let validSteps = padding == .pre ? [4, 5] : [0, 1]
            let maskOfRow0 = (0..<6).map { batch.mask[$0 * 2] }
            let targetsOfRow0 = (0..<6).map { batch.targetMask[$0 * 2] }
            XCTAssertEqual(maskOfRow0, (0..<6).map { validSteps.contains($0) ? 1 : 0 }, "\(padding)")
            XCTAssertEqual(targetsOfRow0, (0..<6).map { $0 == validSteps.last! ? 1 : 0 }, "\(padding)")
        }
    }
}
