import ArgumentParser
import Foundation
import Pack
import Storage

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a dataset or a checkpoint: shapes, lengths, task, stream kind; position, configuration, state."
    )

    @Argument(help: "An HDF5 file written by lstm-dist (or by h5py in its layout).") var file: String
    @Flag(help: "Print one JSON object instead of text.") var json = false
    @Flag(help: "Also read every row of a dataset and check every value (and every checksum); report the first bad one.")
    var check = false

    /// Dispatches on the root `format` attribute: each kind of file has its own description.
    func run() throws {
        let format = try H5File(path: file, mode: .readOnly).attribute("format")
        switch format {
        case .string(DatasetHeader.format)?:
            let reader = try DatasetReader(path: file)
            if check { try checkEveryRow(reader) }
            try show(try DatasetSummary(reader))
        case .string(Checkpoint.format)?:
            let summary = try CheckpointSummary(path: file)
            print(json ? try summary.json() : summary.description)
        case .string(let other)?:
            throw StorageError("\(file): cannot inspect files of format '\(other)'")
        default:
            throw StorageError("\(file): not an lstm-dist file (no format attribute)")
        }
    }

    /// Reads the rows a block at a time (each block is checked as it is read), with the share
    /// done on stderr when that is a terminal, and recomputes the fingerprint from the same reads:
    /// one that differs from the recorded `dataset_fingerprint` means the file changed after pack
    /// wrote it.
    private func checkEveryRow(_ reader: DatasetReader) throws {
        let header = reader.header
        let fingerprint = try DatasetFingerprint(header: header, lengths: try reader.readLengths())
        let rowsPerBlock = max(1, (4 << 20) / max(1, (header.inputsPerRow + header.targetsPerRow) * 4))
        let showProgress = isatty(STDERR_FILENO) != 0 && header.rows > rowsPerBlock
        for start in stride(from: 0, to: header.rows, by: rowsPerBlock) {
            try fingerprint.update(targetsOf: try reader.readRows(start ..< min(start + rowsPerBlock, header.rows)))
            if showProgress { FileHandle.standardError.write(Data("\rchecked \(min(start + rowsPerBlock, header.rows)) of \(header.rows) rows".utf8)) }
        }
        if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }
        let computed = try fingerprint.finish()
        if let recorded = reader.recordedFingerprint, recorded != computed {
            throw StorageError("\(reader.path): the content hashes to \(computed), not the recorded dataset_fingerprint \(recorded): the file changed after it was packed (its lengths, targets, vocabulary, normalisation or attributes); pack it again")
        }
    }

    private func show(_ summary: some Encodable & CustomStringConvertible) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            print(summary)
        }
    }
}

/// What `inspect` says about a dataset; the JSON keys are the file's attribute names (docs/datasets.md).
struct DatasetSummary: Encodable, CustomStringConvertible {
    struct Lengths: Encodable { var min: Int32, mean: Double, max: Int32 }
    var file: String
    var format = DatasetHeader.format
    var rows: Int
    var length: Int
    var inputs: String
    var features: Int?
    var vocabSize: Int?
    var lengths: Lengths
    var padding: String
    /// nil (absent) without targets, as in the file.
    var targetKind: String?
    var task: String
    var numClasses: Int?
    var targetWidth: Int?
    var stream: String
    var source: String
    var horizon: Int?
    var targetFeatures: [Int32]?
    var normalization: NormalizationSummary?
    /// The `pack_options` record: an object, or the attribute's text when it is not a record.
    var packOptions: PackOptionsSummary?
    /// The recorded `dataset_fingerprint`; nil (absent) in files without one.
    var fingerprint: String?

    enum CodingKeys: String, CodingKey {
        case file, format, rows, length, inputs, features, lengths, padding, task, stream, source, horizon, normalization
        case packOptions = "pack_options"
        case vocabSize = "vocab_size", targetKind = "target_kind", numClasses = "num_classes", targetWidth = "target_width"
        case targetFeatures = "target_features", fingerprint = "dataset_fingerprint"
    }

