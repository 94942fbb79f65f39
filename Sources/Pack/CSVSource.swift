#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import Storage

/// CSV with a header line, one timestep per line. With `--id`, consecutive lines with the same
/// id form a sequence (`stream=independent`); without, the file is one long series cut into
/// rows of `--length` timesteps (`stream=contiguous`).
struct CSVSource: SequenceSource {
    private let reader: ByteReader
    private let options: PackOptions
    private let columns: [String]
    private let idColumn: Int?
    private let labelColumn: Int?
    private let targetColumns: [Int]
    private let featureColumns: [Int]
    private let featureNote: String
    /// Why the input has no targets when the `--like` file's record named some.
    private let noTargetsWhy: String?

    init(path: String, options given: PackOptions, like: DatasetHeader?) throws {
        reader = try ByteReader(path: path)
        var options = given
        if options.label != nil && options.target != nil { throw PackError("give --label or --target, not both") }
        if options.id == nil && options.label != nil { throw PackError("--label needs --id: without it the file is one long series") }
        if options.horizon > 0 && options.target == nil { throw PackError("--horizon needs --target") }
        if options.id == nil && options.maxlen != nil { throw PackError("--maxlen needs --id: rows of one long series have --length timesteps") }
        if options.id != nil && options.length != nil { throw PackError("--length applies without --id; with --id, use --maxlen") }
        if options.inputs == .tokens { throw PackError("CSV inputs are features; --inputs tokens applies to JSON Lines") }
        if options.label == nil && options.target == nil, let kind = options.targetKind {
            throw PackError("--target-kind \(kind) needs targets: give --label COL (one per sequence, with --id) or --target COL,... (one per timestep)")
        }
        if let kind = options.targetKind, kind != (options.label != nil ? .row : .step) {
            throw PackError("--target-kind \(kind) contradicts \(options.label != nil ? "--label" : "--target") for CSV")
        }

        let (columns, firstRow) = try Self.readHeader(reader)
        self.columns = columns
        // A split without labels (for predict or forecast) is packed like the training file for
        // its inputs: the record's label or target columns apply only when the split has them.
        var noTargetsWhy: String? = options.noTargets ? "--no-targets" : nil
        if options.adopted.contains("label"), let label = options.label, !columns.contains(label) {
            noTargetsWhy = "\(options.like!)'s label column '\(label)' is not in \(path)"
            options.label = nil
        }
        if options.adopted.contains("target"), let target = options.target, !target.contains(where: columns.contains) {
            noTargetsWhy = "\(options.like!)'s target columns \(target.map { "'\($0)'" }.joined(separator: ", ")) are not in \(path)"
            options.target = nil
            options.horizonFlag = nil
        }
        self.noTargetsWhy = noTargetsWhy
        self.options = options
        func column(_ name: String, _ option: String) throws -> Int {
            guard let index = columns.firstIndex(of: name) else {
                let from = options.adopted.contains(String(option.dropFirst(2))) ? ", from \(options.like!)'s pack_options" : ""
                throw PackError("\(path): line 1: no column '\(name)' (\(option)\(from)); columns are \(columns.joined(separator: ", "))")
            }
            return index
        }
        idColumn = try options.id.map { try column($0, "--id") }
        labelColumn = try options.label.map { try column($0, "--label") }
        targetColumns = try (options.target ?? []).map { try column($0, "--target") }
        if let names = options.features {
            featureColumns = try names.map { try column($0, "--features") }
            featureNote = "features: \(names.joined(separator: ", "))"
        } else {
            // Forecasting a column's future value from its past: its present value is an input.
            let excluded = Set([idColumn, labelColumn].compactMap { $0 } + (options.horizon > 0 ? [] : targetColumns))
            featureColumns = columns.indices.filter { index in
                !excluded.contains(index) && firstRow.map { index < $0.count && $0[index].withUnsafeBufferPointer(Self.looksNumeric) } ?? false
            }
            let names = featureColumns.map { columns[$0] }.joined(separator: ", ")
            featureNote = "features: \(names) (every other numeric column; choose with --features)"
        }
        guard !featureColumns.isEmpty else { throw PackError("\(path): no feature columns; name them with --features") }
        if let like, like.inputKind == .features, like.features != featureColumns.count {
            throw PackError("\(path): \(featureColumns.count) features, but \(options.like!) has \(like.features)")
        }
    }

