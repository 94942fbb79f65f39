// Benchmarks: commands, not timed tests. Figures are ratios against this machine's own single-thread
// peak, the best product kernel available here at 2048^3 measured in the same run, so they compare
// across machines and kernel choices. Times are CPU time of the one working thread, so other
// processes sharing the cores do not distort them.
import ArgumentParser
import COpenBLAS
import Foundation
import Model
import Storage

struct LSTMBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm-bench", abstract: "Throughput benchmarks for lstm-dist.",
        subcommands: [ModelBench.self, PeakBench.self, HashBench.self])
}

/// The ceiling other benchmarks (scripts/bench-train.sh) divide by.
struct PeakBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sgemm",
        abstract: "This machine's single-thread peak: the best of OpenBLAS and the model's kernels at 2048^3, GFLOP/s.")

    func run() {
        print(format(Peak.measure().best, 1))
    }
}
/// What the dataset fingerprint costs: SHA-256 (Storage's, OpenSSL's libcrypto) over a buffer
/// fed in 4 MiB runs, as the fingerprint feeds a file's targets (docs/datasets.md, "Fingerprint").
struct HashBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sha256", abstract: "SHA-256 throughput, GB/s and seconds per GB (the dataset fingerprint's cost).")

    @Option(help: "Gigabytes to hash.")
    var gigabytes = 1.0

    func run() throws {
        guard gigabytes > 0, gigabytes <= 1000 else { throw ValidationError("--gigabytes must be in (0, 1000]") }
        let run = [UInt8](repeating: 0xa5, count: 4 << 20)
        let runs = max(1, Int(gigabytes * 1e9) / run.count)
        let hash = try SHA256()
        let start = threadCPUTime()
        for _ in 0 ..< runs { try run.withUnsafeBytes { try hash.update($0) } }
        _ = try hash.hexDigest()
        let seconds = (threadCPUTime() - start) / .seconds(1)
        let bytes = Double(runs * run.count) / 1e9
        print("sha256: \(format(bytes / seconds, 2)) GB/s, \(format(seconds / bytes, 3)) s per GB (\(format(bytes, 2)) GB hashed, CPU time)")
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
        abstract: "Training throughput (forward, backward, Adam) for charlm and large, against the single-thread peak.",
        discussion: "Kernels: the model's (LSTM_DIST_KERNELS, or the best for this CPU).")

    @Option(help: "Seconds of timed training per configuration (at least 5 windows).")
    var seconds = 4.0

    @Option(help: "Configurations to run, comma-separated (charlm, large).")
    var cases = "charlm,large"

    @Flag(help: "Print one JSON object of the figures instead of text.")
    var json = false

    @Option(help: "fp32, or bf16 (the model's products with bf16 operands and fp32 sums; needs AVX512_BF16, or LSTM_DIST_KERNELS=reference).")
    var precision: Precision = .fp32

    func run() throws {
        try precision.check()
        let cpu = CPUDescription.current
        let peak = Peak.measure(precision: precision)
        var figures: [String: Any] = [
            "cpu_model": cpu.model, "cpu_flags": cpu.flags, "kernels": KernelPath.active.rawValue, "precision": precision.rawValue,
            "peak_precision": peak.precision.rawValue,
            "libxsmm_target": KernelPath.libxsmmTarget, "openblas_core": peak.openBLASCore,
            "openblas_coretype_set": ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "",
            "peak_gflops": peak.best, "openblas_gflops": peak.openBLAS, "libxsmm_gflops": peak.libxsmm,
        ]
        if !json {
            print("CPU: \(cpu.model); model kernels: \(KernelPath.active.rawValue) (libxsmm target \(KernelPath.libxsmmTarget)); products in \(precision.rawValue)")
            let openBLAS = peak.precision == .fp32
                ? "OpenBLAS (\(peak.openBLASCore) kernels) \(format(peak.openBLAS, 1)) GFLOP/s" : "OpenBLAS not measured (no bf16 product)"
            print("""
                single-thread 2048^3 (\(peak.precision.rawValue)), best of 6: \(openBLAS), \
                model kernels \(format(peak.libxsmm, 1)) GFLOP/s; peak \(format(peak.best, 1))
                """)
        }
        let names = cases.split(separator: ",").map(String.init)
        for benchCase in [BenchCase.charlm, .large] where names.contains(benchCase.name) {
            let measured = measureTraining(benchCase)
            let fraction = measured.tokensPerSecond * benchCase.flopsPerToken / (peak.best * 1e9)
            let restShare = 1 - measured.matmulShare - measured.gatesShare
            if !json {
                print("""
                    \(benchCase.name): \(format(measured.tokensPerSecond, 0)) tokens/s (median of \(measured.windows) windows), \
                    \(format(benchCase.flopsPerToken / 1e6, 2)) MFLOP/token, \(percent(fraction)) of the peak; \
                    time: products \(percent(measured.matmulShare)), gate passes \(percent(measured.gatesShare)), rest \(percent(restShare))
                    """)
            }
            figures[benchCase.name] = [
                "tokens_per_s": measured.tokensPerSecond, "windows": measured.windows, "fraction_of_peak": fraction,
                "products_share": measured.matmulShare, "gates_share": measured.gatesShare,
            ]
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: figures, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    /// Median throughput over timed windows (training steps), and the shares of time in products and gate passes.
    struct Measurement { var tokensPerSecond = 0.0, windows = 0, matmulShare = 0.0, gatesShare = 0.0 }

    func measureTraining(_ benchCase: BenchCase) -> Measurement {
        let model = LSTMModel(config: benchCase.config, slots: benchCase.slots, window: benchCase.window, precision: precision)
        model.initialize(seed: 1)
        let batch = WindowBatch(config: benchCase.config, slots: benchCase.slots, window: benchCase.window)
        var random = SystemRandomNumberGenerator()
        for r in 0 ..< benchCase.slots * benchCase.window {
            batch.tokens[r] = Int32.random(in: 0 ..< Int32(benchCase.vocabulary), using: &random)
            batch.classTargets[r] = Int32.random(in: 0 ..< Int32(benchCase.vocabulary), using: &random)
        }
        batch.mask.update(repeating: 1)
        batch.targetMask.update(repeating: 1)
        let update = ParameterUpdate(optimizer: AdamOptimizer(count: model.parameterLayout.count))
        let parameterGradients = UnsafeMutableBufferPointer(rebasing: model.gradients[0 ..< model.parameterLayout.count])
        func trainingStep() {
            let result = model.run(batch, backward: true)
            update.apply(parameters: model.parameters, gradients: parameterGradients, targets: Double(result.targets), learningRate: 1e-3)
        }
        trainingStep()  // warm caches (and JIT nothing: every kernel was made with the model)
        // Throughput first, with the phase clock off (its reads cost time); then a shorter run for the split.
        var stepSeconds: [Double] = []
        let start = threadCPUTime()
        repeat {
            let stepStart = threadCPUTime()
            trainingStep()
            stepSeconds.append((threadCPUTime() - stepStart).seconds)
        } while (threadCPUTime() - start).seconds < seconds || stepSeconds.count < 5
        var measured = Measurement()
        measured.windows = stepSeconds.count
        measured.tokensPerSecond = Double(benchCase.slots * benchCase.window) / stepSeconds.sorted()[stepSeconds.count / 2]

        model.measuresPhases = true
        let splitStart = threadCPUTime()
        repeat { trainingStep() } while (threadCPUTime() - splitStart).seconds < seconds / 2
        let splitTotal = (threadCPUTime() - splitStart).seconds
        measured.matmulShare = model.phaseTimes.matmul.seconds / splitTotal
        measured.gatesShare = model.phaseTimes.gates.seconds / splitTotal
        return measured
    }
}

/// This CPU as /proc/cpuinfo names it: figures are compared only between runs on the same model and flags.
struct CPUDescription {
    var model = "unknown", flags = ""

    static var current: CPUDescription {
        var description = CPUDescription()
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return description }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            if parts[0] == "model name" && description.model == "unknown" { description.model = parts[1] }
            if parts[0] == "flags" && description.flags.isEmpty { description.flags = parts[1] }
        }
        return description
    }
}

