import Storage

/// Everything `lstm-dist pack` can be told (docs/datasets.md). Optional fields are inferred
/// from the input, or taken from the `like` file, when nil.
public struct PackOptions: Sendable {
    public enum Format: String, Sendable, CaseIterable { case csv, jsonl, text }

    public var output: String
    public var format: Format?
    public var force = false
    /// nil when `--compression` was not given (level 1); kept apart so `--like` can tell a flag
    /// from a default.
    public var compressionFlag: Int?
    public var compression: Int { get { compressionFlag ?? 1 } set { compressionFlag = newValue } }

    // CSV columns.
    public var id: String?
    public var features: [String]?
    public var label: String?
    public var target: [String]?
    public var horizonFlag: Int?
    public var horizon: Int { get { horizonFlag ?? 0 } set { horizonFlag = newValue } }
    /// Timesteps per row when a long stream is cut (CSV without `--id`, text).
    public var length: Int?

    // Overrides of what is inferred.
    public var task: Task?
    public var numClasses: Int?
    public var inputs: InputKind?
    public var targetKind: TargetKind?
    /// Pack the inputs only (no `/targets`), even when the input, or the `--like` file's record,
    /// has targets: new data for `predict` and `forecast`.
    public var noTargets = false

    // Shaping, as Keras' pad_sequences.
    public var maxlen: Int?
    public var padding: Padding?
    public var truncating: Padding?
    public var valueFlag: Float?
    public var value: Float { get { valueFlag ?? 0 } set { valueFlag = newValue } }
    /// Write feature inputs and regression targets as z-scores (statistics in `/normalization`).
    public var normalize = false

    /// A training dataset whose vocabulary, task, classes and feature count to reuse, and whose
    /// `pack_options` (when it has them) supply every option not given.
    public var like: String?
    /// The options taken from the `--like` file's `pack_options` rather than given ("label",
    /// "target", ...): CSV drops an adopted label or target its input has no column for.
    var adopted: Set<String> = []

    public init(output: String) { self.output = output }

    static let defaultLength = 100

    /// Rejects values no input could make right, before any reading.
    func validate() throws {
        if noTargets, label != nil || target != nil || horizonFlag != nil {
            throw PackError("--no-targets packs the inputs only: drop --label, --target and --horizon")
        }
        if let maxlen, maxlen <= 0 { throw PackError("--maxlen must be 1 or more, not \(maxlen)") }
        if let length, length <= 0 { throw PackError("--length must be 1 or more, not \(length)") }
        if let numClasses, numClasses < 2 { throw PackError("--num-classes must be 2 or more, not \(numClasses)") }
        guard (0...9).contains(compression) else { throw PackError("--compression must be 0 to 9, not \(compression)") }
        guard value.isFinite else { throw PackError("--value must be a finite number, not \(value)") }
        guard horizon >= 0 else { throw PackError("--horizon must be 0 or more, not \(horizon)") }
        if task == .binary, let numClasses, numClasses != 2 {
            throw PackError("--task binary has 2 classes, not --num-classes \(numClasses)")
        }
    }

    /// Throws when one of `flags` was given: they do not apply to the input's format.
    func reject(_ flags: Set<String>, because reason: String) throws {
        let given = [("--id", id != nil), ("--label", label != nil), ("--target", target != nil), ("--features", features != nil),
                     ("--horizon", horizon > 0), ("--length", length != nil), ("--maxlen", maxlen != nil), ("--no-targets", noTargets)]
        if let (flag, _) = given.first(where: { flags.contains($0.0) && $0.1 }) { throw PackError("\(flag) \(reason)") }
    }

    /// The format named by `--format`, or by the input's extension.
    /// A collector of `--normalize`'s statistics for a first pass, or nil when they are not
    /// computed (not asked for, or taken from the `--like` file).
    func statisticsSurvey() -> StatisticsSurvey? {
        normalize && like == nil ? StatisticsSurvey(maxlen: maxlen, truncating: truncating ?? .pre) : nil
    }

    func resolvedFormat(of input: String) throws -> Format {
        if let format { return format }
        let name = input.split(separator: "/").last.map(String.init) ?? input
        switch name.split(separator: ".").last?.lowercased() {
        case "csv": return .csv
        case "jsonl", "ndjson": return .jsonl
        case "txt", "text": return .text
        default: throw PackError("\(input): cannot tell the format from the file name; pass --format csv, jsonl or text")
        }
    }
}
