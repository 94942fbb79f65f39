import Foundation
import Storage
import TestSupport
import XCTest

/// LSTM_DIST_KERNELS as a user sets it: each path trains the same model, a bad value is one line.
final class KernelPathTests: XCTestCase {
    private var folder: TemporaryFolder!

    override func setUpWithError() throws { folder = try makeTemporaryFolder() }

    private func run(kernels: String, _ arguments: [String]) throws -> CommandResult {
        try RunningCommand(["LSTM_DIST_KERNELS=\(kernels)", LSTMDist.binary] + arguments).wait(timeout: 300)
    }

    func testAnUnknownKernelPathIsRefusedWithOneLineBeforeAnyWork() throws {
        let result = try run(kernels: "sse", ["inspect", "/nonexistent/data.h5"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.stderr, "Error: LSTM_DIST_KERNELS=sse is not a kernel path; use one of avx512, avx2, reference, or leave it unset\n")
    }

    /// Two epochs of SGD on every path this CPU has: the same parameters and state as the plain loops
    /// give, to float rounding (the products sum in different orders).
    func testEveryKernelPathTrainsWhatThePlainLoopsTrain() throws {
        let dataset = folder.file("rows.h5")
        try writeVariedRows(dataset)
        let arguments = ["train", dataset, "--window", "4", "--hidden", "8", "--slots", "4", "--optimizer", "sgd",
                         "--lr", "0.5", "--epochs", "2"]
        var checkpoints: [String: Checkpoint] = [:]
        for path in ["reference", "avx2", "avx512"] {
            let result = try run(kernels: path, arguments + ["--checkpoint-dir", folder.file(path)])
            if path == "avx512" && result.stderr.contains("this CPU has no AVX-512") {
                print("no AVX-512 on this CPU: its path is not tested here")
                continue
            }
            XCTAssertEqual(result.status, 0, "\(path): \(result)")
            checkpoints[path] = try Checkpoint(path: folder.file(path) + "/" + Checkpoint.fileName(globalStep: 2 * 3 * 51))
        }
        let reference = try XCTUnwrap(checkpoints["reference"])
        for (path, checkpoint) in checkpoints where path != "reference" {
            for (name, tensor) in reference.tensors where name.hasPrefix("model/") || name.hasPrefix("state/") {
                let difference = relativeDifference(checkpoint.tensors[name]!.values, tensor.values)
                XCTAssertLessThan(difference, 1e-5, "\(path): \(name) differs by \(difference) (norm-wise)")
            }
        }
    }
}
