import Foundation
import Storage
import TestSupport
import XCTest

/// `lstm-dist generate` as a user runs it, on checkpoints that `train` wrote.
final class GenerateCommandTests: XCTestCase {
    private var folder: TemporaryFolder!

    override func setUpWithError() throws {
        folder = try makeTemporaryFolder()
    }

    /// Packs `text` into rows of `length` characters and trains on it; returns the last checkpoint.
    private func trainOnText(_ text: String, length: Int, _ arguments: [String]) throws -> String {
        let dataset = folder.file("text-\(UUID().uuidString).h5")
        let pack = try LSTMDist.run(["pack", try folder.write("text.txt", text), "--length", "\(length)", "--out", dataset])
        XCTAssertEqual(pack.status, 0, "\(pack)")
        let directory = folder.file("checkpoints-" + UUID().uuidString)
        let train = try LSTMDist.run(["train", dataset, "--checkpoint-dir", directory] + arguments)
        XCTAssertEqual(train.status, 0, "\(train)")
        return try XCTUnwrap(try Checkpoint.latest(in: directory))
    }

    private func generate(_ arguments: [String]) throws -> String {
        let result = try LSTMDist.run(["generate"] + arguments)
        XCTAssertEqual(result.status, 0, "\(result)")
        return result.stdout
    }

    func testTemperatureZeroContinuesAMemorisedPeriodicTextExactly() throws {
        let period = "lstm-dist carries state.\n"
        let checkpoint = try trainOnText(String(repeating: period, count: 160), length: 50,
                                         ["--hidden", "48", "--window", "25", "--slots", "8", "--epochs", "30", "--lr", "0.01"])
        // 9 + 116 characters end with the period's newline: stdout gets no second one.
        let text = try generate([checkpoint, "--prime", "lstm-dist", "--temperature", "0", "--length", "116"])
        XCTAssertEqual(text, String(repeating: period, count: 5))
        let unfinished = try generate([checkpoint, "--prime", "lstm-dist", "--temperature", "0", "--length", "120"])
        XCTAssertEqual(unfinished, String(String(repeating: period, count: 6).prefix(9 + 120)) + "\n")
    }

    func testTheSameSeedGivesTheSameTextAndTheOutputFileHoldsExactlyIt() throws {
        let checkpoint = try trainOnText(String(repeating: "the cat sat on the mat. ", count: 40), length: 20,
                                         ["--hidden", "16", "--slots", "4", "--max-steps", "20"])
        let arguments = [checkpoint, "--prime", "the ", "--length", "300", "--top-k", "5", "--from-slot", "3"]
        let first = try generate(arguments + ["--seed", "11"])
        XCTAssertEqual(try generate(arguments + ["--seed", "11"]), first)
        XCTAssertNotEqual(try generate(arguments + ["--seed", "12"]), first, "the seed is not used")
        XCTAssertTrue(first.hasPrefix("the "))
        XCTAssertEqual(first.count, 4 + 300 + (first.hasSuffix("\n") ? 1 : 0))

        let out = folder.file("sample.txt")
        XCTAssertEqual(try LSTMDist.run(["generate"] + arguments + ["--seed", "11", "--out", out]).status, 0)
        let written = try String(contentsOfFile: out, encoding: .utf8)
        XCTAssertEqual(written, String(first.prefix(304)))
        XCTAssertEqual(try LSTMDist.run(["generate"] + arguments + ["--seed", "12", "--out", out, "--force"]).status, 0)
        XCTAssertNotEqual(try String(contentsOfFile: out, encoding: .utf8), written, "--force replaced it")
    }

    func testWhatGenerateCannotUseIsRefusedWithOneLine() throws {
        let text = try trainOnText(String(repeating: "abcab", count: 40), length: 10, ["--hidden", "4", "--slots", "2", "--max-steps", "1"])
        let features = folder.file("features.h5")
        try writeVariedRows(features)
        let directory = folder.file("feature-checkpoints")
        XCTAssertEqual(try LSTMDist.run(["train", features, "--checkpoint-dir", directory, "--hidden", "4", "--max-steps", "1"]).status, 0)
        let featureModel = try XCTUnwrap(try Checkpoint.latest(in: directory))
        let existing = try folder.write("existing.txt", "keep me")
        let latin1 = folder.file("latin1.txt")
        try Data([0x61, 0xE9]).write(to: URL(fileURLWithPath: latin1))

        let refusals: [(arguments: [String], reason: String)] = [
            ([text, "--prime", "abzq\n"], "--prime: 3 characters are not in the vocabulary of \(text): '\\n' (U+000A), 'q' (U+0071), 'z' (U+007A)"),
            ([text, "--prime-file", try folder.write("prime.txt", "abx")], "prime.txt: 1 character is not in the vocabulary"),
            ([text, "--prime-file", latin1], "latin1.txt: not UTF-8 text"),
            ([text, "--prime-file", folder.file("missing.txt")], "missing.txt: cannot read"),
            ([text, "--prime", "a", "--prime-file", latin1], "give --prime or --prime-file, not both"),
            ([text, "--out", existing], "existing.txt: already exists (pass --force"),
            ([featureModel], "generate needs a character model (token inputs whose per-timestep targets are the next character, with a /vocab, as `pack --format text` makes); it reads feature inputs"),
            ([text, "--from-slot", "2"], "--from-slot 2: \(text) saved the state of global slots 0 to 1"),
            ([text, "--temperature=-1"], "--temperature must be 0 or more"),
            ([text, "--top-k", "0"], "--top-k must be 1 or more"),
            ([text, "--length=-5"], "--length must be 0 or more"),
            ([features], "not an lstm-dist checkpoint"),
        ]
        for refusal in refusals {
            let result = try LSTMDist.run(["generate"] + refusal.arguments)
            XCTAssertEqual(result.status, 1, "\(refusal.arguments)\n\(result)")
            XCTAssertTrue(result.stderr.contains(refusal.reason), "expected '\(refusal.reason)'\n\(result)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, "one line\n\(result)")
            XCTAssertEqual(result.stdout, "", "nothing generated\n\(result)")
        }
        XCTAssertEqual(try String(contentsOfFile: existing, encoding: .utf8), "keep me")
        XCTAssertFalse(folder.contents.contains { $0.hasSuffix(".tmp") }, "\(folder.contents)")
    }
}
