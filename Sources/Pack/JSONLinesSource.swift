import Storage

/// JSON Lines, one sequence per line: `{"x": ..., "y": ...}` (docs/datasets.md).
struct JSONLinesSource: SequenceSource {
    private let reader: ByteReader
    private let options: PackOptions
    private let like: DatasetHeader?

    init(path: String, options: PackOptions, like: DatasetHeader?) throws {
        reader = try ByteReader(path: path)
        self.options = options
        self.like = like
        try options.reject(["--id", "--label", "--target", "--features", "--length", "--horizon"], because: "applies to CSV or text, not JSON Lines")
    }

    func survey() throws -> Survey {
        var survey = Survey()
        var tokensPossible = true
        var largestToken: Double = -1
        var width: (features: Int, line: Int)?
        var first: Record?
        var lineOneTargetPerStep: Int?, lineOtherwise: Int?
        // Every line has y, or none does (a file without targets).
        var lineWithTargets: Int?, lineWithout: Int?
        let statistics = options.statisticsSurvey()
        survey.statistics = statistics
        try forEachRecord { record, line in
            let steps = record.steps
            tokensPossible = tokensPossible && record.flatInputs && steps.allSatisfy { $0[0].isInteger && $0[0].value >= 0 && $0[0].value < Double(Int32.max) }
            if record.flatInputs { largestToken = steps.reduce(largestToken) { max($0, $1[0].value) } }
            if let width, width.features != steps[0].count {
                throw line.at("field x").error("\(steps[0].count) values per timestep, expected \(width.features) as in line \(width.line)")
            }
            width = width ?? (steps[0].count, line.line)
            first = first ?? record
            if record.y == nil { lineWithout = lineWithout ?? line.line } else { lineWithTargets = lineWithTargets ?? line.line }
            if let with = lineWithTargets, let without = lineWithout {
                throw PackError("\(reader.path): line \(max(with, without)): \(with > without ? "a \"y\" field, but line \(without) has none" : "no \"y\" field, but line \(with) has one"); give y on every line, or on none to pack a file without targets")
            }
            if record.y != nil {
                if record.targetPerStep { lineOneTargetPerStep = lineOneTargetPerStep ?? line.line } else { lineOtherwise = lineOtherwise ?? line.line }
            }
            record.y?.forEachNumber { survey.targets.add($0) }
            survey.rawLengths.append(steps.count)
            if let statistics { record.addStatistics(to: statistics, line) }
        }
        guard let first, let width else { throw PackError("\(reader.path): no sequences") }
        survey.hasTargets = first.y != nil
        if !survey.hasTargets, options.targetKind != nil {
            throw PackError("--target-kind: \(reader.path) has no \"y\" field, so no targets")
        }
        if options.targetKind == nil, like == nil, let stepLine = lineOneTargetPerStep, let otherLine = lineOtherwise, first.y?.isList == true {
            throw PackError("\(reader.path): line \(otherLine), field y: its length differs from x's, but y is as long as x in line \(stepLine); pass --target-kind row if y is a vector per sequence")
        }
        survey.inputKind = like?.inputKind ?? options.inputs ?? (tokensPossible ? .tokens : .features)
        survey.features = survey.inputKind == .tokens ? 0 : width.features
        survey.vocabSize = Int(min(largestToken, Double(Int32.max - 1))) + 1
        if let y = first.y {
            survey.targetKind = (like?.task.hasTargets == true ? like?.targetKind : nil) ?? options.targetKind ?? (lineOtherwise == nil ? .step : .row)
            survey.targetWidth = survey.targetKind == .row ? y.rowWidth : y.stepWidth
        }
        let inputsWhy = options.inputs != nil ? "--inputs" : like != nil ? "from \(options.like!)" : tokensPossible ? "x holds non-negative integers" : "x holds numbers"
        survey.notes = [
            "sequences: \(survey.rawLengths.count), lengths \(survey.rawLengths.min()!)..\(survey.rawLengths.max()!)",
            "inputs: " + (survey.inputKind == .tokens ? "tokens, vocabulary size \(like?.vocabSize ?? survey.vocabSize)" : Packer.describeInputs(.features, survey.features)) + " (\(inputsWhy))",
            !survey.hasTargets ? "targets: none (no \"y\" field)" :
            "targets: per \(survey.targetKind == .row ? "row" : "timestep")" + (options.targetKind != nil ? " (--target-kind)" : survey.targetKind == .step ? " (y is as long as x on every line)" : " (y is not as long as x)"),
        ]
        return survey
    }

