/// The dataset file of docs/datasets.md: `/inputs`, `/lengths`, `/targets`, `/vocab` and the
/// root attributes that say how to read them.

public enum InputKind: String, Sendable, CaseIterable, Codable { case tokens, features }
public enum TargetKind: String, Sendable, CaseIterable, Codable { case row, step }
/// `unlabelled` ("none" in the file): a dataset without `/targets`, for predict and forecast only.
public enum Task: String, Sendable, CaseIterable, Codable { case binary, multiclass, regression, unlabelled = "none" }
public enum Padding: String, Sendable, CaseIterable { case pre, post }
public enum StreamKind: String, Sendable, CaseIterable { case independent, contiguous }

extension Task {
    /// Whether targets are class ids (int32) rather than values (float32).
    public var isClassification: Bool { self == .binary || self == .multiclass }
    /// Whether the dataset has `/targets` (every task but `unlabelled`).
    public var hasTargets: Bool { self != .unlabelled }
}

/// How per-timestep regression targets relate to the inputs, recorded by `pack --target` so that
/// `forecast` can feed a prediction back as the next input (docs/datasets.md): the root attribute
/// `horizon` and the dataset `/target_features`.
public struct TargetOrigin: Sendable, Equatable, Codable {
    /// Timesteps between an input and its target: 0 when the targets are not shifted.
    public var horizon: Int
    /// For each target column k, the input feature it is a later value of, or -1 when it is not one.
    public var features: [Int32]

    public init(horizon: Int, features: [Int32]) {
        self.horizon = horizon
        self.features = features
    }
}

/// Everything in a dataset file but the big arrays.
public struct DatasetHeader: Sendable, Equatable {
    public var rows: Int              // N
    public var length: Int            // L
    public var inputKind: InputKind
    public var features: Int          // F (1.. for features; 0 for tokens)
    public var vocabSize: Int         // tokens only, else 0
    public var vocab: [Int32]         // Unicode scalars, text only, else []
    /// Without targets (task `unlabelled`), `.row` and meaningless: the file has no `target_kind`.
    public var targetKind: TargetKind
    public var task: Task
    public var numClasses: Int        // classification, else 0
    public var targetWidth: Int       // K: 1 for binary, numClasses for multiclass, K for regression, 0 without targets
    public var padding: Padding
    public var stream: StreamKind
    public var source: String
    /// Regression per timestep from `pack --target` only; nil when the file does not say (h5py).
    public var targetOrigin: TargetOrigin?
    /// `/normalization` when the dataset was packed with `--normalize` (or `--like` a file that was).
    public var normalization: Normalization?
    /// The root attribute `pack_options`: how `pack` was told to pack the file (JSON, read by
    /// `pack --like` and shown by `inspect`); nil in files without it (older, h5py-made). Not part
    /// of the dataset's fingerprint.
    public var packOptions: String?

    public init(rows: Int, length: Int, inputKind: InputKind, features: Int, vocabSize: Int, vocab: [Int32],
                targetKind: TargetKind, task: Task, numClasses: Int, targetWidth: Int,
                padding: Padding, stream: StreamKind, source: String, targetOrigin: TargetOrigin? = nil,
                normalization: Normalization? = nil) {
        self.rows = rows; self.length = length; self.inputKind = inputKind; self.features = features
        self.vocabSize = vocabSize; self.vocab = vocab; self.targetKind = targetKind; self.task = task
        self.numClasses = numClasses; self.targetWidth = targetWidth; self.padding = padding
        self.stream = stream; self.source = source; self.targetOrigin = targetOrigin; self.normalization = normalization
    }

    /// The positions (0..<L) of a row's `length` valid timesteps: the last ones when padding is
    /// `pre`, the first ones when it is `post`.
    public func validSteps(length: Int) -> Range<Int> {
        padding == .pre ? (self.length - length)..<self.length : 0..<length
    }

    /// The root `format` attribute of a dataset file.
    public static let format = "lstm-dist dataset"
    public static let version: Int64 = 1
    /// Bounds on the attributes (docs/datasets.md): 2^20 classes, 2^21 tokens (every Unicode scalar).
    public static let maxClasses = 1 << 20, maxVocabSize = 1 << 21

    /// Input values per row: L for tokens, L * F for features.
    public var inputsPerRow: Int { inputKind == .tokens ? length : length * features }
    /// Target values per row: 1 or L class ids, or K or L * K values.
    public var targetsPerRow: Int {
        guard task.hasTargets else { return 0 }
        let steps = targetKind == .row ? 1 : length
        return task.isClassification ? steps : steps * targetWidth
    }

