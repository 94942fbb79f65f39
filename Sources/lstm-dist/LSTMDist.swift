import ArgumentParser
import CBuildInfo
import CCPUFeatures
import Foundation
import Model

@main
struct LSTMDist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm-dist",
        abstract: "Train stateful LSTMs data-parallel across MPI ranks, with HDF5 datasets and checkpoints.",
        discussion: """
        Needs an x86-64 CPU with AVX2 and FMA. The model's matrix products and gate passes run on code \
        for the CPU's instruction sets (AVX-512 where it has them); set \
        \(KernelPath.environmentVariable)=avx512|avx2|reference to force one (reference: plain loops, slow).
        """,
        version: versionText,
        subcommands: [PackCommand.self, InspectCommand.self, TrainCommand.self, EvaluateCommand.self, PredictCommand.self,
                      GenerateCommand.self, ForecastCommand.self, ExportCommand.self]
    )

    /// ArgumentParser's main, after the CPU check: this target is built for baseline x86-64, the model
    /// for AVX2 + FMA, so an older CPU gets one line here rather than SIGILL later.
    static func main() {
        if let problem = kernelProblem() {
            printError(problem)
            Foundation.exit(ExitCode.failure.rawValue)
        }
        main(nil)
    }
}

/// The release this source tree is.
let version = "0.1.0"

/// What `lstm-dist --version` prints: the version, the commit the binary was built from (which the
/// build scripts pass in; "unknown" from a plain `swift build`) and the kernel path a command would
/// run here, with why. Only CPUID and the environment are read: printing it initialises no kernels.
var versionText: String {
    let best = KernelPath.best
    let forced = ProcessInfo.processInfo.environment[KernelPath.environmentVariable].flatMap { $0.isEmpty ? nil : $0 }
    // main() has refused a bad LSTM_DIST_KERNELS before ArgumentParser asks for this.
    let path = (try? KernelPath.fromEnvironment()) ?? best
    let why = forced == nil
        ? "the best this CPU runs; \(KernelPath.environmentVariable)=avx512|avx2|reference forces one"
        : "forced by \(KernelPath.environmentVariable); this CPU's best is \(best.rawValue)"
    return """
    lstm-dist \(version)
    commit \(String(cString: lstm_build_commit()))
    kernels \(path.rawValue) (\(why))
    """
}

/// Why the model's kernels cannot run here, if they cannot: a CPU below the floor or a bad
/// LSTM_DIST_KERNELS (asked only once the CPU is known to run the model's code).
func kernelProblem() -> String? {
    guard lstm_cpu_has_avx2_fma() != 0 else {
        return "this CPU lacks AVX2 and FMA, which lstm-dist needs (x86-64 from Intel Haswell, 2013, or AMD Excavator, 2015, on)"
    }
    do {
        _ = try KernelPath.fromEnvironment()
    } catch {
        return "\(error)"
    }
    return nil
}

/// One line on stderr, as ArgumentParser reports a failure thrown from `run()`; for the paths
/// under MPI that cannot simply throw (only rank 0 reports, or one rank aborts the job).
func printError(_ error: Any) {
    FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
}
