import ArgumentParser
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
