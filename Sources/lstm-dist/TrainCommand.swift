import ArgumentParser
import Comm
import TensorBoard
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
    @OptionGroup(title: "Model") var model: ModelOptions
    @OptionGroup(title: "Stream layout") var layout: LayoutOptions
    @OptionGroup(title: "Optimizer and schedule") var optimizer: OptimizerOptions
    @OptionGroup(title: "Precision") var precision: PrecisionOption
    @OptionGroup(title: "Checkpoints and validation") var checkpoints: CheckpointOptions
    @OptionGroup(title: "Logging") var logging: LoggingOptions

    func run() throws {
        var request = TrainingRequest(dataset: dataset)
        model.apply(to: &request)
        layout.apply(to: &request)
        optimizer.apply(to: &request)
        precision.apply(to: &request)
        checkpoints.apply(to: &request)
        logging.apply(to: &request)

        let comm = try MPICommunicator()
        let trainer: Trainer
        var metricsLog: MetricsLog?, tensorBoard: TensorBoardLog?
        do {
            trainer = try Trainer(request: request, comm: comm)
            // Rank 0 alone writes them; a refusal (an occupied folder, a file it cannot open)
            // reaches every rank, so all leave together.
            _ = try comm.decidedByRoot { () -> Bool in
                metricsLog = try trainer.plan.log.map { try MetricsLog(path: $0, metricKind: trainer.metricKind) }
                tensorBoard = try trainer.plan.tensorboard.map {
                    try TensorBoardLog(directory: $0, plan: trainer.plan, metricKind: trainer.metricKind,
                                       globalStep: trainer.position.globalStep, resumedFrom: trainer.resumedFrom)
                }
                return true
            }
        } catch {
            throw comm.failTogether(error)
        }
        let progress = comm.isRoot ? ProgressPrinter(trainer: trainer) : nil
        progress?.start(resume: request.resume)
        StopSignals.install()
        do {
            let outcome = try trainer.run(stopRequested: StopSignals.requested) { event in
                progress?.record(event)
                metricsLog?.record(event)
                tensorBoard?.record(event)
            }
            if outcome == .nothingToDo { tensorBoard?.discard() }
            progress?.finish(outcome)
        } catch let error as TrainingError where error.raisedByEveryRank {
            throw comm.failTogether(error)
        } catch {
            comm.failAlone(error)
        }
        try comm.finalize()
    }
}