    func write(_ header: DatasetHeader, into rows: RowAssembler) throws {
        var values = [Float](repeating: 0, count: max(header.features, header.targetWidth))
        let normalization = header.normalization
        func set(_ numbers: [Number], _ field: String, _ line: Location, expected: Int, normalized: (Double, Int) -> Double,
                 as store: (UnsafeBufferPointer<Float>) -> Void) throws {
            guard numbers.count == expected else {
                throw line.at("field \(field)").error("\(numbers.count) values, expected \(expected)")
            }
            for (index, number) in numbers.enumerated() { values[index] = Float(normalized(number.value, index)) }
            values.withUnsafeBufferPointer { store(UnsafeBufferPointer(rebasing: $0[0..<expected])) }
        }
        /// Where a checked target goes: the row's, a kept timestep's, or nowhere (a timestep
        /// that truncation drops is still checked, as its inputs are).
        enum Destination { case row, step(Int), dropped }
        func setTarget(_ numbers: [Number], _ field: String, _ line: Location, into destination: Destination) throws {
            if header.task.isClassification {
                guard numbers.count == 1 else { throw line.at("field \(field)").error("\(numbers.count) values; a class target is one number") }
                let id = try header.classID(numbers[0], at: line.at("field \(field)"))
                switch destination {
                case .row: rows.setRowClass(id)
                case .step(let position): rows.setStepClass(id, at: position)
                case .dropped: break
                }
            } else {
                try set(numbers, field, line, expected: header.targetWidth,
                        normalized: { normalization?.normalizedTarget($0, column: $1) ?? $0 }) { values in
                    switch destination {
                    case .row: rows.setRowValues(values)
                    case .step(let position): rows.setStepValues(values, at: position)
                    case .dropped: break
                    }
                }
            }
        }
        try forEachRecord { record, line in
            try rows.beginRow()
            // Without targets (task "none") every line lacks y, as the first pass checked.
            let y = header.task.hasTargets ? record.y : nil
            let stepTargets = header.targetKind == .step ? try y?.perStep(count: record.steps.count, line) : nil
            if header.targetKind == .row, let y { try setTarget(try y.perRow(line), "y", line, into: .row) }
            for (step, inputs) in record.steps.enumerated() {
                let position = rows.nextStep()
                if header.inputKind == .tokens {
                    let token = inputs[0]
                    guard record.flatInputs, token.isInteger, token.value >= 0, token.value < Double(header.vocabSize) else {
                        throw line.at("field x[\(step)]").error("\(record.flatInputs ? token.description : "a list") is not a token id from 0 to \(header.vocabSize - 1)")
                    }
                    if let position { rows.setToken(at: position, Int32(token.value)) }
                } else {
                    try set(inputs, "x[\(step)]", line, expected: header.features,
                            normalized: { normalization?.normalizedInput($0, feature: $1) ?? $0 }) { if let position { rows.setFeatures(at: position, $0) } }
                }
                if let stepTargets { try setTarget(stepTargets[step], "y[\(step)]", line, into: position.map { .step($0) } ?? .dropped) }
            }
        }
    }

    private func forEachRecord(_ body: (Record, Location) throws -> Void) throws {
        try reader.forEachLine { bytes, number in
            guard bytes.contains(where: { $0 != 0x20 && $0 != 0x09 }) else { return }
            let line = Location(file: reader.path, line: number)
            try body(try Record(bytes, line, readsTargets: !options.noTargets), line)
        }
    }
}

/// The `x` and `y` of one line, checked to be numbers in the shapes docs/datasets.md allows.
private struct Record {
    /// Each timestep's values: one for a flat list `x`.
    var steps: [[Number]]
    var flatInputs: Bool
    /// nil when the line has no "y" (a file without targets).
    var y: Targets?

