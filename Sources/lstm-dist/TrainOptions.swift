import ArgumentParser
import Comm
import Training

// `train`'s flags, grouped as its help shows them. Each group fills its part of the
// `TrainingRequest`; `TrainingPlan` decides defaults, resume rules and validity in one place.

struct ModelOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "LSTM units per layer. (default: 128)")
    var hidden: Int?
    @Option(parsing: .unconditional, help: "Stacked LSTM layers. (default: 1)")
    var layers: Int?
    @Option(parsing: .unconditional, help: "Embedding width, token inputs only. (default: 64)")
    var embedding: Int?
    @Option(parsing: .unconditional, help: "Inverted dropout on the inputs of every LSTM layer and of the head, in [0, 1). (default: 0)")
    var dropout: Float?
    @Option(parsing: .unconditional, help: "Seed of the weight initialisation and the dropout masks. (default: 0)")
    var seed: UInt64?

    func apply(to request: inout TrainingRequest) {
        request.hidden = hidden
        request.layers = layers
        request.embedding = embedding
        request.dropout = dropout
        request.seed = seed
    }
}

struct LayoutOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Stateful batch slots per rank; global slots = ranks x slots. (default: 16; on resume, the checkpoint's global slots / ranks)")
    var slots: Int?
    @Option(parsing: .unconditional, help: "Timesteps per window (truncated BPTT length). (default: the row length)")
    var window: Int?
    @Option(help: "When slot state is zeroed: row (independent sequences) or epoch (one long stream). (default: from the dataset's stream attribute)")
    var reset: ResetPolicy?
    @Option(help: "How gradients cross the network between ranks: fp32, or bf16 (half the bytes, rounded to nearest even, summed in bf16). (default: fp32; on resume, the run's)")
    var exchange: ExchangeFormat?

    func apply(to request: inout TrainingRequest) {
        request.slotsPerRank = slots
        request.window = window
        request.reset = reset
        request.exchange = exchange
    }
}

struct OptimizerOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Total epochs, counted from the start of training. (default: 10)")
    var epochs: Int?
    @Option(parsing: .unconditional, help: "Stop once this many steps have run since training began, writing a checkpoint.")
    var maxSteps: Int?
    @Option(help: "adam or sgd. (default: adam)")
    var optimizer: OptimizerKind?
    @Option(parsing: .unconditional, help: "Learning rate. (default: 1e-3 for adam, 0.01 for sgd)")
    var lr: Float?
    @Option(parsing: .unconditional, help: "SGD momentum. (default: 0)")
    var momentum: Float?
    @Option(parsing: .unconditional, help: "Clip gradients to this global norm. (default: no clipping)")
    var clipNorm: Float?
    @Option(parsing: .unconditional, help: "Decoupled weight decay (as Keras 3) of every tensor but the biases. (default: 0)")
    var weightDecay: Float?
    @Option(help: "constant, cosine (down to --min-lr over all epochs) or plateau (halved after an epoch without a lower monitored loss). (default: constant)")
    var lrSchedule: LearningRateSchedule?
    @Option(parsing: .unconditional, help: "Steps over which the rate climbs linearly to --lr. (default: 0)")
    var warmup: Int?
    @Option(parsing: .unconditional, help: "The lowest rate of the cosine and plateau schedules. (default: 0)")
    var minLr: Float?

    func apply(to request: inout TrainingRequest) {
        request.epochs = epochs
        request.maxSteps = maxSteps
        request.optimizer = optimizer
        request.learningRate = lr
        request.momentum = momentum
        request.clipNorm = clipNorm
        request.weightDecay = weightDecay
        request.lrSchedule = lrSchedule
        request.warmup = warmup
        request.minLearningRate = minLr
    }
}

struct CheckpointOptions: ParsableArguments {
    @Option(help: "Folder of the checkpoints. (default: checkpoints)")
    var checkpointDir: String?
    @Option(parsing: .unconditional, help: "Also write a checkpoint every this many global steps; 0: at epoch ends only. (default: 0)")
    var checkpointEvery: Int?
    @Option(parsing: .unconditional, help: "How many step checkpoints to keep. (default: 3)")
    var keep: Int?
    @Option(help: "Continue from a checkpoint file, or `latest` in --checkpoint-dir.")
    var resume: String?
    @Option(help: "Start a new run from this checkpoint's weights (fine-tuning): its network size, this run's other flags; data with other inputs, vocabulary, task, classes or normalisation is refused.")
    var initFrom: String?
    @Option(help: "Dataset evaluated statefully after each epoch (pack it with --like).")
    var validation: String?
    @Flag(help: "With --validation, keep DIR/best.h5, the checkpoint with the lowest validation loss.")
    var keepBest = false
    @Option(parsing: .unconditional, help: "With --validation: stop after this many epochs in a row without a lower val_loss, keeping best.h5.")
    var patience: Int?

    func apply(to request: inout TrainingRequest) {
        request.checkpointDirectory = checkpointDir
        request.checkpointEvery = checkpointEvery
        request.keep = keep
        request.resume = resume
        request.initFrom = initFrom
        request.validation = validation
        request.keepBest = keepBest
        request.patience = patience
    }
}

struct LoggingOptions: ParsableArguments {
    @Option(help: "Append one JSON object per step and per epoch to this file (plot it with scripts/plot-log.py).")
    var log: String?
    @Option(help: ArgumentHelp("Also write these figures as TensorBoard event files in this folder; a resume adds a file. (default: none; on resume, the run's)", valueName: "DIR"))
    var tensorboard: String?

    func apply(to request: inout TrainingRequest) {
        request.log = log
        request.tensorboard = tensorboard
    }
}

extension OptimizerKind: ExpressibleByArgument {}
extension ResetPolicy: ExpressibleByArgument {}
extension LearningRateSchedule: ExpressibleByArgument {}
extension ExchangeFormat: ExpressibleByArgument {}
