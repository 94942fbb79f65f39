import Foundation
import Storage
import TestSupport
import XCTest

/// `lstm-dist forecast` as a user runs it: the built binary, alone and under real `mpirun`.
/// (Its values against numpy, and its skill on a wave, are checked from Python:
/// Tests/python/test_inference_numpy.py.)
final class ForecastCommandTests: XCTestCase {
    private var folder: TemporaryFolder!

    override func setUpWithError() throws {
        folder = try makeTemporaryFolder()
    }

    private func train(_ dataset: String, _ arguments: [String], ranks: Int? = nil) throws -> String {
        let directory = folder.file("checkpoints-" + UUID().uuidString)
        let result = try LSTMDist.run(["train", dataset, "--checkpoint-dir", directory] + arguments, ranks: ranks)
        XCTAssertEqual(result.status, 0, "\(result)")
        return try XCTUnwrap(try Checkpoint.latest(in: directory))
    }

    private func pack(_ csv: String, _ arguments: [String]) throws -> String {
        let out = folder.file("packed-\(UUID().uuidString).h5")
        let result = try LSTMDist.run(["pack", csv, "--out", out] + arguments)
        XCTAssertEqual(result.status, 0, "\(result)")
        return out
    }

    /// Two series `a` and `b` by `id`, 9 to 20 steps each.
    private func seriesCSV() throws -> String {
        var lines = ["id,a,b"]
        for id in 0 ..< 12 {
            for t in 0 ..< 9 + id % 12 { lines.append("\(id),\(sin(Double(t + id) / 3)),\(Double(t % 4) / 4)") }
        }
        return try folder.write("series.csv", lines.joined(separator: "\n") + "\n")
    }

    private func forecast(_ checkpoint: String, _ dataset: String, steps: Int, ranks: Int?) throws -> Tensor {
        let out = folder.file("forecast-\(UUID().uuidString).h5")
        let result = try LSTMDist.run(["forecast", checkpoint, dataset, "--steps", "\(steps)", "--out", out], ranks: ranks)
        XCTAssertEqual(result.status, 0, "\(result)")
        let forecast = try H5File(path: out, mode: .readOnly).dataset("forecast")
        return Tensor(shape: try forecast.shape, values: try forecast.read(as: Float.self))
    }

