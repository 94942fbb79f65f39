import ArgumentParser
import Comm
import Training

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a stateful LSTM on a packed dataset, data-parallel over MPI ranks.",
        discussion: """
        Run alone or under `mpirun -n N`. Every rank owns --slots consecutive global slots, each \
        reading a contiguous, unshuffled range of rows window by window while carrying its state; \
        gradients are summed over all ranks every step, so N ranks x B slots train the same model \
        as 1 rank x N*B slots. SIGUSR1 (forwarded by mpirun), SIGTERM or SIGINT stop every rank \
        after the same step.
        """
    )

    @Argument(help: "Dataset written by `lstm-dist pack`.")
    var dataset: String

    @Option(help: "Stateful batch slots per rank (global slots = ranks x slots).")
    var slots = 16
    @Option(help: "Timesteps per window (truncated BPTT length). Default: the row length.")
    var window: Int?
    @Option(help: "Total epochs.")
    var epochs = 10
    @Option(help: "Stop once this many steps have run since training began.")
    var maxSteps: Int?

    @Option(help: "LSTM units per layer.")
    var hidden = 128
    @Option(help: "Stacked LSTM layers.")
    var layers = 1
    @Option(help: "Embedding width (token inputs only).")
    var embedding = 64

    @Option(help: "adam or sgd.")
    var optimizer = OptimizerKind.adam
    @Option(help: "Learning rate. Default: 1e-3 for adam, 0.01 for sgd.")
    var lr: Float?
    @Option(help: "SGD momentum.")
    var momentum: Float = 0
    @Option(help: "Clip gradients to this global norm.")
    var clipNorm: Float?
    @Option(help: "When slot state is zeroed: row (independent sequences) or epoch (one long stream). Default: from the dataset's stream attribute.")
    var reset: ResetPolicy?
    @Option(help: "Seed of the weight initialisation.")
    var seed: UInt64 = 0

    @Option(help: "Dataset evaluated statefully after each epoch (pack it with --like).")
    var validation: String?
    @Option(help: "Append one JSON object per step and per epoch to this file.")
    var log: String?

    func validate() throws {
        guard slots > 0 else { throw ValidationError("--slots must be at least 1") }
        guard epochs > 0 else { throw ValidationError("--epochs must be at least 1") }
        if let window, window <= 0 { throw ValidationError("--window must be at least 1") }
        if let maxSteps, maxSteps <= 0 { throw ValidationError("--max-steps must be at least 1") }
        if let clipNorm, !(clipNorm > 0) { throw ValidationError("--clip-norm must be positive") }
        if let lr, !(lr >= 0) { throw ValidationError("--lr must be zero or positive") }
    }

    func run() throws {
        var config = TrainingConfig(dataset: dataset)
        config.slotsPerRank = slots
        config.window = window
        config.epochs = epochs
        config.maxSteps = maxSteps
        config.hidden = hidden
        config.layers = layers
        config.embedding = embedding
        config.optimizer = optimizer
        config.learningRate = lr
        config.momentum = momentum
        config.clipNorm = clipNorm
        config.reset = reset
        config.seed = seed
        config.validation = validation
        config.log = log

        let comm = try MPICommunicator()
        let trainer: Trainer
        let metricsLog: MetricsLog?
        do {
            trainer = try Trainer(config: config, comm: comm)
            metricsLog = try comm.isRoot ? log.map { try MetricsLog(path: $0, metricKind: trainer.metricKind) } : nil
        } catch {
            throw comm.failTogether(error)
        }
        let progress = comm.isRoot ? ProgressPrinter(trainer: trainer) : nil
        progress?.start()
        StopSignals.install()
        do {
            try trainer.run(stopRequested: StopSignals.requested) { event in
                progress?.record(event)
                metricsLog?.record(event)
            }
        } catch {
            comm.failAlone(error)
        }
        progress?.finish(stoppedBySignal: StopSignals.requested())
        try comm.finalize()
    }
}

extension OptimizerKind: ExpressibleByArgument {}
extension ResetPolicy: ExpressibleByArgument {}
