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
        as 1 rank x N*B slots.

        To stop a run cleanly, send SIGUSR1 (mpirun forwards it to every rank): all ranks finish \
        the same step, rank 0 writes a checkpoint and prints how to resume. SIGTERM and SIGINT do \
        the same for a single process or under Slurm; under mpirun they are best effort.
        """
    )

    @Argument(help: "Dataset written by `lstm-dist pack`.")
    var dataset: String

    @Option(help: "Stateful batch slots per rank; global slots = ranks x slots. (default: 16; on resume, the checkpoint's global slots / ranks)")
    var slots: Int?
    @Option(help: "Timesteps per window (truncated BPTT length). (default: the row length)")
    var window: Int?
    @Option(help: "Total epochs, counted from the start of training. (default: 10)")
    var epochs: Int?
    @Option(help: "Stop once this many steps have run since training began, writing a checkpoint.")
    var maxSteps: Int?

    @Option(help: "LSTM units per layer. (default: 128)")
    var hidden: Int?
    @Option(help: "Stacked LSTM layers. (default: 1)")
    var layers: Int?
    @Option(help: "Embedding width, token inputs only. (default: 64)")
    var embedding: Int?
    @Option(help: "adam or sgd. (default: adam)")
    var optimizer: OptimizerKind?
    @Option(help: "Learning rate. (default: 1e-3 for adam, 0.01 for sgd)")
    var lr: Float?
    @Option(help: "SGD momentum. (default: 0)")
    var momentum: Float?
    @Option(help: "Clip gradients to this global norm. (default: no clipping)")
    var clipNorm: Float?
    @Option(help: "When slot state is zeroed: row (independent sequences) or epoch (one long stream). (default: from the dataset's stream attribute)")
    var reset: ResetPolicy?
    @Option(help: "Seed of the weight initialisation. (default: 0)")
    var seed: UInt64?

    @Option(help: "Dataset evaluated statefully after each epoch (pack it with --like).")
    var validation: String?
    @Option(help: "Append one JSON object per step and per epoch to this file (plot it with scripts/plot-log.py).")
    var log: String?
    @Option(help: "Folder of the checkpoints.")
    var checkpointDir = "checkpoints"
    @Option(help: "Also write a checkpoint every this many global steps; 0: at epoch ends only. (default: 0)")
    var checkpointEvery: Int?
    @Option(help: "How many step checkpoints to keep. (default: 3)")
    var keep: Int?
    @Flag(help: "With --validation, keep DIR/best.h5, the checkpoint with the lowest validation loss.")
    var keepBest = false
    @Option(help: "Continue from a checkpoint file, or `latest` in --checkpoint-dir.")
    var resume: String?

    @Option(help: "Inverted dropout on the inputs of every LSTM layer and of the head, in [0, 1). (default: 0)")
    var dropout: Float?
    @Option(help: "Decoupled weight decay (as Keras 3) of every tensor but the biases. (default: 0)")
    var weightDecay: Float?
    @Option(help: "constant, cosine (down to --min-lr over all epochs) or plateau (halved after an epoch without a lower monitored loss). (default: constant)")
    var lrSchedule: LearningRateSchedule?
    @Option(help: "Steps over which the rate climbs linearly to --lr. (default: 0)")
    var warmup: Int?
    @Option(help: "The lowest rate of the cosine and plateau schedules. (default: 0)")
    var minLr: Float?
    @Option(help: "With --validation: stop after this many epochs in a row without a lower val_loss, keeping best.h5.")
    var patience: Int?

    /// Checked after MPI starts, so that under mpirun rank 0 alone reports a bad flag.
    private func checkFlags() throws {
        func positive(_ value: Int?, _ flag: String) throws {
            if let value, value <= 0 { throw ValidationError("\(flag) must be at least 1, got \(value)") }
        }
        try positive(slots, "--slots")
        try positive(window, "--window")
        try positive(epochs, "--epochs")
        try positive(maxSteps, "--max-steps")
        try positive(hidden, "--hidden")
        try positive(layers, "--layers")
        try positive(embedding, "--embedding")
        try positive(keep, "--keep")
        try positive(patience, "--patience")
        if let dropout, !(0..<1).contains(dropout) { throw ValidationError("--dropout must be in [0, 1), got \(dropout)") }
        if let weightDecay, !(weightDecay >= 0) { throw ValidationError("--weight-decay must be zero or positive") }
        if let warmup, warmup < 0 { throw ValidationError("--warmup must be 0 or more") }
        if let minLr, !(minLr >= 0) { throw ValidationError("--min-lr must be zero or positive") }
        if let minLr, let lr, minLr > lr { throw ValidationError("--min-lr \(minLr) is above --lr \(lr)") }
        if patience != nil, validation == nil, resume == nil { throw ValidationError("--patience needs --validation: it watches val_loss") }
        if let checkpointEvery, checkpointEvery < 0 { throw ValidationError("--checkpoint-every must be 0 or more") }
        if let clipNorm, !(clipNorm > 0) { throw ValidationError("--clip-norm must be positive") }
        if let lr, !(lr >= 0) { throw ValidationError("--lr must be zero or positive") }
        if let momentum, !(0..<1).contains(momentum) { throw ValidationError("--momentum must be in [0, 1)") }
        if keepBest, validation == nil, resume == nil { throw ValidationError("--keep-best needs --validation") }
    }

    func run() throws {
        var config = TrainingConfig(dataset: dataset)
        config.slotsPerRank = slots
        config.shape.window = window
        config.shape.hidden = hidden
        config.shape.layers = layers
        config.shape.embedding = embedding
        config.shape.optimizer = optimizer
        config.shape.momentum = momentum
        config.shape.reset = reset
        config.shape.seed = seed
        config.shape.dropout = dropout
        config.shape.weightDecay = weightDecay
        config.shape.lrSchedule = lrSchedule
        config.shape.warmup = warmup
        config.shape.minLearningRate = minLr
        config.patience = patience
        config.epochs = epochs
        config.maxSteps = maxSteps
        config.learningRate = lr
        config.clipNorm = clipNorm
        config.validation = validation
        config.log = log
        config.checkpointDirectory = checkpointDir
        config.checkpointEvery = checkpointEvery
        config.keep = keep
        config.keepBest = keepBest

        let comm = try MPICommunicator()
        let trainer: Trainer
        let metricsLog: MetricsLog?
        do {
            try checkFlags()
            trainer = try Trainer(config: config, comm: comm, resume: resume)
            metricsLog = try comm.isRoot ? trainer.config.log.map { try MetricsLog(path: $0, metricKind: trainer.metricKind) } : nil
        } catch {
            throw comm.failTogether(error)
        }
        let progress = comm.isRoot ? ProgressPrinter(trainer: trainer) : nil
        progress?.start(resume: resume)
        StopSignals.install()
        do {
            let outcome = try trainer.run(stopRequested: StopSignals.requested) { event in
                progress?.record(event)
                metricsLog?.record(event)
            }
            progress?.finish(outcome)
        } catch let error as TrainingError where error.raisedByEveryRank {
            throw comm.failTogether(error)
        } catch {
            comm.failAlone(error)
        }
        try comm.finalize()
    }
}

extension OptimizerKind: ExpressibleByArgument {}
extension ResetPolicy: ExpressibleByArgument {}
extension LearningRateSchedule: ExpressibleByArgument {}
