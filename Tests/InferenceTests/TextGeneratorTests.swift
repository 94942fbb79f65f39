import Comm
import Foundation
import Inference
import Model
import Pack
import Storage
import TestSupport
import Training
import XCTest

/// `generate`'s model path against an independent numpy continuation (scripts/lstm_numpy.py):
/// from a global slot's saved `/state/h` and `/state/c` with the checkpoint's weights, the same
/// next-character distribution before and after every character fed, to 1e-5.
final class TextGeneratorTests: XCTestCase {
    func testAContinuationFromASavedSlotHasNumpysDistributionsAtEveryStep() throws {
        let python = try pythonWithNumpy()
        let folder = try makeTemporaryFolder()
        let text = String(repeating: "A stateful model writes on where its slot stopped. ", count: 40)
        let dataset = folder.file("text.h5")
        var options = PackOptions(output: dataset)
        options.length = 25
        try Packer.pack(try folder.write("text.txt", text), options: options) { _ in }

        var config = TrainingRequest(dataset: dataset)
        config.slotsPerRank = 6
        config.hidden = 12
        config.layers = 2
        config.embedding = 5
        config.window = 10
        config.learningRate = 0.01
        config.maxSteps = 37  // mid-epoch, mid-row: every slot carries state
        config.checkpointDirectory = folder.file("checkpoints")
        _ = try Trainer(request: config, comm: SingleProcessCommunicator()).run { _ in }
        let checkpoint = try XCTUnwrap(try Checkpoint.latest(in: folder.file("checkpoints")))

        let slot = 4
        let generator = try TextGenerator(SavedNetwork(path: checkpoint), fromSlot: slot)
        var fed = try generator.tokens(of: "stop", source: "prime")
        var random = SplitMix64(seed: 9)
        for _ in 0 ..< 12 { fed.append(Int32(random.next() % UInt64(generator.characters.count))) }
        var distributions = Array(generator.probabilities)
        for token in fed {
            generator.feed(token)
            distributions += generator.probabilities
        }

        try JSONSerialization.data(withJSONObject: ["checkpoint": checkpoint, "slot": slot, "tokens": fed.map(Int.init)])
            .write(to: URL(fileURLWithPath: folder.file("continuation.json")))
        try distributions.withUnsafeBufferPointer { try Data(buffer: $0).write(to: URL(fileURLWithPath: folder.file("distributions.f32"))) }
        let result = try RunningCommand([python, repositoryRoot + "/Tests/python/continuation_reference.py", folder.path]).wait(timeout: 120)
        XCTAssertEqual(result.status, 0, "numpy continuation disagrees: \(result)")
    }

    /// `$LSTM_DIST_PYTHON` (scripts/test.sh sets it to .venv's), else `python3`; skips without numpy and h5py.
    private func pythonWithNumpy() throws -> String {
        let python = ProcessInfo.processInfo.environment["LSTM_DIST_PYTHON"] ?? "python3"
        guard (try? RunningCommand([python, "-c", "import numpy, h5py"]).wait(timeout: 60).status) == 0 else {
            throw XCTSkip("\(python) with numpy and h5py is not available (set LSTM_DIST_PYTHON)")
        }
        return python
    }
}
