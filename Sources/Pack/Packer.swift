import Storage

/// `lstm-dist pack`: raw sequences in, a dataset file (docs/datasets.md) out.
public enum Packer {
    /// Packs `input` into `options.output`, calling `report` with each line the user should see
    /// (what was inferred, what was written). Returns the written header. On any error nothing
    /// is left behind: neither a temporary file nor a changed output.
    ///
    /// What was inferred is reported once the second pass has written every row, so a malformed
    /// value (found by that pass) is the only line of a failed pack. Checking every value in the
    /// first pass instead would parse each number twice; holding a few lines back costs nothing.
    @discardableResult
    public static func pack(_ input: String, options given: PackOptions, report: (String) -> Void) throws -> DatasetHeader {
        try given.validate()
        try AtomicOutput.checkDestination(given.output, force: given.force)
        let like = try given.like.map { try DatasetReader(path: $0).header }
        // The --like file's record supplies every option not given (files without one: the flags).
        var options = given
        if let path = given.like, let text = like?.packOptions {
            options = try given.adopting(PackRecord(json: text, file: path), from: path, input: input)
            try options.validate()
        }
        let format = try options.resolvedFormat(of: input)
        let source: SequenceSource
        switch format {
        case .csv: source = try CSVSource(path: input, options: options, like: like)
        case .jsonl: source = try JSONLinesSource(path: input, options: options, like: like)
        case .text: source = try TextSource(path: input, options: options, like: like)
        }
        let survey = try source.survey()
        var header = try makeHeader(input: input, survey: survey, options: options, like: like)
        header.packOptions = options.record(format: format, survey: survey, header: header).json
        try header.validate(options.output)
        // Up to about 16 rows are in flight at once (blocks assembled, queued and written).
        let rowBytes = Double(header.length) * (Double(max(header.features, 1)) + Double(header.targetWidth)) * 4
        try MemoryBudget.check(16 * rowBytes, "rows of \(header.length) timesteps (--maxlen)")
        let taskSource = !header.task.hasTargets ? "no /targets: for predict and forecast, not train or evaluate"
            : options.like.map { "from \($0)" } ?? (survey.fixedClasses != nil ? "one class per character" : "override with --task, --num-classes")
        try AtomicOutput.write(to: options.output, force: options.force) { temporary in
            // Each row's length as RowAssembler will set it, so the writer records the fingerprint as it writes.
            let lengths = survey.rawLengths.lazy.map { Int32(min($0, header.length)) }
            let writer = try DatasetWriter(path: temporary, header: header, compression: options.compression, lengths: lengths)
            let background = try BackgroundWriter(writer)
            defer { background.stop() }
            let rows = RowAssembler(header: header, rawLengths: survey.rawLengths,
                                    truncating: options.truncating ?? .pre, padValue: options.value,
                                    writer: background, rowsPerBlock: writer.rowsPerChunk * 4)
            try source.write(header, into: rows)
            try rows.finish()
            try background.finish()
        }
        survey.notes.forEach(report)
        report(describeTargets(header, why: taskSource))
        if let statistics = header.normalization { report(describeNormalization(statistics, from: options.like)) }
        let truncated = survey.rawLengths.filter { $0 > header.length }.count
        report("wrote \(options.output): \(header.rows) rows of \(header.length) timesteps"
            + (truncated > 0 ? ", \(truncated) truncated (\(options.truncating ?? .pre))" : "")
            + ", padding \(header.padding), stream \(header.stream)")
        return header
    }

    private static func makeHeader(input: String, survey: Survey, options: PackOptions, like: DatasetHeader?) throws -> DatasetHeader {
        guard let longest = survey.rawLengths.max() else { throw PackError("\(input): no sequences") }
        if let like {
            guard survey.inputKind == like.inputKind, survey.features == like.features else {
                throw PackError("\(input): inputs are \(describeInputs(survey.inputKind, survey.features)), but \(options.like!) has \(describeInputs(like.inputKind, like.features))")
            }
            guard !survey.hasTargets || !like.task.hasTargets || survey.targetKind == like.targetKind else {
                throw PackError("\(input): targets are per \(survey.targetKind), but \(options.like!) has them per \(like.targetKind)")
            }
        }
        let (task, numClasses) = survey.hasTargets ? try decideTask(input: input, survey: survey, options: options, like: like) : (.unlabelled, 0)
        if !survey.hasTargets, let flag = [options.task != nil ? "--task" : nil, options.numClasses != nil ? "--num-classes" : nil].compactMap({ $0 }).first {
            throw PackError("\(flag): \(input) has no targets (no y, --label or --target)")
        }
        var targetOrigin = task == .regression && survey.targetKind == .step && !survey.targetFeatures.isEmpty
            ? TargetOrigin(horizon: options.horizon, features: survey.targetFeatures.map(Int32.init)) : nil
        if let like, let theirs = like.targetOrigin, survey.hasTargets {
            if let targetOrigin, targetOrigin != theirs {
                throw PackError("\(input): the targets are \(describe(targetOrigin)), but in \(options.like!) they are \(describe(theirs)); pack with the same --target, --features and --horizon")
            }
            targetOrigin = theirs
        }
        var header = DatasetHeader(
            rows: survey.rawLengths.count, length: options.maxlen ?? longest,
            inputKind: survey.inputKind, features: survey.features,
            vocabSize: survey.inputKind == .tokens ? (like?.vocabSize ?? survey.vocabSize) : 0,
            vocab: like?.vocab ?? survey.vocab,
            targetKind: task.hasTargets ? survey.targetKind : .row, task: task, numClasses: numClasses,
            targetWidth: task == .multiclass ? numClasses : task == .binary ? 1 : task == .regression ? survey.targetWidth : 0,
            padding: options.padding ?? like?.padding ?? .pre, stream: survey.stream,
            source: input.split(separator: "/").last.map(String.init) ?? input,
            targetOrigin: targetOrigin)
        header.normalization = try normalization(for: header, input: input, survey: survey, options: options, like: like)
        return header
    }

