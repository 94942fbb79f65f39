import Foundation
import Storage

/// How a dataset was packed: the root attribute `pack_options` (docs/datasets.md), JSON with
/// snake_case keys. It holds resolved values (the feature columns actually chosen, the padding
/// actually used), so `pack SPLIT --like TRAIN.h5` with no other flag packs SPLIT the same way.
/// Absent keys are options that were not given and have no resolved value: `maxlen` absent means
/// each file's longest sequence; `id`, `label`, `target`, `features` and `length` absent mean
/// the format does not use them (or, for `label`/`target`, the input had no targets).
public struct PackRecord: Codable, Equatable, Sendable {
    public var format: String
    public var id: String?
    public var features: [String]?
    public var label: String?
    public var target: [String]?
    public var horizon: Int
    public var length: Int?
    public var maxlen: Int?
    public var padding: String
    public var truncating: String
    public var value: Float
    public var normalize: Bool
    public var compression: Int

    public init(format: String, id: String? = nil, features: [String]? = nil, label: String? = nil, target: [String]? = nil,
                horizon: Int = 0, length: Int? = nil, maxlen: Int? = nil, padding: String, truncating: String,
                value: Float, normalize: Bool, compression: Int) {
        self.format = format; self.id = id; self.features = features; self.label = label; self.target = target
        self.horizon = horizon; self.length = length; self.maxlen = maxlen; self.padding = padding
        self.truncating = truncating; self.value = value; self.normalize = normalize; self.compression = compression
    }

    /// One line of JSON, keys sorted.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// The record of a `pack_options` attribute; an error naming `file` when it is not one.
    public init(json text: String, file: String) throws {
        do {
            self = try JSONDecoder().decode(PackRecord.self, from: Data(text.utf8))
        } catch {
            throw PackError("\(file): attribute pack_options is not a pack record (\(Self.describe(error))); pack with the flags instead of --like, or delete the attribute")
        }
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "no \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        default: return "not JSON"
        }
    }
}

extension PackOptions {
    /// The record of a pack with these options, once the first pass resolved what they leave open.
    func record(format: Format, survey: Survey, header: DatasetHeader) -> PackRecord {
        let csv = format == .csv, cut = format == .text || (csv && id == nil)
        return PackRecord(
            format: format.rawValue, id: csv ? id : nil, features: csv ? survey.featureNames : nil,
            label: csv && survey.hasTargets ? label : nil, target: csv && survey.hasTargets ? target : nil,
            horizon: csv && survey.hasTargets ? horizon : 0, length: cut ? (length ?? Self.defaultLength) : nil,
            maxlen: cut ? nil : maxlen, padding: header.padding.rawValue, truncating: (truncating ?? .pre).rawValue,
            value: value, normalize: header.normalization != nil, compression: compression)
    }

    /// These options with every one not given taken from `record`, the `pack_options` of
    /// `file` (the `--like` file). A given option that differs from the record is refused, naming
    /// both values; one that equals it is fine.
    func adopting(_ record: PackRecord, from file: String, input: String) throws -> PackOptions {
        var options = self
        func contradiction(_ flag: String, _ given: String, _ key: String, _ recorded: String) -> PackError {
            PackError("\(flag)\(given.isEmpty ? "" : " \(given)") contradicts \(file)'s pack_options \(key) \(recorded); drop the flag to pack as \(file) was packed")
        }
        func settle<T: Equatable>(_ key: String, _ given: T?, _ recorded: T?, _ show: (T) -> String, _ adopt: (inout PackOptions, T) -> Void) throws {
            if let given {
                guard given == recorded else { throw contradiction("--\(key)", show(given), key, recorded.map(show) ?? "none") }
            } else if let recorded {
                adopt(&options, recorded)
                options.adopted.insert(key)
            }
        }
        guard let recordedFormat = Format(rawValue: record.format) else {
            throw PackError("\(file): attribute pack_options has format '\(record.format)', not csv, jsonl or text")
        }
        if format == nil, let named = try? resolvedFormat(of: input), named != recordedFormat {
            throw PackError("\(input): its name says \(named), but \(file) was packed from \(recordedFormat) (pack_options format); pass --format \(named) without --like's options, or --format \(recordedFormat)")
        }
        try settle("format", format, recordedFormat, \.rawValue) { $0.format = $1 }
        let list = { (names: [String]) in names.joined(separator: ",") }
        try settle("id", id, record.id, { $0 }) { $0.id = $1 }
        try settle("features", features, record.features, list) { $0.features = $1 }
        if !noTargets {
            try settle("label", label, record.label, { $0 }) { $0.label = $1 }
            try settle("target", target, record.target, list) { $0.target = $1 }
            try settle("horizon", horizonFlag, record.horizon, { "\($0)" }) { $0.horizonFlag = $1 == 0 ? nil : $1 }
        }
        try settle("length", length, record.length, { "\($0)" }) { $0.length = $1 }
        try settle("maxlen", maxlen, record.maxlen, { "\($0)" }) { $0.maxlen = $1 }
        try settle("padding", padding, Padding(rawValue: record.padding), \.rawValue) { $0.padding = $1 }
        try settle("truncating", truncating, Padding(rawValue: record.truncating), \.rawValue) { $0.truncating = $1 }
        try settle("value", valueFlag, record.value, { "\($0)" }) { $0.valueFlag = $1 }
        try settle("compression", compressionFlag, record.compression, { "\($0)" }) { $0.compressionFlag = $1 }
        if normalize && !record.normalize { throw contradiction("--normalize", "", "normalize", "false") }
        if record.normalize { options.normalize = true; options.adopted.insert("normalize") }
        return options
    }
}