    init(_ reader: DatasetReader) throws {
        let header = reader.header
        let lengths = try reader.readLengths()
        file = reader.path
        rows = header.rows
        length = header.length
        inputs = header.inputKind.rawValue
        features = header.inputKind == .features ? header.features : nil
        vocabSize = header.inputKind == .tokens ? header.vocabSize : nil
        self.lengths = Lengths(min: lengths.min() ?? 0,
                               mean: lengths.isEmpty ? 0 : Double(lengths.reduce(0) { $0 + Int($1) }) / Double(lengths.count),
                               max: lengths.max() ?? 0)
        padding = header.padding.rawValue
        targetKind = header.task.hasTargets ? header.targetKind.rawValue : nil
        task = header.task.rawValue
        numClasses = header.task.isClassification ? header.numClasses : nil
        targetWidth = header.task.hasTargets ? header.targetWidth : nil
        stream = header.stream.rawValue
        source = header.source
        horizon = header.targetOrigin?.horizon
        targetFeatures = header.targetOrigin?.features
        normalization = header.normalization.map(NormalizationSummary.init)
        fingerprint = reader.recordedFingerprint
        packOptions = header.packOptions.map { text in
            (try? PackRecord(json: text, file: reader.path)).map(PackOptionsSummary.record) ?? .text(text)
        }
    }

    var description: String {
        let inputText = inputs == "tokens" ? "tokens, vocabulary of \(vocabSize!)" : "\(features!) feature\(features == 1 ? "" : "s") per timestep"
        let taskText = numClasses.map { "\(task), \($0) classes" } ?? "\(task), \(targetWidth ?? 0) value\(targetWidth == 1 ? "" : "s") per target"
        let targetsText = targetKind.map { "per \($0 == "row" ? "row" : "timestep"): \(taskText)" }
            ?? "none (task \(task)): for predict and forecast, not train or evaluate"
        let rows: [(String, String)] = [
            ("rows (N)", "\(self.rows)"),
            ("length (L)", "\(length)"),
            ("inputs", inputText),
            ("lengths", "min \(lengths.min), mean \(String(format: "%.1f", lengths.mean)), max \(lengths.max)"),
            ("padding", padding),
            ("targets", targetsText),
            ("stream", stream),
            ("source", source),
        ] + (horizon.map { horizon in
            let features = targetFeatures!.map { $0 < 0 ? "-" : "\($0)" }.joined(separator: ", ")
            return [("horizon", "\(horizon)"), ("continues", "features \(features) (one per target column; - = not an input)")]
        } ?? []) + (normalization?.lines ?? [])
            + (packOptions.map { [("packed with", $0.line)] } ?? [])
            + (fingerprint.map { [("fingerprint", $0)] } ?? [])
        return "\(file): \(format)\n" + rows.map { "  " + $0.0.padding(toLength: 12, withPad: " ", startingAt: 0) + $0.1 }.joined(separator: "\n")
    }
}

/// `pack_options` as `inspect` shows it: the record, or its text when it does not decode.
enum PackOptionsSummary: Encodable {
    case record(PackRecord)
    case text(String)

    func encode(to encoder: Encoder) throws {
        switch self {
        case .record(let record): try record.encode(to: encoder)
        case .text(let text): var container = encoder.singleValueContainer(); try container.encode(text)
        }
    }

    /// "pack_options {...}" as one line: the JSON the file holds, keys sorted.
    var line: String {
        switch self {
        case .record(let record): return "pack_options \(record.json)"
        case .text(let text): return "pack_options \(text) (not a pack record)"
        }
    }
}

/// `/normalization` as `inspect` shows it, for datasets and checkpoints; JSON keys are the
/// dataset names.
struct NormalizationSummary: Encodable {
    var inputsMean: [Double], inputsStd: [Double], targetsMean: [Double], targetsStd: [Double]

    enum CodingKeys: String, CodingKey {
        case inputsMean = "inputs_mean", inputsStd = "inputs_std", targetsMean = "targets_mean", targetsStd = "targets_std"
    }

    init(_ statistics: Normalization) {
        (inputsMean, inputsStd) = (statistics.inputsMean, statistics.inputsStd)
        (targetsMean, targetsStd) = (statistics.targetsMean, statistics.targetsStd)
    }

    /// "inputs mean 1013.2, 20.1; std 0.51, 3.2" and the same for targets, as labelled lines.
    var lines: [(String, String)] {
        func list(_ values: [Double]) -> String { values.map { String(format: "%.6g", $0) }.joined(separator: ", ") }
        return [("inputs", inputsMean, inputsStd), ("targets", targetsMean, targetsStd)].compactMap { name, mean, std in
            mean.isEmpty ? nil : ("normalized", "\(name) mean \(list(mean)); std \(list(std))")
        }
    }

    var jsonObject: [String: [Double]] {
        [CodingKeys.inputsMean.rawValue: inputsMean, CodingKeys.inputsStd.rawValue: inputsStd,
         CodingKeys.targetsMean.rawValue: targetsMean, CodingKeys.targetsStd.rawValue: targetsStd].filter { !$0.value.isEmpty }
    }
}