    /// `readsTargets` false (`--no-targets`): any `y` is left unread.
    init(_ bytes: UnsafeBufferPointer<UInt8>, _ line: Location, readsTargets: Bool) throws {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw line.at("column \(error.column)").error("invalid JSON: \(error.problem)")
        }
        guard case .object(let members) = value else { throw line.error("expected a JSON object {\"x\": ..., \"y\": ...}") }
        guard let x = members["x"] else { throw line.error("no \"x\" field") }
        guard case .array(let elements) = x, !elements.isEmpty else { throw line.at("field x").error("expected a non-empty list, found \(x.summary)") }
        let flat = if case .number = elements[0] { true } else { false }
        let steps = try elements.enumerated().map { step, element in
            let field = "x[\(step)]"
            switch element {
            case .number(let number) where flat: return [number]
            case .array(let values) where !flat && !values.isEmpty: return try values.enumerated().map { try Self.number($1, "\(field)[\($0)]", line) }
            default: throw line.at("field \(field)").error("expected \(flat ? "a number as x[0]" : "a non-empty list of numbers as x[0]"), found \(element.summary)")
            }
        }
        if let step = steps.firstIndex(where: { $0.count != steps[0].count }) {
            throw line.at("field x[\(step)]").error("\(steps[step].count) values, expected \(steps[0].count) as x[0]")
        }
        (self.steps, flatInputs) = (steps, flat)
        self.y = readsTargets ? try members["y"].map { try Targets($0, line) } : nil
    }

    static func number(_ value: JSONValue, _ field: String, _ line: Location) throws -> Number {
        guard case .number(let number) = value else {
            let why = if case .string = value { "; targets and inputs must be numbers" } else { "" }
            throw line.at("field \(field)").error("expected a number, found \(value.summary)\(why)")
        }
        return number
    }

    /// Whether y has one element per timestep of x.
    var targetPerStep: Bool { y.map { $0.count == steps.count && $0.isList } ?? false }

    /// Adds the line's timesteps (with their targets when y may be per timestep) and its y as
    /// one per-row target (when it may be one) to `statistics`. Which of the two the dataset
    /// has is decided after the first pass.
    func addStatistics(to statistics: StatisticsSurvey, _ line: Location) {
        let stepTargets = targetPerStep ? try? y?.perStep(count: steps.count, line) : nil
        statistics.beginSequence()
        for (step, inputs) in steps.enumerated() {
            statistics.addStep(features: inputs.lazy.map(\.value), targets: (stepTargets?[step] ?? []).lazy.map(\.value))
        }
        statistics.endSequence()
        if let rowTargets = try? y?.perRow(line) { statistics.addRowTargets(rowTargets.lazy.map(\.value)) }
    }
}

/// `y`: a number, a list of numbers, or a list of equal-length number lists.
private enum Targets {
    case scalar(Number)
    case list([Number])
    case lists([[Number]])

    init(_ value: JSONValue, _ line: Location) throws {
        guard case .array(let elements) = value else { self = .scalar(try Record.number(value, "y", line)); return }
        if case .array = elements.first {
            self = .lists(try elements.enumerated().map { step, element in
                guard case .array(let values) = element else { throw line.at("field y[\(step)]").error("expected a list as y[0], found \(element.summary)") }
                return try values.enumerated().map { try Record.number($1, "y[\(step)][\($0)]", line) }
            })
        } else {
            self = .list(try elements.enumerated().map { try Record.number($1, "y[\($0)]", line) })
        }
    }

    var isList: Bool { if case .scalar = self { false } else { true } }

    var count: Int {
        switch self {
        case .scalar: 1
        case .list(let values): values.count
        case .lists(let lists): lists.count
        }
    }

    /// Values per row target: 1 for a number, n for a list.
    var rowWidth: Int { if case .list(let values) = self { values.count } else { 1 } }
    /// Values per timestep target: K for lists of K, else 1.
    var stepWidth: Int { if case .lists(let lists) = self { lists.first?.count ?? 1 } else { 1 } }

    func forEachNumber(_ body: (Number) -> Void) {
        switch self {
        case .scalar(let number): body(number)
        case .list(let values): values.forEach(body)
        case .lists(let lists): lists.joined().forEach(body)
        }
    }

    func perRow(_ line: Location) throws -> [Number] {
        switch self {
        case .scalar(let number): return [number]
        case .list(let values): return values
        case .lists: throw line.at("field y").error("a per-row target is a number or a list of numbers, not a list of lists")
        }
    }

    func perStep(count steps: Int, _ line: Location) throws -> [[Number]] {
        switch self {
        case .list(let values) where values.count == steps: return values.map { [$0] }
        case .lists(let lists) where lists.count == steps: return lists
        default: throw line.at("field y").error("\(isList ? "\(count) targets" : "a single number") for \(steps) timesteps of x (targets are per timestep)")
        }
    }
}
