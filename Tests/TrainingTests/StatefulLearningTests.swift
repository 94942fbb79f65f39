import Comm
import Storage
import TestSupport
import XCTest
@testable import Training

final class StatefulLearningTests: XCTestCase {
    /// A contiguous stream cut into rows of 8 steps, one window each. Every even row opens with
    /// a +-1 pulse; every step of it and of the next row is labelled with that pulse's sign.
    /// Even rows teach the model to hold the sign inside a window; odd rows can only be
    /// answered from the previous window, through the carried state.
    private func pulseTask(_ path: String, rows: Int) throws {
        // A fixed pseudo-random sign per pulse (Knuth's multiplicative hash), the same every run.
        let signs = (0..<rows / 2).map { ($0 &* 2_654_435_761) >> 16 & 1 == 1 }
        try writeFeatureDataset(path, rows: rows, length: 8, stream: .contiguous, targetKind: .step,
                                value: { row, t, _ in row % 2 == 0 && t == 0 ? (signs[row / 2] ? 1 : -1) : 0 },
                                label: { row, _ in signs[row / 2] ? 1 : 0 })
    }

    private func lastEpochAccuracy(reset: ResetPolicy, dataset: String, scratch: TemporaryFolder) throws -> Double {
        var config = TrainingConfig(dataset: dataset)
        config.slotsPerRank = 8
        config.shape.hidden = 16
        config.shape.reset = reset
        config.learningRate = 0.02
        config.epochs = 25
        config.checkpointDirectory = scratch.file("checkpoints-\(reset)")
        let trainer = try Trainer(config: config, comm: SingleProcessCommunicator())
        var lastEpoch: TargetSums?
        _ = try trainer.run { event in
            if case .epoch(let epoch) = event { lastEpoch = epoch.sums }
        }
        return try XCTUnwrap(lastEpoch).accuracy
    }

    func testAnAnswerInAnEarlierWindowIsLearnedWithCarriedStateButNotWhenResetPerRow() throws {
        let scratch = try TemporaryFolder()
        let dataset = scratch.file("stream.h5")
        try pulseTask(dataset, rows: 400)
        let carried = try lastEpochAccuracy(reset: .epoch, dataset: dataset, scratch: scratch)
        let reset = try lastEpochAccuracy(reset: .row, dataset: dataset, scratch: scratch)
        // Odd rows are half the targets: at chance they cap accuracy near 0.75.
        XCTAssertGreaterThan(carried, 0.95, "carried state should answer odd rows from the previous window")
        XCTAssertLessThan(reset, 0.80, "with a reset per row, odd rows should stay at chance")
    }
}
