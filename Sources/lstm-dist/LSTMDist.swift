import ArgumentParser
import Foundation

@main
struct LSTMDist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm-dist",
        abstract: "Train stateful LSTMs data-parallel across MPI ranks, with HDF5 datasets and checkpoints.",
        subcommands: [PackCommand.self, InspectCommand.self, TrainCommand.self, EvaluateCommand.self, PredictCommand.self]
    )

    /// Command-line mistakes get ArgumentParser's message and usage; a failure while running
    /// gets one `error:` line naming what was wrong and where, and exit status 1.
    static func main() {
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            try command.run()
        } catch let code as ExitCode {
            exit(withError: code)
        } catch {
            printError(error)
            exit(withError: ExitCode.failure)
        }
    }
}

/// One line on stderr, as every command reports a failure.
func printError(_ error: Any) {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
}