    func testOneTwoAndFourRanksForecastAlikeInRowOrderWithZerosForEmptyRowsAndCSVHoldsTheSame() throws {
        // Post-padded rows cut into windows of 4: a row's last valid input often lies in an earlier
        // window than its last. Rows 3, 10, 17, ... are empty.
        let dataset = folder.file("steps.h5")
        try writeFeatureDataset(dataset, rows: 30, length: 12, features: 2, padding: .post, stream: .contiguous, targetKind: .step,
                                task: .regression, targetOrigin: TargetOrigin(horizon: 1, features: [1]),
                                lengths: { $0 % 7 == 3 ? 0 : 2 + $0 % 11 },
                                value: { row, t, f in sin(Float(row * 3 + t)) * Float(f + 1) }, label: { row, t in 2 * sin(Float(row * 3 + t + 1)) })
        let checkpoint = try train(dataset, ["--window", "4", "--hidden", "8", "--layers", "2", "--slots", "2", "--max-steps", "40"], ranks: 2)
        let reference = try forecast(checkpoint, dataset, steps: 6, ranks: nil)
        XCTAssertEqual(reference.shape, [30, 6, 1])
        for ranks in [2, 4] {
            let distributed = try forecast(checkpoint, dataset, steps: 6, ranks: ranks)
            XCTAssertLessThan(zip(distributed.values, reference.values).map { abs($0 - $1) }.max()!, 1e-6, "\(ranks) ranks")
        }
        for row in 0 ..< 30 {
            let values = reference.values[row * 6 ..< (row + 1) * 6]
            XCTAssertEqual(values.allSatisfy { $0 == 0 }, row % 7 == 3, "row \(row): \(values)")
        }

        let csv = folder.file("forecast.csv")
        let result = try LSTMDist.run(["forecast", checkpoint, dataset, "--steps", "6", "--out", csv], ranks: 2)
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertTrue(result.stdout.contains("feature 0 is not forecast (no target continues it): held at the row's last value"), result.stdout)
        var lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.removeFirst(), "row,h,p0")
        let expected = (0 ..< 30).filter { $0 % 7 != 3 }.flatMap { row in (0 ..< 6).map { "\(row),\($0 + 1),\(reference.values[row * 6 + $0])" } }
        XCTAssertEqual(lines, expected)
    }

    func testDataThatCannotBeForecastIsRefusedWithOneLineSayingWhatToPack() throws {
        let csv = try seriesCSV()
        let forecastable = try pack(csv, ["--id", "id", "--target", "a", "--horizon", "1"])
        let model = try train(forecastable, ["--hidden", "4", "--slots", "2", "--max-steps", "2"])
        let otherTarget = try pack(csv, ["--id", "id", "--target", "b", "--horizon", "1"])
        let farAhead = try pack(csv, ["--id", "id", "--target", "a", "--horizon", "3"])
        let notAFeature = try pack(csv, ["--id", "id", "--features", "b", "--target", "a", "--horizon", "1"])
        let unshifted = try pack(csv, ["--id", "id", "--features", "a,b", "--target", "a"])
        let h5pyMade = folder.file("h5py-made.h5")
        try writeFeatureDataset(h5pyMade, rows: 12, length: 6, features: 2, targetKind: .step, task: .regression,
                                value: { row, t, f in Float(row + t + f) }, label: { row, t in Float(row - t) })
        let perRow = try writeVariedRowsDataset("per-row.h5", task: .regression)
        let binary = try writeVariedRowsDataset("binary.h5", task: .binary)
        let existing = try folder.write("existing.h5", "keep me")

        let refusals: [(checkpoint: String, dataset: String, extra: [String], reason: String)] = [
            (try train(binary, ["--hidden", "4", "--slots", "2", "--max-steps", "1"]), binary, [],
             "forecast needs regression targets, but the task is binary; pack a numeric series with --target COL --horizon 1"),
            (try train(perRow, ["--hidden", "4", "--slots", "2", "--max-steps", "1"]), perRow, [],
             "forecast needs targets per timestep, but they are per row; pack the series with --target COL --horizon 1 instead of --label"),
            (try train(h5pyMade, ["--hidden", "4", "--slots", "2", "--max-steps", "1"]), h5pyMade, [],
             "no horizon and /target_features (it was not packed by `lstm-dist pack --target`)"),
            (try train(farAhead, ["--hidden", "4", "--slots", "2", "--max-steps", "1"]), farAhead, [],
             "the targets are 3 timesteps ahead (horizon 3); forecast feeds each prediction back as the next input, which needs --horizon 1"),
            (try train(unshifted, ["--hidden", "4", "--slots", "2", "--max-steps", "1"]), unshifted, [], "the targets are the inputs' own timesteps (horizon 0)"),
            (try train(notAFeature, ["--hidden", "4", "--slots", "2", "--max-steps", "1"]), notAFeature, [],
             "target column 0 is not an input feature, so its predictions cannot be fed back; pack with the --target columns among --features"),
            (model, otherTarget, [], "the targets are later values of other features or at another horizon"),
            (model, forecastable, ["--steps", "0"], "--steps must be 1 or more"),
            (model, forecastable, ["--steps", "\(Int.max)"], "rank 0 would hold more than 512 MiB of forecasts per step (2 slots x \(Int.max) steps x 1 values); use at most 67108864 steps"),
            (model, forecastable, ["--out", existing], "already exists (pass --force"),
        ]
        for refusal in refusals {
            let arguments = ["forecast", refusal.checkpoint, refusal.dataset]
                + (refusal.extra.contains("--steps") ? [] : ["--steps", "5"])
                + (refusal.extra.contains("--out") ? [] : ["--out", folder.file("refused.h5")]) + refusal.extra
            let result = try LSTMDist.run(arguments, ranks: 2)
            XCTAssertNotEqual(result.status, 0, "\(arguments)\n\(result)")
            XCTAssertTrue(result.stderr.contains(refusal.reason), "expected '\(refusal.reason)'\n\(result)")
            XCTAssertEqual(result.stderr.components(separatedBy: "Error:").count, 2, "one error line, not one per rank\n\(result)")
        }
        XCTAssertEqual(try String(contentsOfFile: existing, encoding: .utf8), "keep me")
        XCTAssertFalse(folder.contents.contains { $0.hasPrefix("refused") || $0.hasSuffix(".tmp") }, "\(folder.contents)")
    }

    private func writeVariedRowsDataset(_ name: String, task: Task) throws -> String {
        try writeVariedRows(folder.file(name), task: task)
        return folder.file(name)
    }
}
