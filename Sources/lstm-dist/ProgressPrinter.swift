import Foundation
import Training

/// Rank 0's console output during training: a header, a progress line about once a second
/// and at each epoch's end, a summary line per epoch, and how to resume after a stop.
final class ProgressPrinter {
    private let trainer: Trainer
    private var lastPrint = ContinuousClock.now - .seconds(10)
    private var lastCheckpoint: String?

    init(trainer: Trainer) { self.trainer = trainer }

    func start(resume: String?) {
        let plan = trainer.plan, layout = trainer.layout, header = trainer.header, ranks = trainer.comm.size
        if let from = trainer.resumedFrom {
            let position = trainer.position
            say("resuming from \(from): epoch \(position.epoch + 1), step \(position.step + 1), global step \(position.globalStep)")
        } else if let from = trainer.initializedFrom {
            say("starting from the weights of \(from) (--init-from): fresh optimizer, counters and state")
        } else if resume == "latest" {
            say("no checkpoint in \(plan.checkpoints.directory) yet: starting fresh")
        }
        say("""
        lstm-dist train: \(plan.dataset): \(header.rows) rows x \(header.length) timesteps, \(header.task.rawValue), \(header.targetKind.rawValue) targets
          \(ranks) rank\(ranks == 1 ? "" : "s") x \(plan.slotsPerRank) slots = \(layout.globalSlots) global slots; \
        window \(layout.window), \(layout.windowsPerRow) per row, \(layout.stepsPerEpoch) steps per epoch; reset per \(plan.recipe.reset.rawValue)\(ranks > 1 && plan.exchange == .bf16 ? "; gradients exchanged as bf16" : "")
          model: \(plan.architecture.layers) x LSTM(\(plan.architecture.hidden)), \(trainer.model.parameterLayout.count) parameters; \(plan.recipe.optimizer.rawValue), lr \(plan.learningRate)\(regularisation)
          precision: \(precision)
        """)
    }

    func record(_ event: TrainingEvent) {
        switch event {
        case .step(let step):
            let now = ContinuousClock.now
            guard now - lastPrint >= .seconds(1) || step.step + 1 == step.stepsPerEpoch else { return }
            lastPrint = now
            var line = "epoch \(step.epoch + 1)/\(trainer.plan.epochs)  step \(step.step + 1)/\(step.stepsPerEpoch)"
            line += metrics(step.sums)
            line += "  lr \(String(format: "%.3g", step.learningRate))  \(format(step.tokensPerSecond, 0)) tok/s  allreduce \(format(100 * step.allreduceShare, 1))%  ETA \(duration(step.secondsLeft))"
            say(line)
        case .epoch(let epoch):
            var line = "epoch \(epoch.epoch + 1)/\(trainer.plan.epochs) done in \(duration(epoch.seconds))" + metrics(epoch.sums)
            line += "  tokens_per_s \(format(epoch.tokensPerSecond, 0))"
            if let validation = epoch.validation { line += "  | validation:" + metrics(validation) }
            say(line)
        case .checkpoint(let path):
            lastCheckpoint = path
        }
    }

    func finish(_ outcome: TrainingOutcome) {
        let step = trainer.position.globalStep
        switch outcome {
        case .finished: say("training finished after \(step) steps")
        case .reachedMaxSteps: say("reached --max-steps at global step \(step)")
        case .stopRequested: say("stopped on request after global step \(step)")
        case .nothingToDo where trainer.position.monitor.earlyStopped:
            say("nothing left to do: the run stopped early at epoch \(trainer.position.epoch) (--patience \(trainer.plan.patience.map(String.init) ?? "-")); best.h5 holds its best epoch")
        case .nothingToDo: say("nothing left to do: the checkpoint is at global step \(step), epoch \(trainer.position.epoch) of \(trainer.plan.epochs); raise --epochs or --max-steps to go on")
        case .stoppedEarly:
            let monitor = trainer.position.monitor
            say("stopped early after epoch \(trainer.position.epoch): val_loss has not gone below \(format(monitor.best ?? .nan, 4)) for \(monitor.epochsWithoutImprovement) epochs (--patience \(trainer.plan.patience.map(String.init) ?? "-")); best.h5 holds that epoch")
        }
        if let lastCheckpoint {
            say("checkpoint: \(lastCheckpoint)")
            if outcome != .finished { say("resume with: lstm-dist train \(trainer.plan.dataset) --checkpoint-dir \(trainer.plan.checkpoints.directory) --resume latest") }
        }
    }

    /// The products' precision, and the checkpoint's when a resume changes it.
    private var precision: String {
        let precision = trainer.plan.precision
        guard let saved = trainer.resumedPrecision, saved != precision else { return precision.rawValue }
        return "\(precision.rawValue) (was \(saved.rawValue) in the checkpoint)"
    }

    /// The schedule, dropout, weight decay and patience, when set.
    private var regularisation: String {
        let recipe = trainer.plan.recipe
        var parts: [String] = []
        if recipe.lrSchedule != .constant || recipe.warmup > 0 {
            parts.append("\(recipe.lrSchedule.rawValue) schedule" + (recipe.warmup > 0 ? ", warm-up \(recipe.warmup) steps" : "")
                + (recipe.minLearningRate > 0 ? ", min \(recipe.minLearningRate)" : ""))
        }
        if recipe.dropout > 0 { parts.append("dropout \(recipe.dropout)") }
        if recipe.weightDecay > 0 { parts.append("weight decay \(recipe.weightDecay)") }
        if let patience = trainer.plan.patience { parts.append("patience \(patience)") }
        return parts.map { "; " + $0 }.joined()
    }

    private func metrics(_ sums: TargetSums) -> String {
        trainer.metricKind.values(sums).map { "  \($0) \(format($1, 4))" }.joined()
    }

    private func say(_ text: String) {
        print(text)
        fflush(nil)
    }
}

func format(_ value: Double, _ decimals: Int) -> String {
    value.isFinite ? String(format: "%.\(decimals)f", value) : "-"
}

/// h:mm:ss, or m:ss under an hour.
func duration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "-" }
    let total = Int(seconds.rounded())
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60)
    return h > 0 ? String(format: "%d:%02d:%02d", h, m, s) : String(format: "%d:%02d", m, s)
}
