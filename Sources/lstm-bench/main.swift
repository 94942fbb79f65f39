// Benchmarks: commands, not timed tests. Figures are ratios against this machine's own sgemm rate,
// measured in the same run, so they compare across machines and BLAS kernel choices. Times are
// CPU time of the one working thread, so other processes sharing the cores do not distort them.
import ArgumentParser
import COpenBLAS
import Foundation
import Model

struct LSTMBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm-bench", abstract: "Throughput benchmarks for lstm-dist.",
        subcommands: [ModelBench.self, SgemmBench.self])
}

/// The ceiling other benchmarks (scripts/bench-train.sh) divide by.
struct SgemmBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sgemm", abstract: "This machine's single-thread sgemm rate (2048^3, best of 6), GFLOP/s.")

    func run() {
        openblas_set_num_threads(1)
        print(format(measureSgemmGFlops(size: 2048), 1))
    }
}

/// One benchmarked model shape; every timestep of every slot is valid and scored (per-step multiclass
/// over the vocabulary, as a character language model).
struct BenchCase {
    let name: String
    let vocabulary: Int, embedding: Int, hidden: Int, layers: Int, window: Int, slots: Int

    var config: ModelConfig {
        ModelConfig(input: .tokens(vocabSize: vocabulary, embedding: embedding), hidden: hidden, layers: layers,
                    head: .multiclass, outputs: vocabulary)
    }

    /// Training FLOPs per token as the issue counts them: 3 x (sum over layers of 2(I+H)4H + 2HV).
    var flopsPerToken: Double {
        let layerFlops = (0 ..< layers).map { 2.0 * Double((($0 == 0 ? embedding : hidden) + hidden) * 4 * hidden) }
        return 3 * (layerFlops.reduce(0, +) + 2 * Double(hidden * vocabulary))
    }

    static let charlm = BenchCase(name: "charlm", vocabulary: 96, embedding: 64, hidden: 256, layers: 1, window: 64, slots: 32)
    static let large = BenchCase(name: "large", vocabulary: 96, embedding: 128, hidden: 512, layers: 2, window: 64, slots: 64)
}

