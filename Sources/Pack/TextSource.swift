import Storage

/// Text: every Unicode scalar is a token, the vocabulary sorted by code point; the target of
/// each character is the next one, across row ends, so the rows are one contiguous stream.
struct TextSource: SequenceSource {
    private let reader: ByteReader
    private let options: PackOptions
    private let like: DatasetHeader?

    init(path: String, options: PackOptions, like: DatasetHeader?) throws {
        reader = try ByteReader(path: path)
        self.options = options
        self.like = like
        try options.reject(["--id", "--label", "--target", "--features", "--maxlen", "--horizon", "--no-targets"],
                           because: "does not apply to text: its rows are --length characters, its targets the next character")
        if options.inputs == .features || options.targetKind == .row {
            throw PackError("text inputs are tokens with per-timestep targets; --inputs and --target-kind do not apply")
        }
        if let like, like.vocab.isEmpty { throw PackError("\(options.like!): has no vocabulary, so it was not packed from text") }
    }

    func survey() throws -> Survey {
        var seen = Set<UInt32>()
        var count = 0
        try decode { scalar, _ in
            seen.insert(scalar)
            count += 1
        }
        guard count >= 2 else { throw PackError("\(reader.path): needs 2 or more characters (inputs and their next character)") }
        // One character would make one class, which no dataset may have (num_classes >= 2).
        if like == nil, seen.count == 1, let only = seen.first {
            throw PackError("\(reader.path): every character is \(Self.describe(only)); predicting the next one needs 2 or more distinct characters")
        }
        var survey = Survey()
        survey.inputKind = .tokens
        survey.vocab = seen.sorted().map { Int32(bitPattern: $0) }
        survey.vocabSize = survey.vocab.count
        survey.fixedClasses = survey.vocabSize
        survey.targetKind = .step
        survey.stream = .contiguous
        let length = options.length ?? PackOptions.defaultLength
        let steps = count - 1
        survey.rawLengths = Array(repeating: length, count: steps / length) + (steps % length > 0 ? [steps % length] : [])
        survey.notes = [
            "text: \(count) characters cut into \(survey.rawLengths.count) rows of \(length) (stream contiguous)",
            "inputs: tokens, vocabulary of \(survey.vocabSize) characters" + (like != nil ? " (using \(options.like!)'s \(like!.vocabSize))" : ""),
            "targets: per timestep, the next character",
        ]
        return survey
    }

    func write(_ header: DatasetHeader, into rows: RowAssembler) throws {
        let ids = Dictionary(uniqueKeysWithValues: header.vocab.enumerated().map { (UInt32(bitPattern: $0.element), Int32($0.offset)) })
        var previous: Int32?
        var stepsInRow = header.length
        try decode { scalar, location in
            guard let id = ids[scalar] else {
                throw location().error("character \(Self.describe(scalar)) is not in the vocabulary of \(options.like ?? "the first pass")")
            }
            defer { previous = id }
            guard let input = previous else { return }
            if stepsInRow == header.length {
                try rows.beginRow()
                stepsInRow = 0
            }
            stepsInRow += 1
            if let position = rows.nextStep() {
                rows.setToken(at: position, input)
                rows.setStepClass(id, at: position)
            }
        }
    }

    private func decode(_ body: (UInt32, _ location: () -> Location) throws -> Void) throws {
        var decoder = UTF8Decoder(file: reader.path)
        try reader.forEachBlock { block in
            try decoder.decode(block) { scalar, line, column in
                try body(scalar) { UTF8Decoder.location(file: reader.path, line: line, column: column) }
            }
        }
        try decoder.finish()
    }

    private static func describe(_ scalar: UInt32) -> String {
        let hex = String(scalar, radix: 16, uppercase: true)
        let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        guard let character = Unicode.Scalar(scalar), !character.properties.isWhitespace, character.properties.generalCategory != .control else { return code }
        return "'\(character)' (\(code))"
    }
}
