import Storage

/// What the first pass over an input learned: enough to fix the dataset's header.
struct Survey {
    /// Each row's timesteps before truncation to L.
    var rawLengths: [Int] = []
    var inputKind: InputKind = .features
    var features = 0
    /// Token inputs: the vocabulary size (largest id + 1, or the text's distinct characters).
    var vocabSize = 0
    var vocab: [Int32] = []
    var targetKind: TargetKind = .row
    /// False when the input has no targets (no `y`, `--label` or `--target`): the dataset gets
    /// task "none" and no `/targets`.
    var hasTargets = true
    /// Values per target: 1 for a scalar label, K for a vector.
    var targetWidth = 1
    var targets = TargetValues()
    /// Set when the task is not inferred: text's targets are its next characters, one class each.
    var fixedClasses: Int?
    var stream: StreamKind = .independent
    /// Per target value: the index of the input feature it is a later value of, or -1.
    var targetFeatures: [Int] = []
    /// With `--normalize` (and no `--like`): the statistics of the kept timesteps.
    var statistics: StatisticsSurvey?
    /// CSV: the feature columns chosen (given or every other numeric one), for `pack_options`.
    var featureNames: [String]?
    /// Lines telling the user what was inferred.
    var notes: [String] = []
}

/// The target numbers seen in the first pass, for inferring the task.
struct TargetValues {
    var allIntegers = true
    var minimum = Double.infinity
    var maximum = -Double.infinity

    mutating func add(_ number: Number) {
        allIntegers = allIntegers && number.isInteger
        minimum = min(minimum, number.value)
        maximum = max(maximum, number.value)
    }
}

/// A source of sequences read in two passes: a survey, then the rows into the assembler.
protocol SequenceSource {
    func survey() throws -> Survey
    func write(_ header: DatasetHeader, into rows: RowAssembler) throws
}

extension DatasetHeader {
    /// The class id of a target number, or an error for `location` when it is not one of this
    /// dataset's classes.
    func classID(_ number: Number, at location: Location) throws -> Int32 {
        let value = number.value
        guard value.rounded() == value, value >= 0, value < Double(numClasses) else {
            let classes = task == .binary ? "0 or 1 (binary)" : "a class from 0 to \(numClasses - 1)"
            throw location.error("\(number) is not \(classes)")
        }
        return Int32(value)
    }
}

extension Number: CustomStringConvertible {
    /// As written, near enough: integers without a decimal point.
    var description: String { isInteger && abs(value) < 1e18 ? String(Int64(value)) : String(value) }
}
