import Foundation
import Training

/// `--tensorboard DIR` (docs/commands.md): the `--log` figures as TensorBoard scalars, written
/// by rank 0 from the same `TrainingEvent`s, so both show the same values (TensorBoard's as
/// float32). Per step at its `global_step`: `train/` + each of the step's metrics, `train/lr`,
/// `train/tokens_per_s`, `train/allreduce_share`, `train/allreduce_ms`; per epoch at the `global_step` that ends it:
/// `epoch/` + the epoch's means, `epoch/tokens_per_s`, `epoch/seconds`, and `val/` + the
/// validation metrics. The plan as a text summary, `config`.
///
/// Every process writes a new file, opening with a SessionLog START at its first step: 0, or a
/// resumed run's first, after the checkpoint's `global_step`. At a resumed run's START,
/// TensorBoard's readers drop whatever an earlier process of the run wrote from that step on (a
/// run killed after its last checkpoint), so no step shows twice.
public final class TensorBoardLog {
    public let path: String
    private let file: EventFile
    private let metricKind: MetricKind
    /// The last step's `global_step`: where the epoch that follows is plotted.
    private var globalStep: Int
    private var lastFlush = ContinuousClock.now

    /// - Parameters:
    ///   - globalStep: steps done before this process starts (0 for a fresh run).
    ///   - resumedFrom: the checkpoint a resumed run starts from; nil for a fresh run, which
    ///     refuses a folder already holding event files, as one checkpoint folder holds one run.
    public init(directory: String, plan: TrainingPlan, metricKind: MetricKind, globalStep: Int, resumedFrom: String?) throws {
        if resumedFrom == nil, let existing = try EventFile.names(in: directory).min() {
            throw TrainingError("--tensorboard \(directory) already holds another run's events (\(existing)); give this run another folder, or continue that run with --resume")
        }
        file = try EventFile(in: directory)
        path = file.path
        self.metricKind = metricKind
        self.globalStep = globalStep

        var version = event(step: 0)
        version.fileVersion = "brain.Event:2"
        version.sourceMetadata.writer = "lstm-dist"
        file.write(version)
        // Every file opens with a START: the reader TensorBoard's UI uses takes the first it sees
        // for the run's start and purges only at a later one. A resumed run's is at the first
        // step it reports, globalStep + 1 (the checkpoint's step stays the earlier process's).
        let firstStep = resumedFrom == nil ? 0 : globalStep + 1
        var start = event(step: firstStep)
        start.sessionLog.status = .start
        start.sessionLog.checkpointPath = resumedFrom ?? ""
        file.write(start)
        var config = event(step: firstStep)
        config.summary.value = [Self.text(tag: "config", Self.describe(plan, resumedFrom: resumedFrom, globalStep: globalStep))]
        file.write(config)
        file.flush()
    }

    deinit { file.close() }

    public func record(_ event: TrainingEvent) {
        var values: [(String, Double)] = []
        switch event {
        case .step(let step):
            globalStep = step.globalStep
            values = metricKind.values(step.sums).map { ("train/" + $0, $1) }
            values += [("train/lr", step.learningRate), ("train/tokens_per_s", step.tokensPerSecond),
                       ("train/allreduce_share", step.allreduceShare), ("train/allreduce_ms", step.allreduceSeconds * 1000)]
        case .epoch(let epoch):
            values = metricKind.values(epoch.sums).map { ("epoch/" + $0, $1) }
            values += [("epoch/tokens_per_s", epoch.tokensPerSecond), ("epoch/seconds", epoch.seconds)]
            if let validation = epoch.validation { values += metricKind.values(validation).map { ("val/" + $0, $1) } }
        case .checkpoint:
            // What a checkpoint covers is on disk with it.
            flush()
            return
        }
        var record = self.event(step: globalStep)
        record.summary.value = values.map { tag, value in
            var scalar = Tensorflow_Summary.Value()
            scalar.tag = tag
            scalar.simpleValue = Float(value)
            return scalar
        }
        file.write(record)
        // Watched live: on disk within seconds, without a system call per step.
        if case .epoch = event { flush() } else if ContinuousClock.now - lastFlush > .seconds(2) { flush() }
    }

    /// Removes the file: a resumed run with nothing left to do writes nothing.
    public func discard() {
        unlink(path)
    }

    private func flush() {
        file.flush()
        lastFlush = .now
    }

    private func event(step: Int) -> Tensorflow_Event {
        var event = Tensorflow_Event()
        event.wallTime = Date().timeIntervalSince1970
        event.step = Int64(step)
        return event
    }

    /// A string scalar for TensorBoard's text plugin (markdown).
    private static func text(tag: String, _ markdown: String) -> Tensorflow_Summary.Value {
        var value = Tensorflow_Summary.Value()
        value.tag = tag
        value.metadata.pluginData.pluginName = "text"
        // The plugin's TextPluginData at version 0 serializes to no bytes.
        value.metadata.pluginData.content = Data()
        value.metadata.dataClass = .tensor
        value.tensor.dtype = .dtString
        value.tensor.tensorShape = Tensorflow_TensorShapeProto()
        value.tensor.stringVal = [Data(markdown.utf8)]
        return value
    }

    /// The plan as the checkpoint's `config` attribute holds it, in a code block.
    private static func describe(_ plan: TrainingPlan, resumedFrom: String?, globalStep: Int) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let json = (try? encoder.encode(plan)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        let origin = resumedFrom.map { "Resumed from `\($0)` at global step \(globalStep).\n\n" } ?? ""
        return origin + "```json\n" + json + "\n```"
    }
}