    /// Whether a first-line field makes its column numeric: any number, finite or not (`nan`,
    /// `inf`, `1e39`), so that such a value is reported with its line rather than its column
    /// silently left out of the features.
    static func looksNumeric(_ field: UnsafeBufferPointer<UInt8>) -> Bool {
        if parseNumber(field) != nil { return true }
        let text = String(decoding: field, as: UTF8.self)
        let trimmed = text.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()
        return !trimmed.isEmpty && Double(String(trimmed)) != nil
    }

    func survey() throws -> Survey {
        var survey = Survey()
        survey.inputKind = .features
        survey.features = featureColumns.count
        survey.targetKind = labelColumn != nil ? .row : .step
        survey.hasTargets = labelColumn != nil || !targetColumns.isEmpty
        survey.targetWidth = labelColumn != nil ? 1 : targetColumns.count
        survey.stream = idColumn != nil ? .independent : .contiguous
        let horizon = options.horizon
        survey.targetFeatures = targetColumns.map { featureColumns.firstIndex(of: $0) ?? -1 }
        survey.featureNames = featureColumns.map { columns[$0] }
        let statistics = options.statisticsSurvey()
        survey.statistics = statistics
        // The last horizon + 1 lines' features and this line's targets, as the second pass pairs them.
        var recent = [Double](repeating: 0, count: statistics == nil ? 0 : (horizon + 1) * featureColumns.count)
        var targetValues = [Double](repeating: 0, count: targetColumns.count)
        var steps = 0
        var sequenceStart = 0
        var sequenceLabel: Number?
        if idColumn == nil { statistics?.beginSequence() }
        func endSequence() throws {
            statistics?.endSequence()
            guard steps > 0 else { return }
            guard steps > horizon else {
                throw PackError("\(reader.path): line \(sequenceStart): sequence of \(steps) timesteps; --horizon \(horizon) leaves none")
            }
            survey.rawLengths.append(steps - horizon)
        }
        try forEachRecord { fields, line, startsSequence in
            if startsSequence {
                try endSequence()
                (steps, sequenceStart, sequenceLabel) = (0, line.line, nil)
                statistics?.beginSequence()
            }
            if let labelColumn {
                let label = try number(fields, labelColumn, line)
                if let sequenceLabel, sequenceLabel.value != label.value {
                    throw line.at("column '\(columns[labelColumn])'").error(
                        "label \(label) differs from \(sequenceLabel) earlier in the same sequence (line \(sequenceStart))")
                }
                if sequenceLabel == nil {
                    survey.targets.add(label)
                    statistics?.addRowTargets(CollectionOfOne(label.value))
                }
                sequenceLabel = label
            }
            for (index, column) in targetColumns.enumerated() {
                let target = try number(fields, column, line)
                // A sequence's first `horizon` values are no timestep's target: they decide no class.
                if steps >= horizon { survey.targets.add(target) }
                targetValues[index] = target.value
            }
            if let statistics {
                let width = featureColumns.count, slot = steps % (horizon + 1)
                for (index, column) in featureColumns.enumerated() { recent[slot * width + index] = try number(fields, column, line).value }
                if steps >= horizon {
                    let emitted = (steps - horizon) % (horizon + 1)
                    statistics.addStep(features: recent[(emitted * width)..<((emitted + 1) * width)], targets: targetValues)
                }
            }
            steps += 1
        }
        if idColumn != nil {
            try endSequence()
        } else {
            statistics?.endSequence()
            guard steps > horizon else { throw PackError("\(reader.path): \(steps) timesteps; --horizon \(horizon) leaves none") }
            let length = options.length ?? PackOptions.defaultLength
            let total = steps - horizon
            survey.rawLengths = Array(repeating: length, count: total / length) + (total % length > 0 ? [total % length] : [])
        }
        survey.notes = [
            idColumn != nil
                ? "sequences: \(survey.rawLengths.count) by '\(columns[idColumn!])', lengths \(survey.rawLengths.min() ?? 0)..\(survey.rawLengths.max() ?? 0)"
                : "sequences: one series of \(steps - horizon) timesteps cut into \(survey.rawLengths.count) rows of \(options.length ?? PackOptions.defaultLength) (stream contiguous)",
            featureNote,
            labelColumn != nil
                ? "targets: per row, column '\(columns[labelColumn!])'"
                : !survey.hasTargets ? "targets: none (\(noTargetsWhy ?? "no --label or --target"))"
                : "targets: per timestep, \(targetColumns.map { "'\(columns[$0])'" }.joined(separator: ", "))"
                    + (horizon > 0 ? " \(horizon) timestep\(horizon == 1 ? "" : "s") ahead" : ""),
        ]
        return survey
    }

