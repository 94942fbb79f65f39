#if canImport(Glibc)
import Glibc
#endif

/// `--log FILE`: one JSON object per step and one per epoch (docs/commands.md), appended, so a
/// resumed run continues the same file. Written by rank 0 only.
public final class MetricsLog {
    private let file: UnsafeMutablePointer<FILE>
    private let metricKind: MetricKind

    public init(path: String, metricKind: MetricKind) throws {
        guard let file = fopen(path, "a") else {
            throw TrainingError("cannot open --log \(path): \(String(cString: strerror(errno)))")
        }
        self.file = file
        self.metricKind = metricKind
    }

    deinit { fclose(file) }

    public func record(_ event: TrainingEvent) {
        var fields: [(String, String)]
        switch event {
        case .step(let step):
            fields = [("epoch", "\(step.epoch)"), ("step", "\(step.step)"), ("global_step", "\(step.globalStep)")]
            fields += metricKind.values(step.sums).map { ($0, jsonNumber($1)) }
            fields.append(("lr", jsonNumber(step.learningRate)))
            fields.append(("tokens_per_s", jsonNumber(step.tokensPerSecond)))
            fields.append(("allreduce_share", jsonNumber(step.allreduceShare)))
        case .epoch(let epoch):
            fields = [("event", "\"epoch\""), ("epoch", "\(epoch.epoch)")]
            fields += metricKind.values(epoch.sums).map { ($0, jsonNumber($1)) }
            if let validation = epoch.validation {
                fields += metricKind.values(validation).map { ("val_" + $0, jsonNumber($1)) }
            }
            fields.append(("tokens_per_s", jsonNumber(epoch.tokensPerSecond)))
            fields.append(("seconds", jsonNumber(epoch.seconds)))
        case .checkpoint:
            return
        }
        fputs("{" + fields.map { "\"\($0)\": \($1)" }.joined(separator: ", ") + "}\n", file)
        if case .epoch = event { fflush(file) }
    }
}

/// A JSON number, or null for NaN and infinities, which JSON cannot hold.
public func jsonNumber(_ value: Double) -> String { value.isFinite ? "\(value)" : "null" }