/// Single-thread GFLOP/s at 2048^3 (best of 6 each; the best run, not a median dragged down by
/// neighbours' cache traffic, is the conservative divisor): OpenBLAS's sgemm with the kernels it
/// picked, and the model's product kernels; the peak is the better of the two. In bf16, the model's
/// bf16 product kernels alone (OpenBLAS has no bf16 product here): the peak bf16 figures divide by.
struct Peak {
    var openBLAS = 0.0, libxsmm = 0.0, openBLASCore = ""
    /// The arithmetic of the products the peak was measured with.
    var precision = Precision.fp32
    var best: Double { max(openBLAS, libxsmm) }

    static func measure(size n: Int = 2048, precision: Precision = .fp32) -> Peak {
        openblas_set_num_threads(1)
        let stride = n + 16  // an odd number of cache lines, as the model pads its rows
        let a = [Float](repeating: 0.5, count: n * stride), b = [Float](repeating: 0.25, count: n * stride)
        var c = [Float](repeating: 0, count: n * stride)
        func bestRate(_ body: () -> Void) -> Double {
            (0 ..< 6).map { _ in
                let start = threadCPUTime()
                body()
                return 2 * pow(Double(n), 3) / (threadCPUTime() - start).seconds / 1e9
            }.max()!
        }
        var peak = Peak()
        peak.precision = precision
        peak.openBLASCore = String(cString: openblas_get_corename())
        if precision == .fp32 {
            peak.openBLAS = bestRate {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(n), blasint(n), blasint(n),
                            1, a, blasint(stride), b, blasint(stride), 0, &c, blasint(stride))
            }
        }
        let product = MatrixProduct(m: n, n: n, k: n, aStride: stride, bStride: stride, cStride: stride,
                                    kernels: ProductKernels(precision: precision))
        peak.libxsmm = bestRate {
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { product(a.baseAddress!, b.baseAddress!, into: $0.baseAddress!) }
                }
            }
        }
        return peak
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

func format(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }
func percent(_ fraction: Double) -> String { format(100 * fraction, 1) + "%" }

extension Precision: ExpressibleByArgument {}

LSTMBench.main()
