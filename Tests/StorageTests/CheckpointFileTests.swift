import Foundation
import TestSupport
import XCTest
@testable import Storage

final class CheckpointFileTests: XCTestCase {
    private var temporary: TemporaryFolder!
    private var folder: String { temporary.path }

    override func setUpWithError() throws {
        temporary = try makeTemporaryFolder()
    }

    func testEveryTensorAttributeAndTheVocabularyReadBackAsWritten() throws {
        let written = Checkpoint(
            attributes: ["epoch": .int(2), "loss": .double(0.25), "config": .string("{\"hidden\": 8}")],
            tensors: [
                "model/lstm_0/kernel": Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]),
                "optimizer/m/model/lstm_0/kernel": Tensor(shape: [2, 3], values: [0, 0, 0, 0, 0, -1]),
                "state/h": Tensor(shape: [1, 2, 1], values: [0.5, -0.5]),
            ],
            vocab: [97, 98, 99]
        )
        let path = folder + "/" + Checkpoint.fileName(globalStep: 12)
        try written.write(to: path)
        let read = try Checkpoint(path: path)
        XCTAssertEqual(read.tensors, written.tensors)
        XCTAssertEqual(read.attributes, written.attributes)
        XCTAssertEqual(read.vocab, written.vocab)
    }

    func testTheSameCheckpointWrittenASecondLaterHasTheSameBytes() throws {
        // HDF5 records each object's times unless told not to; the second write lands in
        // another second, so any recorded time would differ.
        let checkpoint = Checkpoint(
            attributes: ["global_step": .int(7), "config": .string("{}")],
            tensors: ["model/lstm_0/kernel": Tensor(shape: [1, 4], values: [1, 2, 3, 4]), "state/h": Tensor(shape: [1, 1, 1], values: [0.5])],
            vocab: [97])
        try checkpoint.write(to: folder + "/first.h5")
        Thread.sleep(forTimeInterval: 1.1)
        try checkpoint.write(to: folder + "/second.h5")
        let first = try Data(contentsOf: URL(fileURLWithPath: folder + "/first.h5"))
        let second = try Data(contentsOf: URL(fileURLWithPath: folder + "/second.h5"))
        XCTAssertEqual(first, second, "\(zip(first, second).enumerated().filter { $0.element.0 != $0.element.1 }.count) bytes differ")
    }

    func testFileNamesCarryTheGlobalStepInEightDigits() {
        XCTAssertEqual(Checkpoint.fileName(globalStep: 42), "ckpt-00000042.h5")
        XCTAssertEqual(Checkpoint.globalStep(fileName: "ckpt-00000042.h5"), 42)
        XCTAssertNil(Checkpoint.globalStep(fileName: ".ckpt-00000042.h5.77.tmp"))
        XCTAssertNil(Checkpoint.globalStep(fileName: "best.h5"))
    }

    func testLatestIsTheHighestStepAndPruneKeepsTheNewest() throws {
        for step in [5, 30, 10, 20] {
            try Checkpoint(attributes: ["step": .int(Int64(step))]).write(to: folder + "/" + Checkpoint.fileName(globalStep: step))
        }
        XCTAssertEqual(try Checkpoint.latest(in: folder), folder + "/ckpt-00000030.h5")
        try Checkpoint.prune(folder, keep: 2)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).sorted(), ["ckpt-00000020.h5", "ckpt-00000030.h5"])
        XCTAssertNil(try Checkpoint.latest(in: folder + "/missing"))
    }

    func testPruneRemovesTheTemporaryFilesOfDeadWritersOnly() throws {
        let dead = ".ckpt-00000010.h5.\(Int32.max - 1).tmp", alive = ".ckpt-00000020.h5.\(getpid()).tmp"
        for name in [dead, alive] { XCTAssertTrue(FileManager.default.createFile(atPath: folder + "/" + name, contents: Data([1]))) }
        try Checkpoint.prune(folder, keep: 3)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), [alive])
    }

    func testADatasetFileIsRefusedAsACheckpoint() throws {
        let path = folder + "/data.h5"
        let file = try H5File(path: path, mode: .truncate)
        try file.setAttribute("format", .string("lstm-dist dataset"))
        _ = file
        XCTAssertThrowsError(try Checkpoint(path: path)) { error in
            XCTAssertTrue("\(error)".contains("not an lstm-dist checkpoint"), "\(error)")
        }
    }
}
