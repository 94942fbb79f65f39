/// Reads a dataset file (docs/datasets.md), whether `pack` or h5py wrote it. Read-only, so
/// every MPI rank can open the same file and read only its own rows.
public final class DatasetReader {
    public let path: String
    public let header: DatasetHeader
    private let inputs: H5Dataset
    private let lengths: H5Dataset
    private let targets: H5Dataset

    /// Opens the file and checks its `format` and `version` attributes and that the shapes of
    /// its arrays agree with them.
    public init(path: String) throws {
        let file = try H5File(path: path, mode: .readOnly)
        switch try file.attribute("format") {
        case .string(DatasetHeader.format)?: break
        case .string(let other)?: throw StorageError("\(path): not a dataset (its format is '\(other)')")
        default: throw StorageError("\(path): not an lstm-dist dataset (no format attribute)")
        }
        let version = try file.intAttribute("version")
        guard version == DatasetHeader.version else {
            throw StorageError("\(path): dataset version \(version) is not supported (expected \(DatasetHeader.version))")
        }
        self.path = path
        inputs = try file.dataset(DatasetPaths.inputs)
        lengths = try file.dataset(DatasetPaths.lengths)
        targets = try file.dataset(DatasetPaths.targets)
        header = try Self.header(file: file, inputs: inputs, lengths: lengths, targets: targets)
        try header.validate(path)
    }

    /// Reads rows `range`: one hyperslab read per array.
    public func readRows(_ range: Range<Int>) throws -> RowBlock {
        guard range.lowerBound >= 0, range.upperBound <= header.rows else {
            throw StorageError("\(path): rows \(range) outside 0..<\(header.rows)")
        }
        let tokens = header.inputKind == .tokens
        let classes = header.task.isClassification
        return RowBlock(
            start: range.lowerBound, count: range.count,
            lengths: try lengths.read(rows: range),
            tokens: tokens ? try inputs.read(rows: range) : [],
            features: tokens ? [] : try inputs.read(rows: range),
            classTargets: classes ? try targets.read(rows: range) : [],
            valueTargets: classes ? [] : try targets.read(rows: range))
    }

    /// Every row's valid length.
    public func readLengths() throws -> [Int32] { try lengths.read() }

    private static func header(file: H5File, inputs: H5Dataset, lengths: H5Dataset, targets: H5Dataset) throws -> DatasetHeader {
        let path = file.file
        let inputShape = try inputs.shape
        let inputsAreIntegers = try inputs.elementKind == .integer
        let inputKind: InputKind = inputShape.count == 2 && inputsAreIntegers ? .tokens : .features
        guard inputShape.count == 3 || inputShape.count == 2 else {
            throw StorageError("\(path): /inputs has shape \(inputShape), expected [N, L, F] or [N, L]")
        }
        let (rows, length) = (inputShape[0], inputShape[1])
        guard try lengths.shape == [rows] else {
            throw StorageError("\(path): /lengths has shape \(try lengths.shape), expected [\(rows)]")
        }
        let task: Task = try file.enumAttribute("task")
        let targetKind: TargetKind = try file.enumAttribute("target_kind")
        let numClasses = task == .regression ? 0 : Int(try file.intAttribute("num_classes", default: task == .binary ? 2 : nil))
        let stepShape = targetKind == .row ? [rows] : [rows, length]
        let targetShape = try targets.shape
        let targetWidth: Int
        if task.isClassification, targetShape == stepShape {
            targetWidth = task == .binary ? 1 : numClasses
        } else if task == .regression, targetShape == stepShape || Array(targetShape.dropLast()) == stepShape {
            targetWidth = targetShape == stepShape ? 1 : targetShape.last!
        } else {
            let expected = task.isClassification ? "\(stepShape)" : "\(stepShape) or \(stepShape + ["K"])"
            throw StorageError("\(path): /targets has shape \(targetShape), expected \(expected) for \(task.rawValue) targets per \(targetKind.rawValue)")
        }
        var vocabSize = 0
        var vocab: [Int32] = []
        if inputKind == .tokens {
            if try file.exists(DatasetPaths.vocab) { vocab = try file.dataset(DatasetPaths.vocab).read() }
            vocabSize = Int(try file.intAttribute("vocab_size", default: vocab.isEmpty ? nil : Int64(vocab.count)))
        }
        // Both or neither: the horizon alone does not say which input a target continues.
        var targetOrigin: TargetOrigin?
        switch (try file.attribute(DatasetPaths.horizon) != nil, try file.exists(DatasetPaths.targetFeatures)) {
        case (true, true):
            targetOrigin = TargetOrigin(horizon: Int(try file.intAttribute(DatasetPaths.horizon)),
                                        features: try file.dataset(DatasetPaths.targetFeatures).read())
        case (false, false): break
        case (true, false): throw StorageError("\(path): attribute horizon without the dataset \(DatasetPaths.targetFeatures)")
        case (false, true): throw StorageError("\(path): dataset \(DatasetPaths.targetFeatures) without the attribute horizon")
        }
        return DatasetHeader(
            rows: rows, length: length, inputKind: inputKind,
            features: inputKind == .tokens ? 0 : (inputShape.count == 3 ? inputShape[2] : 1),
            vocabSize: vocabSize, vocab: vocab, targetKind: targetKind, task: task,
            numClasses: numClasses, targetWidth: targetWidth,
            padding: try file.enumAttribute("padding"),
            stream: try file.enumAttribute("stream", default: .independent),
            source: try file.stringAttribute("source", default: ""),
            targetOrigin: targetOrigin,
            normalization: try Normalization.read(from: file))
    }
}

extension H5Object {
    /// An integer attribute; `default` when absent, an error naming it when absent without one.
    public func intAttribute(_ name: String, default fallback: Int64? = nil) throws -> Int64 {
        try typedAttribute(name, fallback, "an integer") { if case .int(let value) = $0 { value } else { nil } }
    }

    /// A string attribute; `default` when absent, an error naming it when absent without one.
    public func stringAttribute(_ name: String, default fallback: String? = nil) throws -> String {
        try typedAttribute(name, fallback, "a string") { if case .string(let value) = $0 { value } else { nil } }
    }

    private func typedAttribute<Value>(_ name: String, _ fallback: Value?, _ kind: String, _ extract: (AttributeValue) -> Value?) throws -> Value {
        guard let value = try attribute(name) else {
            if let fallback { return fallback }
            throw StorageError("\(context): attribute \(name): missing")
        }
        guard let typed = extract(value) else { throw StorageError("\(context): attribute \(name): \(value) is not \(kind)") }
        return typed
    }

    /// A string attribute that must be one of an enumeration's raw values.
    public func enumAttribute<Value: RawRepresentable<String> & CaseIterable>(_ name: String, default fallback: Value? = nil) throws -> Value {
        let text = try stringAttribute(name, default: fallback?.rawValue)
        guard let value = Value(rawValue: text) else {
            let allowed = Value.allCases.map(\.rawValue).joined(separator: ", ")
            throw StorageError("\(context): attribute \(name): '\(text)' is not one of \(allowed)")
        }
        return value
    }
}
