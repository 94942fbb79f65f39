import Foundation
import Storage
import TestSupport
import XCTest

/// `lstm-dist evaluate` and `predict` as a user runs them: the built binary, alone and under
/// real `mpirun`, on checkpoints that `train` wrote.
final class EvaluateCommandTests: XCTestCase {
    private var folder: TemporaryFolder!

    override func setUpWithError() throws {
        folder = try makeTemporaryFolder()
    }

    private func rowsDataset(_ name: String = "rows.h5", rows: Int = 203, features: Int = 2, task: Task = .binary) throws -> String {
        let path = folder.file(name)
        try writeVariedRows(path, rows: rows, features: features, task: task)
        return path
    }

    /// Trains on `dataset` and returns its last checkpoint.
    private func train(_ dataset: String, _ arguments: [String], ranks: Int? = nil) throws -> String {
        let directory = folder.file("checkpoints-" + UUID().uuidString)
        let result = try LSTMDist.run(["train", dataset, "--checkpoint-dir", directory] + arguments, ranks: ranks)
        XCTAssertEqual(result.status, 0, "\(result)")
        return try XCTUnwrap(try Checkpoint.latest(in: directory))
    }

    /// A model that answers the pulse stream from carried state (8 global slots).
    private func trainedPulseModel() throws -> (checkpoint: String, dataset: String) {
        let dataset = folder.file("pulses.h5")
        try writePulseStream(dataset, rows: 400)
        return (try train(dataset, ["--slots", "8", "--hidden", "16", "--lr", "0.02", "--epochs", "25"]), dataset)
    }

