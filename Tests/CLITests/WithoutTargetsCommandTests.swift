import Foundation
import Storage
import TestSupport
import XCTest

/// Datasets without targets as a user meets them (docs/datasets.md): `pack` writes one when the
/// input has no `y`, `--label` or `--target` and says so; `inspect`, `predict` and `forecast`
/// accept it; `train` and `evaluate` refuse it in one line.
final class WithoutTargetsCommandTests: XCTestCase {
    private var folder: TemporaryFolder!

    override func setUpWithError() throws {
        folder = try makeTemporaryFolder()
    }

    private func pack(_ input: String, _ arguments: [String], into name: String = "packed-\(UUID().uuidString).h5") throws -> (path: String, stdout: String) {
        let out = folder.file(name)
        let result = try LSTMDist.run(["pack", input, "--out", out] + arguments)
        XCTAssertEqual(result.status, 0, "\(result)")
        return (out, result.stdout)
    }

    private func train(_ dataset: String, _ arguments: [String]) throws -> String {
        let directory = folder.file("checkpoints-" + UUID().uuidString)
        let result = try LSTMDist.run(["train", dataset, "--checkpoint-dir", directory] + arguments)
        XCTAssertEqual(result.status, 0, "\(result)")
        return try XCTUnwrap(try Checkpoint.latest(in: directory))
    }

    /// Runs `command CHECKPOINT DATASET ARGS --out FILE` and returns the named dataset of the output.
    private func output(_ command: String, _ checkpoint: String, _ dataset: String, _ arguments: [String], ranks: Int? = nil,
                        name: String) throws -> (shape: [Int], values: [Float]) {
        let out = folder.file("\(command)-\(UUID().uuidString).h5")
        let result = try LSTMDist.run([command, checkpoint, dataset, "--out", out] + arguments, ranks: ranks)
        XCTAssertEqual(result.status, 0, "\(result)")
        let data = try H5File(path: out, mode: .readOnly).dataset(name)
        return (try data.shape, try data.read(as: Float.self))
    }

    /// 14 sequences of one to three features, 3 to 15 steps each, with a label per sequence
    /// (`label`) and a value per step (`next`); `id` groups them.
    private func sequencesCSV() throws -> String {
        var lines = ["id,a,b,label,next"]
        for id in 0 ..< 14 {
            for t in 0 ..< 3 + id % 13 {
                lines.append("\(id),\(sin(Double(t + id) / 3)),\(Double((t * 7 + id) % 5) / 4),\(id % 2),\(cos(Double(t * id) / 5))")
            }
        }
        return try folder.write("sequences.csv", lines.joined(separator: "\n") + "\n")
    }

    func testPackSaysSoAndInspectAndInspectCheckAcceptTheFile() throws {
        let csv = try sequencesCSV()
        let (dataset, said) = try pack(csv, ["--id", "id", "--features", "a,b"])
        XCTAssertTrue(said.contains("targets: none (no --label or --target)"), said)
        XCTAssertTrue(said.contains("task: none, the input has no targets (no /targets: for predict and forecast, not train or evaluate)"), said)

        for arguments in [[], ["--check"]] {
            let text = try LSTMDist.run(["inspect", dataset] + arguments)
            XCTAssertEqual(text.status, 0, "\(text)")
            XCTAssertTrue(text.stdout.contains("targets     none (task none): for predict and forecast, not train or evaluate"), text.stdout)
        }
        let json = try LSTMDist.run(["inspect", dataset, "--json", "--check"])
        XCTAssertEqual(json.status, 0, "\(json)")
        let described = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(described["task"] as? String, "none")
        XCTAssertNil(described["target_kind"], "\(described)")
        XCTAssertNil(described["target_width"], "\(described)")
    }

