import ArgumentParser

@main
struct LSTMDist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm-dist",
        abstract: "Train stateful LSTMs data-parallel across MPI ranks, with HDF5 datasets and checkpoints.",
        subcommands: [PackCommand.self, InspectCommand.self, TrainCommand.self, EvaluateCommand.self, PredictCommand.self]
    )
}
