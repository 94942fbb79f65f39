import Comm
import Storage
import TestSupport
import XCTest
@testable import Training

final class StatefulLearningTests: XCTestCase {
    private func lastEpochAccuracy(reset: ResetPolicy, dataset: String, scratch: TemporaryFolder) throws -> Double {
        var config = TrainingRequest(dataset: dataset)
        config.slotsPerRank = 8
        config.hidden = 16
        config.reset = reset
        config.learningRate = 0.02
        config.epochs = 25
        config.checkpointDirectory = scratch.file("checkpoints-\(reset)")
        let trainer = try Trainer(request: config, comm: SingleProcessCommunicator())
        var lastEpoch: TargetSums?
        _ = try trainer.run { event in
            if case .epoch(let epoch) = event { lastEpoch = epoch.sums }
        }
        return try XCTUnwrap(lastEpoch).accuracy
    }

    func testAnAnswerInAnEarlierWindowIsLearnedWithCarriedStateButNotWhenResetPerRow() throws {
        let scratch = try makeTemporaryFolder()
        let dataset = scratch.file("stream.h5")
        try writePulseStream(dataset, rows: 400)
        let carried = try lastEpochAccuracy(reset: .epoch, dataset: dataset, scratch: scratch)
        let reset = try lastEpochAccuracy(reset: .row, dataset: dataset, scratch: scratch)
        // Odd rows are half the targets: at chance they cap accuracy near 0.75.
        XCTAssertGreaterThan(carried, 0.95, "carried state should answer odd rows from the previous window")
        XCTAssertLessThan(reset, 0.80, "with a reset per row, odd rows should stay at chance")
    }
}