    func testTrainAndEvaluateRefuseInOneLineAndPackRefusesTaskNone() throws {
        let csv = try sequencesCSV()
        let unlabelled = try pack(csv, ["--id", "id", "--features", "a,b"]).path
        let labelled = try pack(csv, ["--id", "id", "--features", "a,b", "--label", "label"]).path
        let model = try train(labelled, ["--hidden", "4", "--slots", "2", "--max-steps", "2"])
        let refusals: [(arguments: [String], ranks: Int?, reason: String)] = [
            (["train", unlabelled, "--checkpoint-dir", folder.file("never")], nil,
             "\(unlabelled): no targets (task none), so train cannot use it; predict and forecast can, or pack its input with y (JSON Lines), --label or --target (CSV)"),
            (["train", unlabelled, "--checkpoint-dir", folder.file("never")], 2, "\(unlabelled): no targets (task none), so train cannot use it"),
            (["train", labelled, "--validation", unlabelled, "--slots", "2", "--checkpoint-dir", folder.file("never")], nil,
             "\(unlabelled): no targets (task none), so train --validation cannot use it"),
            (["evaluate", model, unlabelled], nil, "\(unlabelled): no targets (task none), so evaluate cannot use it"),
            (["evaluate", model, unlabelled, "--json"], 2, "\(unlabelled): no targets (task none), so evaluate cannot use it"),
            (["pack", csv, "--id", "id", "--label", "label", "--task", "none", "--out", folder.file("never.h5")], nil, "--task"),
        ]
        for refusal in refusals {
            let result = try LSTMDist.run(refusal.arguments, ranks: refusal.ranks)
            XCTAssertNotEqual(result.status, 0, "\(refusal.arguments)\n\(result)")
            XCTAssertTrue(result.stderr.contains(refusal.reason), "expected '\(refusal.reason)'\n\(result)")
            XCTAssertEqual(result.stderr.components(separatedBy: "Error:").count, 2, "one error line\n\(result)")
            XCTAssertEqual(result.stdout, "", "\(result)")
        }
        XCTAssertFalse(folder.contents.contains { $0.hasPrefix("never") }, "\(folder.contents)")
    }

    /// predict on a file without targets writes the bytes it writes on the labelled file packed
    /// from the same inputs: per-row and per-timestep models, normalised ones (the unlabelled
    /// split packed --like the training file), features and tokens, HDF5 and CSV, 1 and 2 ranks.
    func testPredictWithoutTargetsEqualsPredictOnTheLabelledFile() throws {
        let csv = try sequencesCSV()
        func tokenLines(_ y: (Int) -> String) -> String {
            (0 ..< 11).map { row in "{\"x\": [\((0 ..< 2 + row % 7).map { "\(($0 * 3 + row) % 9)" }.joined(separator: ", "))]\(y(row))}" }
                .joined(separator: "\n") + "\n"
        }
        let tokens = try folder.write("tokens.jsonl", tokenLines { ", \"y\": \($0 % 3)" })
        let unlabelledTokens = try folder.write("tokens-new.jsonl", tokenLines { _ in "" })
        let cases: [(name: String, labelled: (String, [String]), unlabelled: (String, [String]), like: Bool)] = [
            ("per row", (csv, ["--id", "id", "--features", "a,b", "--label", "label", "--padding", "post"]),
             (csv, ["--id", "id", "--features", "a,b", "--padding", "post"]), false),
            ("per timestep, normalised", (csv, ["--id", "id", "--features", "a,b", "--target", "next", "--normalize", "--maxlen", "9"]),
             (csv, ["--id", "id", "--features", "a,b", "--maxlen", "9", "--no-targets"]), true),
            ("per row, tokens", (tokens, []), (unlabelledTokens, []), true),
        ]
        for (name, labelledInput, unlabelledInput, like) in cases {
            let labelled = try pack(labelledInput.0, labelledInput.1).path
            let unlabelled = try pack(unlabelledInput.0, unlabelledInput.1 + (like ? ["--like", labelled] : [])).path
            XCTAssertEqual(try DatasetReader(path: unlabelled).header.task, .unlabelled, name)
            let model = try train(labelled, ["--hidden", "5", "--slots", "3", "--window", "4", "--max-steps", "6", "--lr", "0.05"])
            for ranks in [nil, 3] {
                let expected = try output("predict", model, labelled, [], ranks: ranks, name: "predictions")
                let got = try output("predict", model, unlabelled, [], ranks: ranks, name: "predictions")
                XCTAssertEqual(got.shape, expected.shape, name)
                XCTAssertEqual(got.values.map(\.bitPattern), expected.values.map(\.bitPattern), "\(name), \(ranks ?? 1) ranks")
                XCTAssertTrue(expected.values.contains { $0 != 0 }, name)
            }
            var texts: [String] = []
            for dataset in [labelled, unlabelled] {
                let out = folder.file("predictions-\(UUID().uuidString).csv")
                let result = try LSTMDist.run(["predict", model, dataset, "--out", out])
                XCTAssertEqual(result.status, 0, "\(result)")
                texts.append(try String(contentsOfFile: out, encoding: .utf8))
            }
            XCTAssertEqual(texts[0], texts[1], name)
        }
    }

