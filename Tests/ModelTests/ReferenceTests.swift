import Foundation
import XCTest
@testable import Model

/// The Swift forward pass against an independent numpy one (Tests/python/lstm_reference.py) on the
/// same weights and inputs: outputs and final state to 1e-5, the loss sum to 1e-5 relative.
final class ReferenceTests: XCTestCase {
    func testTokensMulticlassTwoLayersWithPaddingMatchesNumpy() throws {
        // 21 classes: one full 16-lane softmax chunk and a tail.
        try compareWithNumpy(ModelConfig(input: .tokens(vocabSize: 21, embedding: 5), hidden: 20, layers: 2,
                                         head: .multiclass, outputs: 21), targets: .perStep)
    }

    func testFeaturesBinaryMatchesNumpy() throws {
        try compareWithNumpy(ModelConfig(input: .features(4), hidden: 7, layers: 1, head: .binary, outputs: 1), targets: .perRow)
    }

    func testFeaturesRegressionTwoLayersMatchesNumpy() throws {
        try compareWithNumpy(ModelConfig(input: .features(3), hidden: 33, layers: 2, head: .regression, outputs: 2),
                             targets: .perStep)
    }

    func compareWithNumpy(_ config: ModelConfig, targets: TargetKind) throws {
        let python = try pythonWithNumpy()
        // 17 slots: one full 16-lane vector in the gate passes, and a tail.
        let cycle: [SlotPattern] = [.full, .prePadded(3), .postPadded(2), .idle]
        let patterns = (0 ..< 17).map { cycle[$0 % cycle.count] }
        let model = LSTMModel(config: config, slots: patterns.count, window: 7)
        randomize(model, seed: 17)
        let batch = WindowBatch(config: config, slots: patterns.count, window: 7)
        var random = TestRandom(23)
        fillBatch(batch, config: config, patterns: patterns, targets: targets, random: &random)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-reference-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func write<T>(_ name: String, _ values: UnsafeMutableBufferPointer<T>) throws {
            try Data(buffer: UnsafeBufferPointer(values)).write(to: directory.appendingPathComponent(name))
        }
        let meta: [String: Any] = [
            "config": try JSONSerialization.jsonObject(with: JSONEncoder().encode(config)),
            "slots": batch.slots, "window": batch.window,
            "tensors": model.parameterLayout.tensors.map { ["name": $0.name, "shape": $0.shape, "offset": $0.offset] },
        ]
        try JSONSerialization.data(withJSONObject: meta).write(to: directory.appendingPathComponent("meta.json"))
        try write("parameters.f32", model.parameters)
        try write("hidden.f32", model.hidden)
        try write("cell.f32", model.cell)
        try write("tokens.i32", batch.tokens)
        try write("features.f32", batch.features)
        try write("mask.f32", batch.mask)
        try write("target_mask.f32", batch.targetMask)
        try write("class_targets.i32", batch.classTargets)
        try write("value_targets.f32", batch.valueTargets)

        let result = model.run(batch, backward: false)
        try Data(buffer: model.outputs).write(to: directory.appendingPathComponent("outputs.f32"))
        try write("final_hidden.f32", model.hidden)
        try write("final_cell.f32", model.cell)
        let summary: [String: Any] = ["lossSum": result.lossSum, "targets": result.targets, "correct": result.correct]
        try JSONSerialization.data(withJSONObject: summary).write(to: directory.appendingPathComponent("result.json"))

        let (status, output) = try runProcess(python, [Self.referenceScript, directory.path])
        XCTAssertEqual(status, 0, "numpy reference disagrees: \(output)")
    }

    static let referenceScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("python/lstm_reference.py").path

    /// `$LSTM_DIST_PYTHON`, else `python3` on the PATH; skips the test when it or numpy is missing.
    func pythonWithNumpy() throws -> [String] {
        let python = ProcessInfo.processInfo.environment["LSTM_DIST_PYTHON"] ?? "python3"
        let command = ["/usr/bin/env", python]
        let status = try? runProcess(command, ["-c", "import numpy"]).status
        guard status == 0 else { throw XCTSkip("\(python) with numpy is not available (set LSTM_DIST_PYTHON)") }
        return command
    }

    func runProcess(_ command: [String], _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst()) + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
