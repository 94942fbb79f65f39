import Foundation
import Storage
import TestSupport
import XCTest

/// `train --dropout` through the built binary: masks that follow global slots and steps, so rank
/// count and resume do not change them, and that never reach evaluation.
final class DropoutCommandTests: XCTestCase {
    private var folder: TemporaryFolder!
    /// `writeVariedRows`: 203 rows, 3 windows of 4 each, targets in the last window only.
    private var dataset: String!

    override func setUpWithError() throws {
        folder = try makeTemporaryFolder()
        dataset = folder.file("rows.h5")
        try writeVariedRows(dataset)
    }

    private func train(_ arguments: [String], ranks: Int? = nil, checkpoints: String) throws {
        let result = try LSTMDist.run(["train", dataset, "--window", "4", "--hidden", "8", "--layers", "2",
                                       "--checkpoint-dir", folder.file(checkpoints)] + arguments, ranks: ranks)
        XCTAssertEqual(result.status, 0, "\(result)")
    }

    private func checkpoint(_ directory: String, step: Int) throws -> Checkpoint {
        try Checkpoint(path: folder.file(directory) + "/" + Checkpoint.fileName(globalStep: step))
    }

    func testFourRanksOfTwoSlotsDropWhatOneRankOfEightDrops() throws {
        let sgd = ["--optimizer", "sgd", "--lr", "0.5", "--epochs", "2", "--dropout", "0.3"]
        _ = try train(sgd + ["--slots", "8"], checkpoints: "one")
        _ = try train(sgd + ["--slots", "2"], ranks: 4, checkpoints: "four")
        _ = try train(Array(sgd.dropLast(2)) + ["--slots", "8"], checkpoints: "undropped")
        let steps = 2 * 3 * 26  // 2 epochs x 3 windows x ceil(203 / 8) rows per slot
        let reference = try checkpoint("one", step: steps), distributed = try checkpoint("four", step: steps)
        let undropped = try checkpoint("undropped", step: steps)
        for (name, tensor) in reference.tensors where name.hasPrefix("model/") || name.hasPrefix("state/") {
            let difference = relativeDifference(distributed.tensors[name]!.values, tensor.values)
            XCTAssertLessThan(difference, 1e-5, "\(name) differs by \(difference) (norm-wise)")
        }
        let kernel = "model/lstm_1/kernel"
        XCTAssertGreaterThan(relativeDifference(undropped.tensors[kernel]!.values, reference.tensors[kernel]!.values), 1e-2,
                             "dropout should change what is learned")
    }

    func testAResumeMidEpochWithDropoutIsBitIdentical() throws {
        let run = ["--epochs", "2", "--slots", "2", "--dropout", "0.5"]
        _ = try train(run, ranks: 2, checkpoints: "straight")
        _ = try train(run + ["--max-steps", "100"], ranks: 2, checkpoints: "resumed")
        _ = try train(["--resume", "latest"], ranks: 2, checkpoints: "resumed")
        try assertBitIdentical(try checkpoint("straight", step: 306), try checkpoint("resumed", step: 306))
    }

    /// Validation inside training and `evaluate` afterwards score the same model the same way:
    /// neither drops anything.
    func testValidationAndEvaluateOfADropoutModelAreUndropped() throws {
        _ = try train(["--epochs", "1", "--slots", "4", "--dropout", "0.5", "--validation", dataset], checkpoints: "validated")
        let trained = try checkpoint("validated", step: 3 * 51)
        guard case .double(let validationLoss)? = trained.attributes["val_loss"] else { return XCTFail("no val_loss") }
        let evaluated = try LSTMDist.run(["evaluate", folder.file("validated") + "/" + Checkpoint.fileName(globalStep: 3 * 51), dataset, "--json"])
        XCTAssertEqual(evaluated.status, 0, "\(evaluated)")
        let json = try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as? [String: [String: Double]]
        let loss = try XCTUnwrap(json?["train"]?["loss"])
        XCTAssertEqual(loss, validationLoss, accuracy: 1e-9 * abs(validationLoss))
    }
}
