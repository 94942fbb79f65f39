import Foundation
import Storage
import TestSupport
import XCTest

/// `train --precision bf16` under real mpirun, on the bf16 reference loops (LSTM_DIST_KERNELS=reference), so
/// every machine runs it: the equivalence and resume bounds for bf16 products.
final class BF16CommandTests: XCTestCase {
    private var folder: TemporaryFolder!
    /// `writeVariedRows`: 203 rows, 3 windows of 4 each, targets in the last window only.
    private var dataset: String!
    private let reference = ["LSTM_DIST_KERNELS": "reference"]

    override func setUpWithError() throws {
        folder = try makeTemporaryFolder()
        dataset = folder.file("rows.h5")
        try writeVariedRows(dataset)
    }

    private func train(_ arguments: [String], ranks: Int? = nil, checkpoints: String) throws -> CommandResult {
        let result = try LSTMDist.run(["train", dataset, "--window", "4", "--hidden", "8", "--checkpoint-dir",
                                       folder.file(checkpoints)] + arguments, ranks: ranks, environment: reference)
        XCTAssertEqual(result.status, 0, "\(result)")
        return result
    }

    private func model(_ directory: String, step: Int) throws -> [String: [Float]] {
        let checkpoint = try Checkpoint(path: folder.file(directory) + "/" + Checkpoint.fileName(globalStep: step))
        return checkpoint.tensors.filter { $0.key.hasPrefix("model/") }.mapValues(\.values)
    }

    /// N ranks x B slots against 1 x N*B in bf16: the first step's update to 1e-4 and the weights after two
    /// epochs of SGD to 1e-3, norm-wise. Not bit for bit: the ranks' sums differ from one rank's in their last
    /// bits, and such a difference may round an operand to another bf16 value in the next product.
    func testNRanksOfBSlotsTrainInBF16WhatOneRankOfNBSlotsTrains() throws {
        let sgd = ["--optimizer", "sgd", "--precision", "bf16"]
        _ = try train(sgd + ["--lr", "0", "--max-steps", "1", "--slots", "4"], checkpoints: "initial")
        let initial = try model("initial", step: 1)
        for (slots, ranks) in [(4, 1), (2, 2), (1, 4)] {
            _ = try train(sgd + ["--lr", "0.5", "--max-steps", "1", "--slots", "\(slots)"], ranks: ranks,
                          checkpoints: "first-\(ranks)")
            _ = try train(sgd + ["--lr", "0.5", "--epochs", "2", "--slots", "\(slots)"], ranks: ranks,
                          checkpoints: "epochs-\(ranks)")
        }
        let firstOne = try model("first-1", step: 1), epochsOne = try model("epochs-1", step: 2 * 3 * 51)
        for ranks in [2, 4] {
            let first = try model("first-\(ranks)", step: 1), epochs = try model("epochs-\(ranks)", step: 2 * 3 * 51)
            for (name, start) in initial {
                let update = zip(first[name]!, start).map { $0 - $1 }, updateOne = zip(firstOne[name]!, start).map { $0 - $1 }
                XCTAssertLessThan(relativeDifference(update, updateOne), 1e-4, "\(ranks) ranks: \(name)'s first update")
                XCTAssertLessThan(relativeDifference(epochs[name]!, epochsOne[name]!), 1e-3, "\(ranks) ranks: \(name) after 2 epochs")
            }
        }
    }

    /// A bf16 run stopped and resumed gives the same bits as one that never stopped, and it is not the fp32
    /// run (the products did round).
    func testABF16RunResumedIsBitIdenticalToAnUninterruptedOne() throws {
        let run = ["--epochs", "2", "--slots", "2", "--precision", "bf16"]
        _ = try train(run, ranks: 2, checkpoints: "straight")
        _ = try train(run + ["--max-steps", "100"], ranks: 2, checkpoints: "resumed")
        let resumed = try train(["--resume", "latest"], ranks: 2, checkpoints: "resumed")
        XCTAssertFalse(resumed.stdout.contains("was fp32"), resumed.stdout)
        let path = { (directory: String) in self.folder.file(directory) + "/" + Checkpoint.fileName(globalStep: 306) }
        try assertBitIdentical(try Checkpoint(path: path("straight")), try Checkpoint(path: path("resumed")))
        _ = try train(["--epochs", "2", "--slots", "2"], ranks: 2, checkpoints: "fp32")
        let bf16 = try model("straight", step: 306), fp32 = try model("fp32", step: 306)
        for (name, values) in fp32 {
            let difference = relativeDifference(bf16[name]!, values)
            XCTAssertGreaterThan(difference, 0, "\(name): bf16 trained the fp32 weights")
            XCTAssertLessThan(difference, 0.5, "\(name): bf16 strayed from fp32")
        }
    }
}