    /// An unlabelled series forecasts from the state after its last input: on one value per
    /// timestep, exactly what the labelled --horizon 1 pack (one timestep shorter per sequence)
    /// forecasts from its last input and last target.
    func testForecastWithoutTargetsStartsAfterTheLastInput() throws {
        var lines = ["id,x"]
        for id in 0 ..< 9 { for t in 0 ..< 4 + id * 2 { lines.append("\(id),\(sin(Double(t) / 2 + Double(id)))") } }
        let csv = try folder.write("series.csv", lines.joined(separator: "\n") + "\n")
        let labelled = try pack(csv, ["--id", "id", "--target", "x", "--horizon", "1", "--normalize", "--padding", "post"]).path
        let unlabelled = try pack(csv, ["--no-targets", "--like", labelled]).path
        XCTAssertEqual(try DatasetReader(path: unlabelled).readLengths(), try DatasetReader(path: labelled).readLengths().map { $0 + 1 })
        let model = try train(labelled, ["--hidden", "6", "--slots", "3", "--window", "5", "--max-steps", "20", "--lr", "0.03"])
        for ranks in [nil, 3] {
            let expected = try output("forecast", model, labelled, ["--steps", "4"], ranks: ranks, name: "forecast")
            let got = try output("forecast", model, unlabelled, ["--steps", "4"], ranks: ranks, name: "forecast")
            XCTAssertEqual(got.shape, [9, 4, 1])
            XCTAssertEqual(got.shape, expected.shape)
            XCTAssertLessThan(zip(got.values, expected.values).map { abs($0 - $1) }.max()!, 1e-5, "\(ranks ?? 1) ranks")
        }

        // One long series without --id: the last row of each pack ends where the series does.
        let series = try folder.write("wave.csv", "x\n" + (0 ..< 95).map { "\(sin(Double($0) / 4))" }.joined(separator: "\n") + "\n")
        let labelledSeries = try pack(series, ["--target", "x", "--horizon", "1", "--length", "20"]).path
        let unlabelledSeries = try pack(series, ["--length", "20"]).path
        let seriesModel = try train(labelledSeries, ["--hidden", "6", "--slots", "1", "--max-steps", "10", "--lr", "0.03"])
        let expected = try output("forecast", seriesModel, labelledSeries, ["--steps", "3"], name: "forecast")
        let got = try output("forecast", seriesModel, unlabelledSeries, ["--steps", "3"], name: "forecast")
        XCTAssertEqual(got.shape, [5, 3, 1])
        XCTAssertLessThan(zip(got.values.suffix(3), expected.values.suffix(3)).map { abs($0 - $1) }.max()!, 1e-5)

        // A model that cannot forecast says so about its own targets.
        let classes = try pack(csv, ["--id", "id", "--label", "id"]).path
        let classModel = try train(classes, ["--hidden", "4", "--slots", "3", "--max-steps", "1"])
        let refused = try LSTMDist.run(["forecast", classModel, try pack(csv, ["--id", "id"]).path, "--steps", "2", "--out", folder.file("never.h5")])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("(no targets; the model's): forecast needs regression targets, but the task is multiclass"), "\(refused)")
    }
}
