#if canImport(Glibc)
import Glibc
#endif

/// `--log FILE`: one JSON object per step and one per epoch (docs/commands.md), appended, so a
/// resumed run continues the same file. Written by rank 0 only.
public final class MetricsLog {
    private let file: UnsafeMutablePointer<FILE>
    private let metricKind: MetricKind

    public init(path: String, metricKind: MetricKind) throws {
        guard let file = fopen(path, "a+") else {
            throw TrainingError("cannot open --log \(path): \(String(cString: strerror(errno)))")
        }
        self.file = file
        self.metricKind = metricKind
        Self.dropTornLine(file)
    }

    /// A run killed mid-write leaves half a line at the end (the buffer goes out in blocks): cut
    /// it, so the resumed run's first line is not glued to it. Its step was past the last
    /// checkpoint, so the resumed run writes it again.
    private static func dropTornLine(_ file: UnsafeMutablePointer<FILE>) {
        guard fseeko(file, 0, SEEK_END) == 0 else { return }
        let size = ftello(file)
        // The end of the last whole line: after the last newline, or 0.
        var keep = size
        var chunk = [UInt8](repeating: 0, count: 4096)
        while keep > 0 {
            let start = max(0, keep - off_t(chunk.count))
            guard fseeko(file, start, SEEK_SET) == 0, fread(&chunk, 1, Int(keep - start), file) == Int(keep - start) else { return }
            if let newline = chunk[..<Int(keep - start)].lastIndex(of: UInt8(ascii: "\n")) {
                keep = start + off_t(newline) + 1
                break
            }
            keep = start
        }
        if keep < size { _ = ftruncate(fileno(file), keep) }
        fseeko(file, 0, SEEK_END)
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
            fields.append(("allreduce_ms", jsonNumber(step.allreduceSeconds * 1000)))
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
