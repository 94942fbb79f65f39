import Foundation
import Storage
import TestSupport
import XCTest

/// The AVX2 + FMA floor and the choice of kernels on CPUs this machine is not: the built binary under
/// qemu's user-mode emulation (Debian's qemu-user) of an older and of a narrower CPU.
final class CPUFloorTests: XCTestCase {
    private var folder: TemporaryFolder!
    private var qemu: String!

    override func setUpWithError() throws {
        folder = try makeTemporaryFolder()
        qemu = ["/usr/bin/qemu-x86_64", "/usr/local/bin/qemu-x86_64"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard qemu != nil else {
            throw XCTSkip("no qemu-x86_64 (Debian's qemu-user, which scripts/test.sh installs): other CPUs are not emulated")
        }
    }

    private let trainArguments = ["train", "--window", "4", "--hidden", "8", "--slots", "4", "--epochs", "2"]

    /// Nehalem (2008): SSE4.2, no AVX. The command stops before any work, with one line, and writes nothing.
    func testACPUWithoutAVX2IsRefusedWithOneLine() throws {
        let dataset = folder.file("rows.h5")
        try writeVariedRows(dataset)
        let checkpoints = folder.file("checkpoints")
        let result = try RunningCommand([qemu, "-cpu", "Nehalem", LSTMDist.binary] + trainArguments
                                        + [dataset, "--checkpoint-dir", checkpoints]).wait(timeout: 120)
        XCTAssertEqual(result.status, 1, "\(result)")
        XCTAssertEqual(result.stderr, "Error: this CPU lacks AVX2 and FMA, which lstm-dist needs "
                       + "(x86-64 from Intel Haswell, 2013, or AMD Excavator, 2015, on)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: checkpoints))
    }

    /// Haswell (2013): AVX2 and FMA, no AVX-512. With nothing set, lstm-dist picks the AVX2 kernels by
    /// itself, and trains the bits that the AVX2 path forced on this machine trains.
    func testACPUWithoutAVX512TrainsWhatTheForcedAVX2PathTrains() throws {
        let dataset = folder.file("rows.h5")
        try writeVariedRows(dataset)
        let emulated = try RunningCommand([qemu, "-cpu", "Haswell", LSTMDist.binary] + trainArguments
                                          + [dataset, "--checkpoint-dir", folder.file("emulated")]).wait(timeout: 300)
        XCTAssertEqual(emulated.status, 0, "\(emulated)")
        let native = try RunningCommand(["LSTM_DIST_KERNELS=avx2", LSTMDist.binary] + trainArguments
                                        + [dataset, "--checkpoint-dir", folder.file("native")]).wait(timeout: 300)
        XCTAssertEqual(native.status, 0, "\(native)")
        let name = Checkpoint.fileName(globalStep: 2 * 3 * 51)
        let emulatedCheckpoint = try Checkpoint(path: folder.file("emulated") + "/" + name)
        let nativeCheckpoint = try Checkpoint(path: folder.file("native") + "/" + name)
        XCTAssertFalse(nativeCheckpoint.tensors.isEmpty)
        for (name, tensor) in nativeCheckpoint.tensors {
            XCTAssertEqual(emulatedCheckpoint.tensors[name], tensor, "\(name) differs")
        }
    }
}
