/// Reads a dataset file (docs/datasets.md), whether `pack` or h5py wrote it. Read-only, so
/// every MPI rank can open the same file and read only its own rows.
public final class DatasetReader {
    public let path: String
    public let header: DatasetHeader
    private let inputs: H5Dataset
    private let lengths: H5Dataset
    /// nil for a dataset without targets (task "none").
    private let targets: H5Dataset?
    /// The root attribute `dataset_fingerprint` pack records (DatasetFingerprint); nil in files
    /// without it (h5py-made, or packed before pack recorded it).
    public let recordedFingerprint: String?

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
        // A file without targets says so (task "none"); one with /targets must have a task.
        let unlabelled = try file.attribute("task") == .string(Task.unlabelled.rawValue)
        if unlabelled, try file.exists(DatasetPaths.targets) {
            throw StorageError("\(path): dataset \(DatasetPaths.targets) in a file whose task is '\(Task.unlabelled.rawValue)' (no targets); drop one of them")
        }
        if !unlabelled, try !file.exists(DatasetPaths.targets) {
            throw StorageError("\(path): no dataset \(DatasetPaths.targets) (a file without targets sets the attribute task to '\(Task.unlabelled.rawValue)')")
        }
        targets = unlabelled ? nil : try file.dataset(DatasetPaths.targets)
        header = try Self.header(file: file, inputs: inputs, lengths: lengths, targets: targets)
        try header.validate(path)
        if try file.attribute(DatasetPaths.fingerprint) != nil {
            let recorded = try file.stringAttribute(DatasetPaths.fingerprint)
            guard DatasetFingerprint.isWellFormed(recorded) else {
                throw StorageError("\(path): attribute \(DatasetPaths.fingerprint): '\(recorded.prefix(80))' is not 64 lowercase hex characters (a SHA-256); delete the attribute to have the fingerprint computed")
            }
            recordedFingerprint = recorded
        } else {
            recordedFingerprint = nil
        }
    }

    /// Reads rows `range`: one hyperslab read per array. Every value is checked against the rules
    /// of docs/datasets.md before it is returned (see `check`), so a bad value never reaches a model.
    public func readRows(_ range: Range<Int>) throws -> RowBlock {
        guard range.lowerBound >= 0, range.upperBound <= header.rows else {
            throw StorageError("\(path): rows \(range) outside 0..<\(header.rows)")
        }
        let tokens = header.inputKind == .tokens
        let classes = header.task.isClassification
        let block = RowBlock(
            start: range.lowerBound, count: range.count,
            lengths: try lengths.read(rows: range),
            tokens: tokens ? try inputs.read(rows: range) : [],
            features: tokens ? [] : try inputs.read(rows: range),
            classTargets: classes ? try targets!.read(rows: range) : [],
            valueTargets: header.task == .regression ? try targets!.read(rows: range) : [])
        try check(block)
        return block
    }

    /// The targets of rows `range` only (no inputs or lengths), unchecked: for the fingerprint,
    /// which hashes what the file holds, padding included.
    func readTargets(_ range: Range<Int>) throws -> RowBlock {
        guard range.lowerBound >= 0, range.upperBound <= header.rows else {
            throw StorageError("\(path): rows \(range) outside 0..<\(header.rows)")
        }
        return RowBlock(start: range.lowerBound, count: range.count, lengths: [], tokens: [], features: [],
                        classTargets: header.task.isClassification ? try targets!.read(rows: range) : [],
                        valueTargets: header.task == .regression ? try targets!.read(rows: range) : [])
    }

    /// Every row's valid length, each checked to lie in `0...L`.
    public func readLengths() throws -> [Int32] {
        try MemoryBudget.check(Double(header.rows) * 4, "\(path): dataset /lengths")
        let values: [Int32] = try lengths.read()
        for (row, length) in values.enumerated() { try checkLength(length, row: row) }
        return values
    }

    /// The rules values obey: lengths in `0...L`; at valid timesteps (padding may hold anything),
    /// token ids in `0 ..< vocab_size`, finite features, class ids in `0 ..< num_classes`,
    /// finite target values. A row's target is checked when the row has a valid timestep.
    private func check(_ block: RowBlock) throws {
        let L = header.length, F = header.features, K = header.targetWidth
        let perStep = header.targetKind == .step
        for r in 0..<block.count {
            let row = block.start + r
            try checkLength(block.lengths[r], row: row)
            let length = Int(block.lengths[r])
            let valid = header.validSteps(length: length)
            switch header.inputKind {
            case .tokens:
                for t in valid where !(0..<Int32(header.vocabSize)).contains(block.tokens[r * L + t]) {
                    throw refusal(DatasetPaths.inputs, row, t, "token id \(block.tokens[r * L + t]) is outside 0..<\(header.vocabSize) (vocab_size)")
                }
            case .features:
                let values = block.features[(r * L + valid.lowerBound) * F ..< (r * L + valid.upperBound) * F]
                if let bad = values.firstIndex(where: { !$0.isFinite }) {
                    let t = bad / F - r * L
                    throw refusal(DatasetPaths.inputs, row, t, "feature \(bad % F) is \(values[bad]), not a finite number")
                }
            }
            guard !valid.isEmpty, header.task.hasTargets else { continue }
            let steps = perStep ? valid : valid.upperBound - 1 ..< valid.upperBound
            for t in steps {
                let at = perStep ? r * L + t : r
                if header.task.isClassification {
                    let id = block.classTargets[at]
                    guard !(0..<Int32(header.numClasses)).contains(id) else { continue }
                    let rule = header.task == .binary ? "not 0 or 1 (binary)" : "outside 0..<\(header.numClasses) (num_classes)"
                    throw refusal(DatasetPaths.targets, row, perStep ? t : nil, "class id \(id) is \(rule)")
                }
                for k in 0..<K where !block.valueTargets[at * K + k].isFinite {
                    throw refusal(DatasetPaths.targets, row, perStep ? t : nil, "value \(k) is \(block.valueTargets[at * K + k]), not a finite number")
                }
            }
        }
    }

    private func checkLength(_ length: Int32, row: Int) throws {
        guard length < 0 || Int(length) > header.length else { return }
        throw refusal(DatasetPaths.lengths, row, nil, "length \(length) is outside 0...\(header.length) (the padded row length)")
    }

    /// "data.h5: dataset /inputs, row 12, timestep 3: PROBLEM".
    private func refusal(_ dataset: String, _ row: Int, _ timestep: Int?, _ problem: String) -> StorageError {
        StorageError("\(path): dataset \(dataset), row \(row)\(timestep.map { ", timestep \($0)" } ?? ""): \(problem)")
    }

    private static func header(file: H5File, inputs: H5Dataset, lengths: H5Dataset, targets: H5Dataset?) throws -> DatasetHeader {
        let path = file.file
        for dataset in [inputs, lengths] + (targets.map { [$0] } ?? []) {
            let kind = try dataset.elementKind
            guard kind == .integer || kind == .float else {
                throw StorageError("\(path): dataset \(dataset.path) holds \(kind == .string ? "strings" : "values that are not numbers (booleans, enums or compounds)"); expected integers or floats")
            }
        }
        let inputShape = try inputs.shape
        let inputsAreIntegers = try inputs.elementKind == .integer
        let inputKind: InputKind = inputShape.count == 2 && inputsAreIntegers ? .tokens : .features
        guard inputShape.count == 3 || inputShape.count == 2 else {
            throw StorageError("\(path): /inputs has shape \(inputShape), expected [N, L, F] or [N, L]")
        }
        let (rows, length) = (inputShape[0], inputShape[1])
        // A row of each array is the least a reader holds at once (besides the model).
        let rowBytes = Double(inputShape.dropFirst().reduce(1, *)) * 4 + Double(try targets?.shape.dropFirst().reduce(1, *) ?? 0) * 4
        try MemoryBudget.check(rowBytes, "\(path): one row of /inputs and /targets")
        guard try lengths.shape == [rows] else {
            throw StorageError("\(path): /lengths has shape \(try lengths.shape), expected [\(rows)]")
        }
        let task: Task = try file.enumAttribute("task")
        // Without targets, target_kind is absent (or ignored: it describes nothing).
        let targetKind: TargetKind = task.hasTargets ? try file.enumAttribute("target_kind") : .row
        let numClasses = !task.isClassification ? 0 : Int(try file.intAttribute("num_classes", default: task == .binary ? 2 : nil))
        let stepShape = targetKind == .row ? [rows] : [rows, length]
        let targetShape = try targets?.shape ?? []
        let targetWidth: Int
        if targets == nil {
            targetWidth = 0
        } else if task.isClassification, targetShape == stepShape {
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
            if try file.exists(DatasetPaths.vocab) {
                let dataset = try file.dataset(DatasetPaths.vocab)
                guard try dataset.shape.count == 1, try dataset.shape[0] <= DatasetHeader.maxVocabSize else {
                    throw StorageError("\(path): dataset /vocab has shape \(try dataset.shape), expected [V] with V up to \(DatasetHeader.maxVocabSize)")
                }
                vocab = try dataset.read()
            }
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
        var header = DatasetHeader(
            rows: rows, length: length, inputKind: inputKind,
            features: inputKind == .tokens ? 0 : (inputShape.count == 3 ? inputShape[2] : 1),
            vocabSize: vocabSize, vocab: vocab, targetKind: targetKind, task: task,
            numClasses: numClasses, targetWidth: targetWidth,
            padding: try file.enumAttribute("padding"),
            stream: try file.enumAttribute("stream", default: .independent),
            source: try file.stringAttribute("source", default: ""),
            targetOrigin: targetOrigin,
            normalization: try Normalization.read(from: file))
        // Optional: files packed before it, or written by h5py, have none.
        if try file.attribute(DatasetPaths.packOptions) != nil { header.packOptions = try file.stringAttribute(DatasetPaths.packOptions) }
        return header
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