    func write(_ header: DatasetHeader, into rows: RowAssembler) throws {
        let featureCount = featureColumns.count, horizon = options.horizon, normalization = header.normalization
        let rowLength = idColumn == nil ? header.length : Int.max
        // The last horizon + 1 lines' features: a step is emitted once its target, `horizon`
        // lines later, has been read.
        var recent = [Float](repeating: 0, count: (horizon + 1) * featureCount)
        var targets = [Number](repeating: Number(value: 0, isInteger: true), count: targetColumns.count)
        var targetValues = [Float](repeating: 0, count: targetColumns.count)
        var lineInSequence = 0, stepsInRow = idColumn == nil ? rowLength : 0
        try forEachRecord { fields, line, startsSequence in
            if startsSequence {
                lineInSequence = 0
                try rows.beginRow()
                if let labelColumn { try setLabel(rows, header, try number(fields, labelColumn, line), line) }
            }
            let slot = lineInSequence % (horizon + 1)
            for (index, column) in featureColumns.enumerated() {
                let value = try number(fields, column, line).value
                recent[slot * featureCount + index] = Float(normalization?.normalizedInput(value, feature: index) ?? value)
            }
            for (index, column) in targetColumns.enumerated() { targets[index] = try number(fields, column, line) }
            lineInSequence += 1
            guard lineInSequence > horizon else { return }
            if stepsInRow == rowLength {
                try rows.beginRow()
                stepsInRow = 0
            }
            stepsInRow += 1
            guard let position = rows.nextStep() else { return }
            let emitted = (lineInSequence - 1 - horizon) % (horizon + 1)
            recent.withUnsafeBufferPointer {
                rows.setFeatures(at: position, UnsafeBufferPointer(rebasing: $0[(emitted * featureCount)..<((emitted + 1) * featureCount)]))
            }
            guard !targets.isEmpty else { return }
            if header.task.isClassification {
                rows.setStepClass(try header.classID(targets[0], at: line.at("column '\(columns[targetColumns[0]])'")), at: position)
            } else {
                for index in targets.indices {
                    let value = targets[index].value
                    targetValues[index] = Float(normalization?.normalizedTarget(value, column: index) ?? value)
                }
                targetValues.withUnsafeBufferPointer { rows.setStepValues($0, at: position) }
            }
        }
    }

    /// Sets the row's label, from the first line of its sequence.
    private func setLabel(_ rows: RowAssembler, _ header: DatasetHeader, _ label: Number, _ line: Location) throws {
        if header.task.isClassification {
            rows.setRowClass(try header.classID(label, at: line.at("column '\(columns[labelColumn!])'")))
        } else {
            let value = header.normalization?.normalizedTarget(label.value, column: 0) ?? label.value
            [Float(value)].withUnsafeBufferPointer { rows.setRowValues($0) }
        }
    }

    /// Calls `body` with each data line's fields, its location, and whether it starts a
    /// sequence (a new id; never without `--id`). Checks every line has every column.
    private func forEachRecord(_ body: (_ fields: CSVFields, _ line: Location, _ startsSequence: Bool) throws -> Void) throws {
        let fields = CSVFields()
        var previousID: [UInt8] = []
        var first = true
        try reader.forEachLine { bytes, number in
            guard number > 1, !bytes.isEmpty else { return }
            let line = Location(file: reader.path, line: number)
            fields.split(bytes)
            guard fields.count == columns.count else {
                throw line.error("\(fields.count) fields, expected \(columns.count) as in the header")
            }
            var startsSequence = false
            if let idColumn {
                let id = fields[idColumn]
                startsSequence = first || !id.elementsEqual(previousID)
                if startsSequence { previousID = Array(id) }
            }
            first = false
            try body(fields, line, startsSequence)
        }
    }

    /// The number in a field, or an error naming its line and column.
    private func number(_ fields: CSVFields, _ column: Int, _ line: Location) throws -> Number {
        if let number = parseNumber(fields[column]) { return number }
        throw line.at("column '\(columns[column])'").error("'\(String(decoding: fields[column], as: UTF8.self))' is not a finite number")
    }