struct ModelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Training throughput (forward, backward, Adam) for charlm and large, against single-thread sgemm.")

    @Option(help: "Seconds of timed training per configuration.")
    var seconds = 4.0

    @Option(help: "Configurations to run, comma-separated (charlm, large).")
    var cases = "charlm,large"

    @Option(help: "JSON file of previous figures; this run's go under the \"model\" key.")
    var results = "scripts/bench-results.json"

    func run() throws {
        openblas_set_num_threads(1)
        let kernels = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "auto"
        let ceiling = measureSgemmGFlops(size: 2048)
        print("BLAS kernels: \(kernels) (OPENBLAS_CORETYPE); single-thread sgemm 2048^3: \(format(ceiling, 1)) GFLOP/s (best of 6, thread CPU time)")

        var figures: [String: Any] = ["sgemm_gflops": ceiling]
        let previous = readPreviousFigures(kernels: kernels)
        let names = cases.split(separator: ",").map(String.init)
        for benchCase in [BenchCase.charlm, .large] where names.contains(benchCase.name) {
            let measured = measureTraining(benchCase)
            let tokensPerSecond = measured.tokens / measured.total
            let fraction = tokensPerSecond * benchCase.flopsPerToken / (ceiling * 1e9)
            let restShare = 1 - measured.matmulShare - measured.gatesShare
            print("""
                \(benchCase.name): \(format(tokensPerSecond, 0)) tokens/s, \(format(benchCase.flopsPerToken / 1e6, 2)) MFLOP/token, \
                \(percent(fraction)) of the sgemm ceiling; time: sgemm \(percent(measured.matmulShare)), \
                gates \(percent(measured.gatesShare)), rest \(percent(restShare))
                """)
            if let before = previous?[benchCase.name] as? [String: Any], let old = before["tokens_per_s"] as? Double {
                print("  previous \(format(old, 0)) tokens/s, now \(format(tokensPerSecond, 0)) (x\(format(tokensPerSecond / old, 2)))")
            }
            figures[benchCase.name] = [
                "tokens_per_s": tokensPerSecond, "fraction_of_sgemm": fraction,
                "sgemm_share": measured.matmulShare, "gates_share": measured.gatesShare,
            ]
        }
        try writeFigures(figures, kernels: kernels)
    }

    /// A timed run of full training steps: tokens and seconds, and the shares of time in products and gate passes.
    struct Measurement { var tokens = 0.0, total = 0.0, matmulShare = 0.0, gatesShare = 0.0 }

    func measureTraining(_ benchCase: BenchCase) -> Measurement {
        let model = LSTMModel(config: benchCase.config, slots: benchCase.slots, window: benchCase.window)
        model.initialize(seed: 1)
        let batch = WindowBatch(config: benchCase.config, slots: benchCase.slots, window: benchCase.window)
        var random = SystemRandomNumberGenerator()
        for r in 0 ..< benchCase.slots * benchCase.window {
            batch.tokens[r] = Int32.random(in: 0 ..< Int32(benchCase.vocabulary), using: &random)
            batch.classTargets[r] = Int32.random(in: 0 ..< Int32(benchCase.vocabulary), using: &random)
        }
        batch.mask.update(repeating: 1)
        batch.targetMask.update(repeating: 1)
        let optimizer = AdamOptimizer(count: model.layout.count)
        let parameterGradients = UnsafeBufferPointer(rebasing: model.gradients[0 ..< model.layout.count])
        func trainingStep() {
            let result = model.run(batch, backward: true)
            let scale = 1 / Float(result.targets)
            for k in 0 ..< model.layout.count { model.gradients[k] *= scale }
            optimizer.step(parameters: model.parameters, gradients: parameterGradients)
        }
        trainingStep()  // warm caches and BLAS buffers
        // Throughput first, with the phase clock off (its reads cost time); then a shorter run for the split.
        var measured = Measurement()
        let start = threadCPUTime()
        repeat {
            trainingStep()
            measured.tokens += Double(benchCase.slots * benchCase.window)
        } while (threadCPUTime() - start).seconds < seconds
        measured.total = (threadCPUTime() - start).seconds

        model.measuresPhases = true
        let splitStart = threadCPUTime()
        repeat { trainingStep() } while (threadCPUTime() - splitStart).seconds < seconds / 2
        let splitTotal = (threadCPUTime() - splitStart).seconds
        measured.matmulShare = model.phaseTimes.matmul.seconds / splitTotal
        measured.gatesShare = model.phaseTimes.gates.seconds / splitTotal
        return measured
    }

    func readPreviousFigures(kernels: String) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: results),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let model = root["model"] as? [String: Any] else { return nil }
        return model[kernels] as? [String: Any]
    }

    /// Stores figures under model.<kernels>, keeping every other key of the file.
    func writeFigures(_ figures: [String: Any], kernels: String) throws {
        var root: [String: Any] = [:]
        if let data = FileManager.default.contents(atPath: results) {
            root = (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        }
        var model = root["model"] as? [String: Any] ?? [:]
        model[kernels] = figures
        root["model"] = model
        let data = try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: results))
        print("figures written to \(results) under model.\(kernels)")
    }
}

/// The best of six single-thread n x n x n sgemms, GFLOP/s: the ceiling is what the core can do,
/// so the best run (not a median dragged down by neighbours' cache traffic) is the conservative divisor.
func measureSgemmGFlops(size n: Int) -> Double {
    let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
    var c = [Float](repeating: 0, count: n * n)
    let rates = (0 ..< 6).map { _ in
        let start = threadCPUTime()
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(n), blasint(n), blasint(n),
                    1, a, blasint(n), b, blasint(n), 0, &c, blasint(n))
        return 2 * pow(Double(n), 3) / (threadCPUTime() - start).seconds / 1e9
    }
    return rates.max()!
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

func format(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }
func percent(_ fraction: Double) -> String { format(100 * fraction, 1) + "%" }

LSTMBench.main()
