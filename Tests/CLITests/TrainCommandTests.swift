import Foundation
import Storage
import TestSupport
import XCTest

/// `lstm-dist train` as a user runs it: the built binary, alone and under real `mpirun`.
final class TrainCommandTests: XCTestCase {
    private var folder: TemporaryFolder!
    /// `writeVariedRows`: 203 rows, 3 windows of 4 each, targets in the last window only.
    private var dataset: String!

    override func setUpWithError() throws {
        folder = try makeTemporaryFolder()
        dataset = folder.file("rows.h5")
        try writeVariedRows(dataset)
    }

    private func train(_ arguments: [String], ranks: Int? = nil, checkpoints: String) throws -> CommandResult {
        let result = try LSTMDist.run(["train", dataset, "--window", "4", "--hidden", "8", "--checkpoint-dir", folder.file(checkpoints)] + arguments, ranks: ranks)
        XCTAssertEqual(result.status, 0, "\(result)")
        return result
    }

    private func checkpoint(_ directory: String, step: Int) throws -> Checkpoint {
        try Checkpoint(path: folder.file(directory) + "/" + Checkpoint.fileName(globalStep: step))
    }

    func testTheBundledTextTrainsToTheEndUnderFourRanksAndItsLossFalls() throws {
        let text = folder.file("text.h5"), log = folder.file("log.jsonl")
        let packed = try LSTMDist.run(["pack", repositoryRoot + "/data/text.txt", "--out", text])
        XCTAssertEqual(packed.status, 0, "\(packed)")
        let trained = try LSTMDist.run(["train", text, "--window", "50", "--hidden", "32", "--epochs", "2", "--lr", "0.01",
                                        "--log", log, "--checkpoint-dir", folder.file("text")], ranks: 4)
        XCTAssertEqual(trained.status, 0, "\(trained)")
        XCTAssertTrue(trained.stdout.contains("4 ranks x 16 slots = 64 global slots"), trained.stdout)
        let epochs = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["event"] as? String == "epoch" }
        let losses = epochs.compactMap { $0["loss"] as? Double }
        XCTAssertEqual(losses.count, 2, "\(epochs)")
        XCTAssertLessThan(losses.last!, losses.first!, "the loss should fall")
        // Throughput per epoch: 64 slots x 50 timesteps per step, so thousands per second at the least.
        XCTAssertEqual(epochs.compactMap { $0["tokens_per_s"] as? Double }.filter { $0 > 1000 }.count, 2, "\(epochs)")
        XCTAssertEqual(trained.stdout.components(separatedBy: "tokens_per_s ").count, 3, trained.stdout)
    }

    func testTwoRanksOfTwoSlotsAndFourRanksOfOneTrainWhatOneRankOfFourSlotsTrains() throws {
        let sgd = ["--optimizer", "sgd", "--lr", "0.5", "--epochs", "2"]
        _ = try train(sgd + ["--slots", "4"], checkpoints: "one")
        _ = try train(sgd + ["--slots", "2"], ranks: 2, checkpoints: "two")
        _ = try train(sgd + ["--slots", "1"], ranks: 4, checkpoints: "four")
        let steps = 2 * 3 * 51  // 2 epochs x 3 windows x ceil(203 / 4) rows per slot
        let reference = try checkpoint("one", step: steps)
        for other in ["two", "four"] {
            let distributed = try checkpoint(other, step: steps)
            for (name, tensor) in reference.tensors where name.hasPrefix("model/") || name.hasPrefix("state/") {
                let difference = relativeDifference(distributed.tensors[name]!.values, tensor.values)
                XCTAssertLessThan(difference, 1e-5, "\(other): \(name) differs by \(difference) (norm-wise)")
            }
        }
    }

    func testResumingAfterMaxStepsIsBitIdenticalToAnUninterruptedRun() throws {
        let run = ["--epochs", "2", "--slots", "2"]
        _ = try train(run, ranks: 2, checkpoints: "straight")
        let stopped = try train(run + ["--max-steps", "100"], ranks: 2, checkpoints: "resumed")
        XCTAssertTrue(stopped.stdout.contains("--resume latest"), "a stop says how to resume\n\(stopped)")
        _ = try train(["--resume", "latest"], ranks: 2, checkpoints: "resumed")
        try assertBitIdentical(try checkpoint("straight", step: 306), try checkpoint("resumed", step: 306))
    }

    func testSIGUSR1UnderMpirunStopsEveryRankAfterTheSameStepAndTheRunResumesExactly() throws {
        let run = ["--epochs", "40", "--slots", "2"]
        _ = try train(run, ranks: 2, checkpoints: "straight")
        let job = try LSTMDist.start(["train", dataset, "--window", "4", "--hidden", "8", "--checkpoint-dir", folder.file("signalled")] + run, ranks: 2)
        try job.waitForOutput(timeout: 60) { $0.contains("epoch 2/40") }
        job.signal(SIGUSR1)
        let stopped = try job.wait(timeout: 60)
        XCTAssertEqual(stopped.status, 0, "\(stopped)")
        XCTAssertTrue(stopped.stdout.contains("stopped on request"), "\(stopped)")
        let written = try XCTUnwrap(try Checkpoint.latest(in: folder.file("signalled")))
        XCTAssertLessThan(Checkpoint.globalStep(fileName: URL(fileURLWithPath: written).lastPathComponent)!, 40 * 153, "the job stopped early")
        _ = try train(["--resume", "latest"], ranks: 2, checkpoints: "signalled")
        try assertBitIdentical(try checkpoint("straight", step: 40 * 153), try checkpoint("signalled", step: 40 * 153))
    }

    func testSIGTERMStopsASingleProcessWithACheckpointAndASecondSignalAbortsWritingNothing() throws {
        let long = ["train", dataset!, "--window", "4", "--hidden", "8", "--slots", "2", "--epochs", "1000"]
        let stopped = try LSTMDist.start(long + ["--checkpoint-dir", folder.file("stopped")])
        try stopped.waitForOutput(timeout: 60) { $0.contains("epoch 2/1000") }
        stopped.signal(SIGTERM)
        let graceful = try stopped.wait(timeout: 60)
        XCTAssertEqual(graceful.status, 0, "\(graceful)")
        XCTAssertTrue(graceful.stdout.contains("stopped on request"), "\(graceful)")
        XCTAssertNotNil(try Checkpoint.latest(in: folder.file("stopped")))

        // Checkpoints are due only at an epoch's end, so one at any other step would come from the stop.
        // (Epochs take a fraction of a second here: more may end between reading the output and the
        // signals, so no particular checkpoint is expected to be the last.)
        let aborted = try LSTMDist.start(long + ["--checkpoint-dir", folder.file("aborted")])
        try aborted.waitForOutput(timeout: 60) { $0.contains("epoch 2/1000") }
        aborted.signal(SIGTERM)
        aborted.signal(SIGINT)  // a different signal, so the two cannot merge into one
        let result = try aborted.wait(timeout: 60)
        XCTAssertEqual(result.status, 130, "\(result)")
        let stepsPerEpoch = try XCTUnwrap(result.stdout.firstMatch(of: /(\d+) steps per epoch/).flatMap { Int($0.1) })
        let steps = try FileManager.default.contentsOfDirectory(atPath: folder.file("aborted")).compactMap {
            Checkpoint.globalStep(fileName: $0)
        }
        XCTAssertFalse(steps.isEmpty, "epoch 1's checkpoint")
        for step in steps { XCTAssertEqual(step % stepsPerEpoch, 0, "a checkpoint at step \(step): an abort writes nothing") }
    }

    func testFourRanksOfTwoSlotsResumeOnTwoRanksOfFourAsTheSameStreams() throws {
        let sgd = ["--optimizer", "sgd", "--lr", "0.5", "--epochs", "2"]
        _ = try train(sgd + ["--slots", "8"], checkpoints: "straight")
        _ = try train(sgd + ["--slots", "2", "--max-steps", "80"], ranks: 4, checkpoints: "elastic")
        _ = try train(["--resume", "latest"], ranks: 2, checkpoints: "elastic")
        let straight = try checkpoint("straight", step: 2 * 3 * 26), elastic = try checkpoint("elastic", step: 2 * 3 * 26)
        XCTAssertEqual(elastic.attributes["slots_per_rank"], .int(4))
        for (name, tensor) in straight.tensors where name.hasPrefix("model/") || name.hasPrefix("state/") {
            XCTAssertLessThan(relativeDifference(elastic.tensors[name]!.values, tensor.values), 1e-5, name)
        }
    }

    func testAKilledRankEndsTheJobAndItsLastCheckpointResumesTheSameRun() throws {
        let run = ["--epochs", "60", "--slots", "2", "--checkpoint-every", "50"]
        _ = try train(run, ranks: 2, checkpoints: "straight")
        let job = try LSTMDist.start(["train", dataset, "--window", "4", "--hidden", "8", "--checkpoint-dir", folder.file("killed")] + run, ranks: 2)
        try job.waitForOutput(timeout: 60) { $0.contains("epoch 3/60") }
        let ranks = try pids(ofChildrenNamed: "lstm-dist", of: job.processIdentifier)
        XCTAssertEqual(ranks.count, 2)
        kill(ranks.last!, SIGKILL)
        let ended = Date()
        let killed = try job.wait(timeout: 30)
        XCTAssertNotEqual(killed.status, 0, "\(killed)")
        XCTAssertLessThan(Date().timeIntervalSince(ended), 15, "the job should end within seconds")

        let last = try XCTUnwrap(try Checkpoint.latest(in: folder.file("killed")))
        _ = try Checkpoint(path: last)  // intact
        _ = try train(["--resume", last], ranks: 2, checkpoints: "killed")
        try assertBitIdentical(try checkpoint("straight", step: 60 * 153), try checkpoint("killed", step: 60 * 153))
    }

    func testAKillDuringACheckpointWriteLeavesThePreviousCheckpointLoadable() throws {
        // A model large enough (50 MB of weights, 150 MB with Adam's moments) that a write
        // lasts long enough to be caught in the act.
        let directory = folder.file("big")
        let job = try LSTMDist.start(["train", dataset, "--window", "4", "--hidden", "1024", "--layers", "2", "--slots", "1",
                                      "--checkpoint-every", "5", "--keep", "2", "--checkpoint-dir", directory])
        // Wait for a write in progress while an earlier checkpoint exists.
        let deadline = Date().addingTimeInterval(120)
        while true {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            if names.contains(where: { $0.hasSuffix(".tmp") }) && names.contains(where: { Checkpoint.globalStep(fileName: $0) != nil }) { break }
            guard Date() < deadline else { return XCTFail("no checkpoint write was seen after a first checkpoint") }
            usleep(2_000)
        }
        job.signal(SIGKILL)
        _ = try job.wait(timeout: 30)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        XCTAssertTrue(names.contains { $0.hasPrefix(".ckpt-") && $0.hasSuffix(".tmp") }, "the write was interrupted: \(names)")
        let last = try XCTUnwrap(try Checkpoint.latest(in: directory))
        XCTAssertNoThrow(try Checkpoint(path: last), "the previous checkpoint must stay loadable")
        let resumed = try LSTMDist.run(["train", dataset, "--resume", "latest", "--max-steps", "12", "--checkpoint-dir", directory])
        XCTAssertEqual(resumed.status, 0, "\(resumed)")
    }

    func testResumeRefusesAnotherDatasetShapeOrRankCountAndAnythingNotACheckpoint() throws {
        _ = try train(["--epochs", "1", "--slots", "2", "--max-steps", "10"], ranks: 2, checkpoints: "run")
        let saved = folder.file("run") + "/" + Checkpoint.fileName(globalStep: 10)
        let other = folder.file("other.h5")
        try writeFeatureDataset(other, rows: 203, length: 12, features: 2, value: { _, _, _ in 1 }, label: { _, _ in 0 })
        let truncated = folder.file("truncated.h5")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: saved))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))

        let refusals: [(arguments: [String], ranks: Int?, reason: String)] = [
            (["train", other, "--resume", saved], 2, "another dataset"),
            (["train", dataset, "--resume", saved, "--hidden", "16"], 2, "--hidden 16 conflicts with the checkpoint's 8"),
            (["train", dataset, "--resume", saved], 3, "3 ranks cannot share evenly"),
            (["train", dataset, "--resume", truncated], nil, truncated),
            (["train", dataset, "--resume", dataset], nil, "not an lstm-dist checkpoint"),
        ]
        for refusal in refusals {
            let result = try LSTMDist.run(refusal.arguments + ["--checkpoint-dir", folder.file("refused")], ranks: refusal.ranks)
            XCTAssertNotEqual(result.status, 0, "\(refusal.arguments)\n\(result)")
            XCTAssertTrue(result.stderr.contains(refusal.reason), "expected '\(refusal.reason)'\n\(result)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: folder.file("refused")), "a refusal writes nothing")
        }
    }

    func testBadRunsAreRefusedBeforeAnyWorkWithOneLineThatSaysWhatToChange() throws {
        let refusals: [(arguments: [String], reason: String)] = [
            (["train", folder.file("missing.h5")], "no such file"),
            (["train", dataset, "--window", "20"], "--window 20 is larger than the row length 12"),
            (["train", dataset, "--slots", "300"], "only 203 rows"),
            (["train", dataset, "--slots", "0"], "--slots must be at least 1"),
        ]
        for refusal in refusals {
            let result = try LSTMDist.run(refusal.arguments + ["--checkpoint-dir", folder.file("refused")], ranks: 2)
            XCTAssertNotEqual(result.status, 0, "\(result)")
            XCTAssertTrue(result.stderr.contains(refusal.reason), "expected '\(refusal.reason)'\n\(result)")
            XCTAssertEqual(result.stderr.components(separatedBy: "Error:").count, 2, "one error line, not one per rank\n\(result)")
        }
    }

    func testAnExplodingLossStopsTheRunNamingTheStepWithoutACheckpoint() throws {
        let regression = folder.file("regression.h5")
        try writeFeatureDataset(regression, rows: 40, length: 4, task: .regression, value: { row, t, _ in Float(row + t) }, label: { row, _ in Float(row) })
        let result = try LSTMDist.run(["train", regression, "--slots", "2", "--optimizer", "sgd", "--lr", "1e30", "--checkpoint-dir", folder.file("nan")], ranks: 2)
        XCTAssertNotEqual(result.status, 0, "\(result)")
        XCTAssertTrue(result.stderr.contains("at epoch 1 step"), "counted from 1, as progress counts\n\(result)")
        XCTAssertEqual(result.stderr.components(separatedBy: "Error:").count, 2, "every rank sees it; one reports it\n\(result)")
        XCTAssertNil(try Checkpoint.latest(in: folder.file("nan")))
    }
}