    /// The header's column names, and the first data line's fields (to find numeric columns).
    private static func readHeader(_ reader: ByteReader) throws -> (names: [String], firstRow: [[UInt8]]?) {
        struct Enough: Error {}
        var names: [String] = []
        var firstRow: [[UInt8]]?
        let fields = CSVFields()
        do {
            try reader.forEachLine { bytes, number in
                guard !bytes.isEmpty || number > 1 else { throw PackError("\(reader.path): line 1: empty header line") }
                guard !bytes.isEmpty else { return }
                fields.split(bytes)
                let values = (0..<fields.count).map { Array(fields[$0]) }
                if number == 1 {
                    names = values.map { String(decoding: $0, as: UTF8.self).trimmingSpaces() }
                } else {
                    firstRow = values
                    throw Enough()
                }
            }
        } catch is Enough {}
        guard firstRow != nil else { throw PackError("\(reader.path): no data lines after the header") }
        return (names, firstRow)
    }
}

/// The fields of one CSV line, as byte ranges into it. Quoted fields (`"a,b"`) lose their
/// quotes; doubled quotes inside stay doubled, which only matters for text we reject anyway.
/// The ranges live in a buffer reused from line to line: splitting is half of the first pass.
final class CSVFields {
    private var line = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
    private var bounds = UnsafeMutableBufferPointer<(start: Int, end: Int)>.allocate(capacity: 64)
    private(set) var count = 0

    deinit { bounds.deallocate() }

    subscript(index: Int) -> UnsafeBufferPointer<UInt8> {
        let field = bounds[index]
        return UnsafeBufferPointer(rebasing: line[field.start..<field.end])
    }

    func split(_ line: UnsafeBufferPointer<UInt8>) {
        self.line = line
        count = 0
        if !splitUnquoted(line) { splitQuoted(line) }
    }

    /// The common case, 16 bytes at a time: finds the commas of a line without quotes, or
    /// returns false at the first quote.
    private func splitUnquoted(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        let commas = SIMD16<UInt8>(repeating: UInt8(ascii: ",")), quotes = SIMD16<UInt8>(repeating: UInt8(ascii: "\""))
        let laneBits = SIMD8<UInt8>(1, 2, 4, 8, 16, 32, 64, 128)
        /// Bit i set where lane i matches (x86's movemask, which Swift does not expose).
        func bits(_ matches: SIMDMask<SIMD16<Int8>>) -> UInt16 {
            let hits = SIMD16<UInt8>(repeating: 0).replacing(with: SIMD16(lowHalf: laneBits, highHalf: laneBits), where: matches)
            return UInt16(hits.lowHalf.wrappedSum()) | UInt16(hits.highHalf.wrappedSum()) << 8
        }
        var start = 0, offset = 0
        while offset + 16 <= line.count {
            let bytes = UnsafeRawPointer(line.baseAddress! + offset).loadUnaligned(as: SIMD16<UInt8>.self)
            if bits(bytes .== quotes) != 0 { return false }
            var mask = bits(bytes .== commas)
            while mask != 0 {
                let comma = offset + mask.trailingZeroBitCount
                append(start, comma)
                start = comma + 1
                mask &= mask - 1
            }
            offset += 16
        }
        for index in offset..<line.count {
            switch line[index] {
            case UInt8(ascii: "\""): return false
            case UInt8(ascii: ","): append(start, index); start = index + 1
            default: break
            }
        }
        append(start, line.count)
        return true
    }

    private func splitQuoted(_ line: UnsafeBufferPointer<UInt8>) {
        count = 0
        let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\"")
        var start = 0
        while true {
            var end = start
            if start < line.count, line[start] == quote {
                end += 1
                while end < line.count, line[end] != quote || (end + 1 < line.count && line[end + 1] == quote) {
                    end += line[end] == quote ? 2 : 1
                }
                append(start + 1, min(end, line.count))
                start = end + 1
                while start < line.count, line[start] != comma { start += 1 }
            } else {
                while end < line.count, line[end] != comma { end += 1 }
                append(start, end)
                start = end
            }
            guard start < line.count else { break }
            start += 1
        }
    }

    @inline(__always)
    private func append(_ start: Int, _ end: Int) {
        if count == bounds.count {
            let larger = UnsafeMutableBufferPointer<(start: Int, end: Int)>.allocate(capacity: bounds.count * 2)
            _ = larger.initialize(from: bounds)
            bounds.deallocate()
            bounds = larger
        }
        bounds[count] = (start, end)
        count += 1
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
