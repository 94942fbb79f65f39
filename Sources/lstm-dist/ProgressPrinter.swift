import Foundation
import Training

/// Rank 0's console output during training: a header, a progress line about once a second
/// and at each epoch's end, and a summary line per epoch.
final class ProgressPrinter {
    private let trainer: Trainer
    private var lastPrint = ContinuousClock.now - .seconds(10)

    init(trainer: Trainer) { self.trainer = trainer }

    func start() {
        let config = trainer.config, layout = trainer.layout, header = trainer.header
        say("""
        lstm-dist train: \(config.dataset): \(header.rows) rows x \(header.length) timesteps, \(header.task.rawValue), \(header.targetKind.rawValue) targets
          \(trainer.comm.size) rank\(trainer.comm.size == 1 ? "" : "s") x \(config.slotsPerRank) slots = \(layout.globalSlots) global slots; \
        window \(layout.window), \(layout.windowsPerRow) window\(layout.windowsPerRow == 1 ? "" : "s") per row, \(layout.stepsPerEpoch) steps per epoch, reset per \(config.reset!.rawValue)
          model: \(config.layers) x LSTM(\(config.hidden)), \(trainer.model.layout.count) parameters; \(config.optimizer.rawValue) lr \(config.learningRate!)
        """)
    }

    func record(_ event: TrainingEvent) {
        switch event {
        case .step(let step):
            let now = ContinuousClock.now
            guard now - lastPrint >= .seconds(1) || step.step + 1 == step.stepsPerEpoch else { return }
            lastPrint = now
            var line = "epoch \(step.epoch + 1)/\(trainer.config.epochs)  step \(step.step + 1)/\(step.stepsPerEpoch)"
            line += metrics(step.sums)
            line += "  \(format(step.tokensPerSecond, 0)) tok/s  allreduce \(format(100 * step.allreduceShare, 1))%  ETA \(duration(step.secondsLeft))"
            say(line)
        case .epoch(let epoch):
            var line = "epoch \(epoch.epoch + 1)/\(trainer.config.epochs) done in \(duration(epoch.seconds)):" + metrics(epoch.sums)
            if let validation = epoch.validation { line += "  | validation:" + metrics(validation) }
            say(line)
        }
    }

    func finish(stoppedBySignal: Bool) {
        if stoppedBySignal {
            say("stopped on request after global step \(trainer.globalStep)")
        } else if trainer.globalStep == trainer.config.maxSteps {
            say("reached --max-steps \(trainer.globalStep)")
        } else {
            say("training finished: \(trainer.globalStep) steps")
        }
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
