import ArgumentParser
import Foundation

@main
struct LSTMDist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm-dist",
        abstract: "Train stateful LSTMs data-parallel across MPI ranks, with HDF5 datasets and checkpoints.",
        subcommands: [PackCommand.self, InspectCommand.self, TrainCommand.self, EvaluateCommand.self, PredictCommand.self,
                      GenerateCommand.self, ForecastCommand.self, ExportCommand.self]
    )
}

/// One line on stderr, as ArgumentParser reports a failure thrown from `run()`; for the paths
/// under MPI that cannot simply throw (only rank 0 reports, or one rank aborts the job).
func printError(_ error: Any) {
    FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
}
