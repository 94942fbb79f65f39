import ArgumentParser
import Pack
import Storage

struct PackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Pack CSV, JSON Lines or text into a padded HDF5 dataset.",
        discussion: "What is inferred (inputs, task, classes, per-row or per-timestep targets) is printed; the override options change it."
    )

    @Argument(help: "The input file.") var input: String
    @Option(help: "csv, jsonl or text (default: from the file's extension).") var format: PackOptions.Format?
    @Option(help: "The dataset file to write.") var out: String
    @Flag(help: "Replace an existing output file.") var force = false
    @Option(parsing: .unconditional, help: "Deflate level, 0 to 9 (default: 1).") var compression: Int?

    @Option(help: "CSV: the column whose consecutive equal values group lines into one sequence.") var id: String?
    @Option(help: "CSV: the input columns, comma-separated (default: every other numeric column).") var features: String?
    @Option(help: "CSV: the column with one label per sequence (needs --id).") var label: String?
    @Option(help: "CSV: the columns with one target per timestep, comma-separated.") var target: String?
    @Option(parsing: .unconditional, help: "CSV: the target is the --target columns' value this many timesteps later (default: 0).") var horizon: Int?
    @Option(parsing: .unconditional, help: "CSV without --id, text: timesteps per row (default 100).") var length: Int?

    @Option(help: "binary, multiclass or regression (default: inferred from the targets).") var task: Task?
    @Option(parsing: .unconditional, help: "Classes of a classification task (default: largest class + 1).") var numClasses: Int?
    @Option(help: "JSON Lines: tokens or features (default: tokens when x holds only integers).") var inputs: InputKind?
    @Option(help: "JSON Lines: row or step (default: step when y is as long as x on every line).") var targetKind: TargetKind?

    @Option(parsing: .unconditional, help: "Timesteps per row: longer sequences are truncated (default: the longest).") var maxlen: Int?
    @Option(help: "pre or post: where padding goes (default: pre).") var padding: Padding?
    @Option(help: "pre or post: which end of a long sequence is cut (default: pre).") var truncating: Padding?
    @Option(parsing: .unconditional, help: "The value of padded inputs (default: 0).") var value: Float?
    @Option(help: "A training dataset to pack like: its vocabulary, task, classes, features and normalisation, and every option it records in pack_options that is not given.") var like: String?
    @Flag(help: "Write feature inputs and regression targets as z-scores; the statistics go to /normalization.") var normalize = false
    @Flag(help: "Pack the inputs only, no targets, even when the input or the --like file has them (new data for predict and forecast).") var noTargets = false

    func run() throws {
        var options = PackOptions(output: out)
        options.format = format
        options.force = force
        options.compressionFlag = compression
        options.id = id
        options.features = features.map(Self.list)
        options.label = label
        options.target = target.map(Self.list)
        options.horizonFlag = horizon
        options.length = length
        options.task = task
        options.numClasses = numClasses
        options.inputs = inputs
        options.targetKind = targetKind
        options.maxlen = maxlen
        options.padding = padding
        options.truncating = truncating
        options.valueFlag = value
        options.like = like
        options.normalize = normalize
        options.noTargets = noTargets
        try Packer.pack(input, options: options) { print($0) }
    }

    private static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { String($0) }
    }
}

extension PackOptions.Format: ExpressibleByArgument {}
/// `--task` names a task with targets: "none" is what pack writes when the input has none.
extension Task: ExpressibleByArgument {
    public init?(argument: String) {
        guard let task = Task(rawValue: argument), task.hasTargets else { return nil }
        self = task
    }

    public static var allValueStrings: [String] { allCases.filter(\.hasTargets).map(\.rawValue) }
}
extension InputKind: ExpressibleByArgument {}
extension TargetKind: ExpressibleByArgument {}
extension Padding: ExpressibleByArgument {}