    /// `evaluate --json`: metric by name by layout.
    private func evaluate(_ checkpoint: String, _ dataset: String, layouts: String = "train", ranks: Int? = nil) throws -> [String: [String: Double]] {
        let result = try LSTMDist.run(["evaluate", checkpoint, dataset, "--layout", layouts, "--json"], ranks: ranks)
        XCTAssertEqual(result.status, 0, "\(result)")
        let parsed = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: [String: Double]]
        return try XCTUnwrap(parsed, "one JSON object keyed by layout\n\(result)")
    }

    /// `predict` into an HDF5 file: its `/predictions` and their shape.
    private func predict(_ checkpoint: String, _ dataset: String, _ arguments: [String] = [], ranks: Int? = nil) throws -> Tensor {
        let out = folder.file("predictions-\(UUID().uuidString).h5")
        let result = try LSTMDist.run(["predict", checkpoint, dataset, "--out", out] + arguments, ranks: ranks)
        XCTAssertEqual(result.status, 0, "\(result)")
        let predictions = try H5File(path: out, mode: .readOnly).dataset("predictions")
        return Tensor(shape: try predictions.shape, values: try predictions.read(as: Float.self))
    }

    func testOneEpochAtLearningRateZeroAndEvaluateInTheTrainingLayoutReportTheSameLossAndAccuracy() throws {
        let dataset = try rowsDataset()
        let log = folder.file("log.jsonl")
        let checkpoint = try train(dataset, ["--window", "4", "--hidden", "8", "--slots", "2", "--epochs", "1", "--lr", "0", "--log", log], ranks: 2)
        let epochLine = try XCTUnwrap(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").last { $0.contains("\"event\": \"epoch\"") })
        let epoch = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(epochLine.utf8)) as? [String: Any])

        for ranks in [2, nil] {
            let train = try XCTUnwrap(try evaluate(checkpoint, dataset, ranks: ranks)["train"])
            XCTAssertEqual(train["loss"]!, epoch["loss"] as! Double, accuracy: 1e-5 * train["loss"]!, "ranks \(ranks ?? 1)")
            XCTAssertEqual(train["accuracy"]!, epoch["accuracy"] as! Double, accuracy: 1e-12, "ranks \(ranks ?? 1)")
            XCTAssertEqual(train["targets"], 203)
        }
    }

    func testAStreamThatNeedsCarriedStateScoresClearlyLowerInterleavedAndIndependentThanInTheTrainingLayout() throws {
        let (checkpoint, dataset) = try trainedPulseModel()
        let scores = try evaluate(checkpoint, dataset, layouts: "train,interleaved,independent", ranks: 2)
        XCTAssertEqual(Array(scores.keys).sorted(), ["independent", "interleaved", "train"])
        XCTAssertGreaterThan(scores["train"]!["accuracy"]!, 0.95, "\(scores)")
        // Odd rows are half the targets and need the previous row's pulse: at chance, about 0.75.
        XCTAssertLessThan(scores["interleaved"]!["accuracy"]!, 0.85, "\(scores)")
        XCTAssertLessThan(scores["independent"]!["accuracy"]!, 0.85, "\(scores)")
    }

    func testPredictionsComeBackInRowOrderAndTheSameOnOneTwoAndFourRanks() throws {
        let (checkpoint, dataset) = try trainedPulseModel()
        let block = try DatasetReader(path: dataset).readRows(0..<400)
        let reference = try predict(checkpoint, dataset)
        XCTAssertEqual(reference.shape, [400, 8, 1])
        for ranks in [2, 4] {
            let distributed = try predict(checkpoint, dataset, ranks: ranks)
            let difference = zip(distributed.values, reference.values).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(difference, 1e-6, "\(ranks) ranks")
        }
        // Scored against the targets in row order, the predictions give evaluate's numbers: any
        // row out of place would miss its target.
        for layout in ["train", "interleaved"] {
            let predictions = try predict(checkpoint, dataset, ["--layout", layout], ranks: 2)
            let scores = try XCTUnwrap(try evaluate(checkpoint, dataset, layouts: layout, ranks: 2)[layout])
            let targets = block.classTargets.map(Double.init)
            let p = predictions.values.map(Double.init)
            let loss = zip(p, targets).map { p, y in -(y * log(p) + (1 - y) * log(1 - p)) }.reduce(0, +) / 3200
            let accuracy = Double(zip(p, targets).filter { ($0 > 0.5) == ($1 == 1) }.count) / 3200
            XCTAssertEqual(loss, scores["loss"]!, accuracy: 1e-3 * scores["loss"]!, layout)
            XCTAssertEqual(accuracy, scores["accuracy"]!, layout)
        }
    }

    func testCSVHoldsTheValidTimestepsOfTheHDF5PredictionsWhichAreZeroAtPadding() throws {
        let dataset = folder.file("steps.h5")
        try writeFeatureDataset(dataset, rows: 30, length: 6, padding: .post, targetKind: .step, lengths: { 1 + $0 % 6 },
                                value: { row, t, _ in Float(row % 5) - Float(t) }, label: { row, t in (row + t) % 2 == 0 ? 1 : 0 })
        let checkpoint = try train(dataset, ["--slots", "2", "--hidden", "4", "--epochs", "1"])
        let h5 = try predict(checkpoint, dataset)
        let csv = folder.file("predictions.csv")
        XCTAssertEqual(try LSTMDist.run(["predict", checkpoint, dataset, "--out", csv]).status, 0)

        var lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.removeFirst(), "row,t,p0")
        var expected: [String] = []
        for row in 0..<30 {
            for t in 0..<6 {
                let value = h5.values[row * 6 + t]
                if t < 1 + row % 6 { expected.append("\(row),\(t),\(value)") } else { XCTAssertEqual(value, 0, "row \(row) t \(t) is padding") }
            }
        }
        XCTAssertEqual(lines.map(String.init), expected)
    }

    func testPerRowPredictionsAreOneProbabilityPerRowScoringAsEvaluateDoesEvenWithIdleSlots() throws {
        let dataset = try rowsDataset()
        let checkpoint = try train(dataset, ["--window", "4", "--hidden", "8", "--slots", "2", "--epochs", "2"], ranks: 2)
        let predictions = try predict(checkpoint, dataset, ["--layout", "independent"])
        XCTAssertEqual(predictions.shape, [203, 1])
        let targets = try DatasetReader(path: dataset).readRows(0..<203).classTargets.map(Double.init)
        let loss = zip(predictions.values.map(Double.init), targets).map { p, y in -(y * log(p) + (1 - y) * log(1 - p)) }.reduce(0, +) / 203
        let scores = try XCTUnwrap(try evaluate(checkpoint, dataset, layouts: "independent")["independent"])
        XCTAssertEqual(loss, scores["loss"]!, accuracy: 1e-4 * scores["loss"]!)

        // Fewer rows than the checkpoint's 4 global slots: one slot idles.
        let threeRows = try rowsDataset("three-rows.h5", rows: 3)
        XCTAssertEqual(try evaluate(checkpoint, threeRows, ranks: 2)["train"]?["targets"], 3)
        // Its rows are the first three above, each from zero state (the dataset's rows are independent).
        for (idle, full) in zip(try predict(checkpoint, threeRows, ranks: 2).values, predictions.values) {
            XCTAssertEqual(idle, full, accuracy: 1e-6)
        }
    }

    func testMismatchedDataRankCountsAndExistingOutputsAreRefusedWithOneLine() throws {
        let dataset = try rowsDataset()
        let binary = try train(dataset, ["--window", "4", "--hidden", "8", "--slots", "2", "--epochs", "1"], ranks: 2)
        let threeFeatures = try rowsDataset("three.h5", features: 3)
        let regression = try rowsDataset("regression.h5", task: .regression)

        let rows = (0..<40).map { "{\"x\": [[\($0 % 3).5], [1.5], [2.5]], \"y\": \($0 % 3)}" }.joined(separator: "\n")
        let jsonl = try folder.write("classes.jsonl", rows + "\n")
        for (name, extra) in [("three-classes.h5", [String]()), ("four-classes.h5", ["--num-classes", "4"])] {
            XCTAssertEqual(try LSTMDist.run(["pack", jsonl, "--out", folder.file(name)] + extra).status, 0)
        }
        let threeClasses = try train(folder.file("three-classes.h5"), ["--slots", "2", "--hidden", "4", "--epochs", "1"])

        for (name, text) in [("abc", String(repeating: "abcab", count: 20)), ("abd", String(repeating: "abdab", count: 20))] {
            XCTAssertEqual(try LSTMDist.run(["pack", try folder.write(name + ".txt", text), "--length", "10", "--out", folder.file(name + ".h5")]).status, 0)
        }
        let text = try train(folder.file("abc.h5"), ["--slots", "2", "--hidden", "4", "--embedding", "2", "--epochs", "1"])

        let existing = try folder.write("existing.h5", "keep me")
        let refusals: [(arguments: [String], ranks: Int?, reason: String)] = [
            (["evaluate", binary, threeFeatures], nil, "the feature count is 3 but the model's is 2"),
            (["evaluate", binary, regression], nil, "the task is regression but the model's is binary"),
            (["evaluate", threeClasses, folder.file("four-classes.h5")], nil, "the class count is 4 but the model's is 3"),
            (["evaluate", text, folder.file("abd.h5")], nil, "the vocabulary gives token ids to other characters"),
            (["evaluate", binary, dataset], 3, "4 global slots, which 3 ranks cannot share evenly"),
            (["predict", binary, threeFeatures, "--out", folder.file("refused.h5")], 2, "the feature count is 3"),
            (["predict", binary, dataset, "--out", existing], 2, "already exists (pass --force"),
        ]
        for refusal in refusals {
            let result = try LSTMDist.run(refusal.arguments, ranks: refusal.ranks)
            XCTAssertNotEqual(result.status, 0, "\(refusal.arguments)\n\(result)")
            XCTAssertTrue(result.stderr.contains(refusal.reason), "expected '\(refusal.reason)'\n\(result)")
            XCTAssertEqual(result.stderr.components(separatedBy: "Error:").count, 2, "one error line, not one per rank\n\(result)")
        }
        XCTAssertEqual(try String(contentsOfFile: existing, encoding: .utf8), "keep me")
        XCTAssertFalse(folder.contents.contains { $0.hasPrefix("refused") || $0.hasSuffix(".tmp") }, "\(folder.contents)")
    }
}