    /// Throws when the fields contradict each other (a writer's programming error or a bad file).
    public func validate(_ context: String) throws {
        func require(_ condition: Bool, _ problem: String) throws {
            if !condition { throw StorageError("\(context): \(problem)") }
        }
        try require(rows > 0, "no rows")
        try require(length > 0, "rows of length 0")
        try require(inputKind == .features || (1...Self.maxVocabSize).contains(vocabSize),
                    "attribute vocab_size: \(vocabSize) is outside 1...\(Self.maxVocabSize)")
        try require(!task.isClassification || (2...Self.maxClasses).contains(numClasses),
                    "attribute num_classes: \(numClasses) is outside 2...\(Self.maxClasses)")
        switch inputKind {
        case .tokens: try require(features == 0 && vocabSize > 0, "token inputs need a vocabulary size above 0")
        case .features: try require(features > 0 && vocabSize == 0 && vocab.isEmpty, "feature inputs need 1 or more features")
        }
        try require(vocab.isEmpty || vocab.count == vocabSize, "vocabulary of \(vocab.count) characters but vocab_size \(vocabSize)")
        switch task {
        case .binary: try require(numClasses == 2 && targetWidth == 1, "binary task needs num_classes 2")
        case .multiclass: try require(numClasses >= 2 && targetWidth == numClasses, "multiclass task needs num_classes of 2 or more")
        case .regression: try require(numClasses == 0 && targetWidth >= 1, "regression needs 1 or more target values")
        case .unlabelled: try require(numClasses == 0 && targetWidth == 0 && targetKind == .row, "a dataset without targets has no classes or target values")
        }
        if let origin = targetOrigin {
            try require(task == .regression && targetKind == .step, "horizon and target_features only apply to regression targets per timestep")
            try require(origin.horizon >= 0, "attribute horizon: \(origin.horizon) is negative")
            try require(origin.features.count == targetWidth, "/target_features has \(origin.features.count) entries for \(targetWidth) target values")
            if let bad = origin.features.firstIndex(where: { !(-1 ..< Int32(features)).contains($0) }) {
                try require(false, "/target_features[\(bad)] = \(origin.features[bad]) is not -1 or a feature from 0 to \(features - 1)")
            }
        }
        try normalization?.validate(for: self, context)
    }
}

/// Rows `[start, start + count)` of a dataset, row-major as on disk.
public struct RowBlock: Sendable {
    public var start: Int, count: Int
    public var lengths: [Int32]                 // [count]
    public var tokens: [Int32]                  // [count*L] when tokens, else []
    public var features: [Float]                // [count*L*F] when features, else []
    public var classTargets: [Int32]            // classification: [count] (row) or [count*L] (step)
    public var valueTargets: [Float]            // regression: [count*K] (row) or [count*L*K] (step)

    public init(start: Int, count: Int, lengths: [Int32], tokens: [Int32], features: [Float],
                classTargets: [Int32], valueTargets: [Float]) {
        self.start = start; self.count = count; self.lengths = lengths; self.tokens = tokens
        self.features = features; self.classTargets = classTargets; self.valueTargets = valueTargets
    }

    /// A block of `count` rows filled with `padValue` inputs and zero targets and lengths.
    public init(header: DatasetHeader, start: Int, count: Int, padValue: Float = 0) {
        let tokens = header.inputKind == .tokens
        let classes = header.task.isClassification, values = header.task == .regression
        self.init(start: start, count: count, lengths: [Int32](repeating: 0, count: count),
                  tokens: tokens ? [Int32](repeating: Int32(padValue), count: count * header.inputsPerRow) : [],
                  features: tokens ? [] : [Float](repeating: padValue, count: count * header.inputsPerRow),
                  classTargets: classes ? [Int32](repeating: 0, count: count * header.targetsPerRow) : [],
                  valueTargets: values ? [Float](repeating: 0, count: count * header.targetsPerRow) : [])
    }
}

/// Dataset and attribute names inside the file.
enum DatasetPaths {
    static let inputs = "/inputs", lengths = "/lengths", targets = "/targets", vocab = "/vocab"
    static let targetFeatures = "/target_features", horizon = "horizon", packOptions = "pack_options"
    static let fingerprint = "dataset_fingerprint"
}
