import Foundation
import Storage
import TestSupport
import XCTest

/// `lstm-dist train` across two hosts talking TCP: two network namespaces on this machine
/// joined by a veth pair (scripts/two-hosts.sh). Needs root; skipped, with the script's
/// reason, where namespaces cannot be made.
final class MultiHostTests: XCTestCase {
    private var folder: TemporaryFolder!
    private var dataset: String!
    private let sgd = ["--window", "4", "--hidden", "8", "--optimizer", "sgd", "--lr", "0.5", "--epochs", "2"]

    override func setUpWithError() throws {
        folder = try makeTemporaryFolder()
        dataset = folder.file("rows.h5")
        try writeVariedRows(dataset)
    }

    /// Runs to the end on two hosts, or skips when this machine cannot make them.
    private func trainOnTwoHosts(_ arguments: [String], ranksPerHost: Int, checkpoints: String) throws -> CommandResult {
        let job = try LSTMDist.startOnTwoHosts(["train", dataset, "--checkpoint-dir", folder.file(checkpoints)] + arguments,
                                               ranksPerHost: ranksPerHost, info: folder.file("hosts.env"))
        let result = try job.wait(timeout: 300)
        if result.status == 77 { throw XCTSkip("two hosts unavailable: \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))") }
        XCTAssertEqual(result.status, 0, "\(result)")
        return result
    }

    private func checkpoint(_ directory: String, step: Int) throws -> Checkpoint {
        try Checkpoint(path: folder.file(directory) + "/" + Checkpoint.fileName(globalStep: step))
    }

    func testTwoHostsTrainWhatOneHostTrainsWithTheSameGlobalSlots() throws {
        XCTAssertEqual(try LSTMDist.run(["train", dataset, "--slots", "4", "--checkpoint-dir", folder.file("one")] + sgd).status, 0)
        _ = try trainOnTwoHosts(sgd + ["--slots", "2"], ranksPerHost: 1, checkpoints: "hosts1")
        _ = try trainOnTwoHosts(sgd + ["--slots", "1"], ranksPerHost: 2, checkpoints: "hosts2")
        let steps = 2 * 3 * 51
        let reference = try checkpoint("one", step: steps)
        for other in ["hosts1", "hosts2"] {
            let distributed = try checkpoint(other, step: steps)
            for (name, tensor) in reference.tensors where name.hasPrefix("model/") || name.hasPrefix("state/") {
                XCTAssertLessThan(relativeDifference(distributed.tensors[name]!.values, tensor.values), 1e-5, "\(other): \(name)")
            }
        }
    }

    func testACheckpointWrittenOnTwoHostsResumesOnOneHost() throws {
        let adam = ["--window", "4", "--hidden", "8", "--epochs", "2"]
        XCTAssertEqual(try LSTMDist.run(["train", dataset, "--slots", "2", "--checkpoint-dir", folder.file("straight")] + adam, ranks: 2).status, 0)
        _ = try trainOnTwoHosts(adam + ["--slots", "2", "--max-steps", "100"], ranksPerHost: 1, checkpoints: "moved")
        let resumed = try LSTMDist.run(["train", dataset, "--resume", "latest", "--checkpoint-dir", folder.file("moved")], ranks: 2)
        XCTAssertEqual(resumed.status, 0, "\(resumed)")
        let straight = try checkpoint("straight", step: 306), moved = try checkpoint("moved", step: 306)
        for (name, tensor) in straight.tensors {
            XCTAssertTrue(moved.tensors[name]!.values.elementsEqual(tensor.values) { $0.bitPattern == $1.bitPattern }, "\(name) differs")
        }
    }

    /// Starts a long run on two hosts with a checkpoint every 50 steps, waits for progress, then
    /// breaks it with `fault` (given the hosts' names); returns how the job ended and how long
    /// that took.
    private func breakLongRun(keepalive: Bool, _ fault: ([String: String]) throws -> Void) throws -> (result: CommandResult, seconds: Double) {
        let info = folder.file("hosts.env")
        let job = try LSTMDist.startOnTwoHosts(["train", dataset, "--window", "4", "--hidden", "8", "--slots", "2", "--epochs", "1000",
                                                "--checkpoint-every", "50", "--checkpoint-dir", folder.file("broken")],
                                               ranksPerHost: 1, info: info, keepalive: keepalive)
        do {
            try job.waitForOutput(timeout: 60) { $0.contains("epoch 3/1000") }
        } catch {
            let result = try job.wait(timeout: 10)
            if result.status == 77 { throw XCTSkip("two hosts unavailable: \(result.stderr)") }
            throw error
        }
        let hosts = try String(contentsOfFile: info, encoding: .utf8).split(separator: "\n").reduce(into: [String: String]()) { names, line in
            let parts = line.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: "'\"")) }
            if parts.count == 2 { names[parts[0]] = parts[1] }
        }
        try fault(hosts)
        let start = Date()
        let result = try job.wait(timeout: 120)
        return (result, Date().timeIntervalSince(start))
    }

    private func assertLastCheckpointIsIntactAndResumes() throws {
        let last = try XCTUnwrap(try Checkpoint.latest(in: folder.file("broken")))
        let resumed = try LSTMDist.run(["train", dataset, "--resume", last, "--max-steps", "400", "--checkpoint-dir", folder.file("broken")], ranks: 2)
        XCTAssertEqual(resumed.status, 0, "\(resumed)")
    }

    func testARankKilledOnTheOtherHostEndsTheJobWithinSeconds() throws {
        let (result, seconds) = try breakLongRun(keepalive: false) { hosts in
            let pids = try RunningCommand(["ip", "netns", "pids", hosts["H2"]!]).wait(timeout: 10).stdout.split(separator: "\n")
            let ranks = pids.filter { (try? String(contentsOfFile: "/proc/\($0)/comm", encoding: .utf8))?.hasPrefix("lstm-dist") == true }
            XCTAssertFalse(ranks.isEmpty, "no rank found on the second host")
            for pid in ranks { kill(Int32(pid)!, SIGKILL) }
        }
        XCTAssertNotEqual(result.status, 0, "\(result)")
        XCTAssertLessThan(seconds, 15, "\(result)")
        try assertLastCheckpointIsIntactAndResumes()
    }

    func testALinkThatGoesDownEndsTheJobWithinHalfAMinuteWithKeepalive() throws {
        let (result, seconds) = try breakLongRun(keepalive: true) { hosts in
            let down = try RunningCommand(["ip", "-n", hosts["H2"]!, "link", "set", hosts["LINK2"]!, "down"]).wait(timeout: 10)
            XCTAssertEqual(down.status, 0, "\(down)")
        }
        XCTAssertNotEqual(result.status, 0, "\(result)")
        XCTAssertLessThan(seconds, 30, "\(result)")
        // Which side notices first varies: the daemons' keepalive ("ORTE has lost communication",
        // or, seen once, "ORTE was unable to reliably start one or more daemons"), or a rank's
        // own TCP connection.
        let reasons = ["ORTE", "unexpectedly disconnected", "TCP", "noticed that process"]
        XCTAssertTrue(reasons.contains { (result.stdout + result.stderr).contains($0) }, "the job says why it ended\n\(result)")
        try assertLastCheckpointIsIntactAndResumes()
    }
}