    /// "features 3, none at 1 timestep later": per target column, the input it continues.
    static func describe(_ origin: TargetOrigin) -> String {
        let features = origin.features.map { $0 < 0 ? "none" : "\($0)" }.joined(separator: ", ")
        return "features \(features) at \(origin.horizon) timestep\(origin.horizon == 1 ? "" : "s") later"
    }

    /// `--normalize`'s statistics from the first pass, or the `--like` file's; nil without either.
    private static func normalization(for header: DatasetHeader, input: String, survey: Survey, options: PackOptions,
                                      like: DatasetHeader?) throws -> Normalization? {
        if let like {
            if options.normalize && like.normalization == nil {
                throw PackError("--normalize: \(options.like!) was not packed with --normalize, so its splits are not normalised either")
            }
            // A split without targets keeps the inputs' statistics only (none for tokens).
            guard !header.task.hasTargets, let statistics = like.normalization else { return like.normalization }
            return statistics.inputsMean.isEmpty ? nil
                : Normalization(inputsMean: statistics.inputsMean, inputsStd: statistics.inputsStd, targetsMean: [], targetsStd: [])
        }
        guard options.normalize, let statistics = survey.statistics else { return nil }
        guard header.inputKind == .features || header.task == .regression else {
            throw PackError("--normalize: \(input) has token inputs and \(header.task.hasTargets ? "class targets" : "no targets"), which are not normalised")
        }
        return statistics.normalization(for: header, targetFeatures: survey.targetFeatures)
    }

    /// Inference (docs/datasets.md): integer targets in {0, 1} are binary, other non-negative integers
    /// multiclass with max + 1 classes, anything else (or a vector) regression; `--like`,
    /// `--task` and `--num-classes` override it.
    private static func decideTask(input: String, survey: Survey, options: PackOptions, like: DatasetHeader?) throws -> (Task, Int) {
        let values = survey.targets
        if let like {
            guard like.task.hasTargets else {
                throw PackError("\(input): has targets, but \(options.like!) has none (task none) to take the task from; pack it without --like")
            }
            if !like.task.isClassification, survey.targetWidth != like.targetWidth {
                throw PackError("\(input): \(survey.targetWidth) target values, but \(options.like!) has \(like.targetWidth)")
            }
            return (like.task, like.numClasses)
        }
        if let classes = survey.fixedClasses {
            if options.task != nil || options.numClasses != nil {
                throw PackError("\(input): the targets of text are its next characters; --task and --num-classes do not apply")
            }
            return (.multiclass, classes)
        }
        let integers = values.allIntegers && values.minimum >= 0 && values.maximum < Double(Int32.max) && survey.targetWidth == 1
        let inferredClasses = integers ? Int(values.maximum) + 1 : 0
        let inferred: Task = !integers ? .regression : inferredClasses <= 2 ? .binary : .multiclass
        let impliedByClassCount: Task? = options.numClasses.map { $0 == 2 ? .binary : .multiclass }
        let task = options.task ?? impliedByClassCount ?? inferred
        switch task {
        case .regression: return (task, 0)
        case .binary: return (task, 2)
        case .multiclass:
            guard survey.targetWidth == 1 else {
                throw PackError("\(input): targets are vectors of \(survey.targetWidth) values; classification needs one class id per target")
            }
            return (task, options.numClasses ?? max(inferredClasses, 2))
        case .unlabelled: throw PackError("--task none: \(input) has targets; pack it without them by leaving out y, --label and --target")
        }
    }

    private static func describeTargets(_ header: DatasetHeader, why: String) -> String {
        let what: String
        switch header.task {
        case .binary: what = "binary (labels 0/1)"
        case .multiclass: what = "multiclass, \(header.numClasses) classes"
        case .regression: what = "regression, \(header.targetWidth) value\(header.targetWidth == 1 ? "" : "s") per target"
        case .unlabelled: what = "none, the input has no targets"
        }
        return "task: \(what) (\(why))"
    }

    private static func describeNormalization(_ statistics: Normalization, from like: String?) -> String {
        let what = [statistics.inputsMean.isEmpty ? nil : "\(statistics.inputsMean.count) feature\(statistics.inputsMean.count == 1 ? "" : "s")",
                    statistics.targetsMean.isEmpty ? nil : "\(statistics.targetsMean.count) target value\(statistics.targetsMean.count == 1 ? "" : "s")"]
        return "normalised: \(what.compactMap { $0 }.joined(separator: " and ")) as z-scores, statistics in /normalization"
            + (like.map { " (from \($0))" } ?? " (over the valid timesteps)")
    }

    static func describeInputs(_ kind: InputKind, _ features: Int) -> String {
        kind == .tokens ? "tokens" : "\(features) feature\(features == 1 ? "" : "s") per timestep"
    }
}