/// Every tensor bit for bit, and the position and loss attributes.
func assertBitIdentical(_ expected: Checkpoint, _ actual: Checkpoint, file: StaticString = #filePath, line: UInt = #line) throws {
    XCTAssertEqual(Set(actual.tensors.keys), Set(expected.tensors.keys), file: file, line: line)
    for (name, tensor) in expected.tensors {
        XCTAssertTrue(actual.tensors[name]!.values.elementsEqual(tensor.values) { $0.bitPattern == $1.bitPattern },
                      "\(name) differs", file: file, line: line)
    }
    for name in ["epoch", "step", "global_step", "iterations", "loss", "epoch_loss_sum"] {
        XCTAssertEqual(actual.attributes[name], expected.attributes[name], name, file: file, line: line)
    }
}

/// |a - b| / |b| over whole tensors.
func relativeDifference(_ a: [Float], _ b: [Float]) -> Double {
    let difference = zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
    let norm = b.reduce(0.0) { $0 + Double($1) * Double($1) }
    return (difference / max(norm, 1e-30)).squareRoot()
}

/// The pids of processes named `name` below `parent` (mpirun's ranks), from /proc.
func pids(ofChildrenNamed name: String, of parent: Int32) throws -> [Int32] {
    func children(of pid: Int32) -> [Int32] {
        let listed = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return listed.split(separator: " ").compactMap { Int32($0) }
    }
    var found: [Int32] = [], queue = children(of: parent)
    while let pid = queue.popLast() {
        let command = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        if command == name { found.append(pid) }
        queue += children(of: pid)
    }
    return found.sorted()
}
