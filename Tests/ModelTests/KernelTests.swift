import Foundation
import XCTest
@testable import Model

/// The kernel paths against plain references. The process runs one libxsmm path (LSTM_DIST_KERNELS,
/// or the best the CPU has); `testEveryKernelPathPassesInItsOwnProcess` runs this class again in a
/// child process for each path, so every path is tested on any machine that has it.
final class KernelTests: XCTestCase {
    /// Every shape combination, A read as it is and transposed, overwriting and accumulating, on the
    /// process's libxsmm path and on the reference loops, against a double-precision product. The
    /// shapes cover 1, tails of the 256 x 64 tiles and of the 256-long k chunks, and rows longer than
    /// their strides need; nothing outside C's rows may change. One column is also tried contiguous,
    /// as a single slot's step product is (libxsmm then runs it in the other orientation).
    func testProductsMatchAPlainDoubleProductAtAwkwardShapes() {
        var random = TestRandom(3)
        for path in [KernelPath.active, .reference] {
            for m in [1, 3, 33, 260] {
                for n in [1, 5, 129] {
                    for k in [1, 17, 300] {
                        for transposedA in [false, true] {
                            for accumulate in [false, true] {
                                for cStride in n == 1 ? [n + 5, 1] : [n + 5] {
                                    checkProduct(m: m, n: n, k: k, transposedA: transposedA, accumulate: accumulate,
                                                 cStride: cStride, path: path, random: &random)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    func checkProduct(m: Int, n: Int, k: Int, transposedA: Bool, accumulate: Bool, cStride: Int, path: KernelPath,
                      random: inout TestRandom, file: StaticString = #filePath, line: UInt = #line) {
        let aRows = transposedA ? k : m, aColumns = transposedA ? m : k
        let aStride = aColumns + 3, bStride = n + 2
        let a = (0 ..< aRows * aStride).map { _ in random.float() }, b = (0 ..< k * bStride).map { _ in random.float() }
        let before = (0 ..< m * cStride).map { _ in random.float() }
        var c = before
        let product = MatrixProduct(m: m, n: n, k: k, aStride: aStride, transposedA: transposedA, bStride: bStride,
                                    cStride: cStride, accumulate: accumulate, path: path)
        product(a, b, into: &c)
        let what = "\(path) \(m)x\(n)x\(k)\(transposedA ? " A^T" : "")\(accumulate ? " +=" : ""), C rows \(cStride) apart"
        for i in 0 ..< m {
            for j in 0 ..< cStride {
                let index = i * cStride + j
                guard j < n else {
                    XCTAssertEqual(c[index], before[index], "\(what): wrote past row \(i)", file: file, line: line)
                    continue
                }
                var expected = accumulate ? Double(before[index]) : 0, magnitude = abs(expected)
                for p in 0 ..< k {
                    let term = Double(transposedA ? a[p * aStride + i] : a[i * aStride + p]) * Double(b[p * bStride + j])
                    expected += term
                    magnitude += abs(term)
                }
                if abs(Double(c[index]) - expected) > 1e-6 * magnitude + 1e-30 {
                    XCTFail("\(what): C[\(i),\(j)] = \(c[index]), expected \(expected)", file: file, line: line)
                    return
                }
            }
        }
    }

    /// The model on the process's kernels against the model on the reference loops, forward and backward:
    /// outputs, every gradient and the carried state, at slot counts around the vector width (1, 3, 17,
    /// 33), unit counts 1, 5 and 100, windows 1 and 7, with padded and idle slots.
    func testTheModelOnLibxsmmMatchesTheModelOnReferenceLoopsAtAwkwardShapes() {
        for slots in [1, 3, 17, 33] {
            for hidden in [1, 5, 100] {
                for window in [1, 7] {
                    let config = ModelConfig(input: .tokens(vocabSize: 11, embedding: 4), hidden: hidden, layers: 2,
                                             head: .multiclass, outputs: 11)
                    let cycle: [SlotPattern] = [.full, .prePadded(1), .postPadded(1), .idle]
                    let patterns = (0 ..< slots).map { window == 1 && $0 % 4 != 3 ? .full : cycle[$0 % 4] }
                    let batch = WindowBatch(config: config, slots: slots, window: window)
                    var random = TestRandom(UInt64(slots * 1000 + hidden * 10 + window))
                    fillBatch(batch, config: config, patterns: patterns, targets: .perStep, random: &random)
                    let models = [KernelPath.active, .reference].map {
                        let model = LSTMModel(config: config, slots: slots, window: window, kernels: $0)
                        randomize(model, seed: 5)
                        _ = model.run(batch, backward: true)
                        return model
                    }
                    let what = "B \(slots), H \(hidden), T \(window)"
                    let (fast, plain) = (models[0], models[1])
                    assertClose(Array(fast.outputs), Array(plain.outputs), absolute: 1e-6, relative: 1e-4, "\(what): outputs")
                    assertClose(fast.gradients.array, plain.gradients.array, absolute: 1e-5, relative: 1e-4, "\(what): gradients")
                    assertClose(fast.hidden.array, plain.hidden.array, absolute: 1e-6, relative: 1e-4, "\(what): h")
                    assertClose(fast.cell.array, plain.cell.array, absolute: 1e-6, relative: 1e-4, "\(what): c")
                    assertClose(fast.hiddenGradient.array, plain.hiddenGradient.array, absolute: 1e-5, relative: 1e-4,
                                "\(what): dh")
                    assertClose(fast.cellGradient.array, plain.cellGradient.array, absolute: 1e-5, relative: 1e-4,
                                "\(what): dc")
                    withExtendedLifetime(models) {}  // the buffers read above are freed with the models
                }
            }
        }
    }

    /// Thirty Adam steps over a stream on the process's kernels and on the reference loops: the same
    /// parameters to float rounding (the products sum in different orders, nothing else differs).
    func testShortTrainingOnLibxsmmEqualsTrainingOnReferenceLoops() {
        let config = ModelConfig(input: .tokens(vocabSize: 13, embedding: 6), hidden: 24, layers: 2,
                                 head: .multiclass, outputs: 13)
        let slots = 5, window = 8
        let runs = [KernelPath.active, .reference].map { path -> ([Float], [Double]) in
            let model = LSTMModel(config: config, slots: slots, window: window, kernels: path)
            model.initialize(seed: 2)
            let batch = WindowBatch(config: config, slots: slots, window: window)
            let optimizer = AdamOptimizer(count: model.parameterLayout.count, learningRate: 1e-2)
            var random = TestRandom(17), losses: [Double] = []
            for _ in 0 ..< 30 {
                fillBatch(batch, config: config, patterns: Array(repeating: .full, count: slots), targets: .perStep,
                          random: &random)
                let result = model.run(batch, backward: true)
                losses.append(result.lossSum / Double(result.targets))
                let gradients = UnsafeMutableBufferPointer(rebasing: model.gradients[0 ..< model.parameterLayout.count])
                for k in gradients.indices { gradients[k] /= Float(result.targets) }
                optimizer.step(parameters: model.parameters, gradients: UnsafeBufferPointer(gradients))
            }
            return (model.parameters.array, losses)
        }
        assertClose(runs[0].0, runs[1].0, absolute: 1e-5, relative: 1e-3, "parameters after 30 steps")
        for (step, (fast, plain)) in zip(runs[0].1, runs[1].1).enumerated() {
            XCTAssertEqual(fast, plain, accuracy: 1e-4 * plain, "loss of step \(step)")
        }
    }

    /// LSTM_DIST_KERNELS decides the path, and libxsmm generates code for that instruction set.
    func testTheActivePathIsTheOneTheEnvironmentNames() throws {
        let expected = try KernelPath.fromEnvironment()
        XCTAssertEqual(KernelPath.active, expected)
        switch expected {
        case .avx2: XCTAssertEqual(KernelPath.libxsmmTarget, "hsw")
        case .avx512: XCTAssertTrue(["skx", "clx", "cpx", "spr"].contains(KernelPath.libxsmmTarget), KernelPath.libxsmmTarget)
        case .reference: break
        }
        XCTAssertThrowsError(try KernelPath.fromEnvironment([KernelPath.environmentVariable: "sse"])) {
            XCTAssertEqual("\($0)", "LSTM_DIST_KERNELS=sse is not a kernel path; use one of avx512, avx2, reference, or leave it unset")
        }
        XCTAssertEqual(try KernelPath.fromEnvironment([:]), KernelPath.best)
    }

    /// This class again in a child process per path (AVX-512 where the CPU has it): products, the model
    /// and training against the reference loops, each on libxsmm code for that instruction set.
    func testEveryKernelPathPassesInItsOwnProcess() throws {
        guard ProcessInfo.processInfo.environment[KernelPath.environmentVariable] == nil else {
            throw XCTSkip("a child run for one kernel path: the parent runs the others")
        }
        var paths: [KernelPath] = [.avx2]
        if KernelPath.best == .avx512 { paths.append(.avx512) } else { print("no AVX-512 on this CPU: its path is not tested here") }
        for path in paths {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            child.arguments = ["ModelTests.KernelTests"]
            var environment = ProcessInfo.processInfo.environment
            environment[KernelPath.environmentVariable] = path.rawValue
            child.environment = environment
            let output = Pipe()
            child.standardOutput = output
            child.standardError = output
            try child.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            child.waitUntilExit()
            XCTAssertEqual(child.terminationStatus, 0, "\(path):\n\(text)")
            XCTAssertTrue(text.contains("Executed 5 tests, with 1 test skipped and 0 failures"), "\(path):\n\(text)")
        }
    }
}

private extension MatrixProduct {
    func callAsFunction(_ a: [Float], _ b: [Float], into c: inout [Float]) {
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { self(a.baseAddress!, b.baseAddress!, into: $0.baseAddress!) }
            }
        }
    }
}
