import Pack
import TestSupport
import XCTest
@testable import Storage

/// `dataset_fingerprint` (docs/datasets.md, "Fingerprint"): pack records it while it writes, and
/// it equals what readers compute from the file, which is what they computed before pack recorded
/// it, so checkpoints written before still resume on the same data.
final class DatasetFingerprintTests: XCTestCase {
    private static let csv = "id,a,b,y\n1,0.5,1,0.25\n1,0.7,2,0.5\n1,0.8,2,1.5\n2,0.1,3,1\n2,0.2,4,1.25\n3,1,1,0\n3,2,1,0\n"
    private static let labelled = "id,a,b,y\n1,0.5,1,0\n1,0.7,2,0\n1,0.8,2,0\n2,0.1,3,1\n2,0.2,4,1\n3,1,1,0\n"
    private static let text = "the quick brown fox jumps over the lazy dog; the dog sleeps."

    /// Every input format, every target kind and the options that change what is hashed.
    private static var packs: [(name: String, file: String, content: String, configure: (inout PackOptions) -> Void)] { [
        ("csv label, post padding and truncation, normalised", "a.csv", labelled,
         { $0.id = "id"; $0.features = ["a", "b"]; $0.label = "y"; $0.padding = .post; $0.truncating = .post; $0.maxlen = 2; $0.normalize = true; $0.value = -1 }),
        ("csv targets with a horizon, normalised", "b.csv", csv, { $0.id = "id"; $0.target = ["a", "y"]; $0.horizon = 1; $0.normalize = true }),
        ("csv without --id: one contiguous series", "c.csv", csv, { $0.target = ["y"]; $0.length = 3 }),
        ("csv without targets", "d.csv", csv, { $0.id = "id"; $0.noTargets = true }),
        ("jsonl tokens, per-row classes, truncated", "e.jsonl", "{\"x\": [1, 2, 3, 4], \"y\": 1}\n{\"x\": [2, 5], \"y\": 0}\n{\"x\": [3, 3, 1], \"y\": 2}\n",
         { $0.maxlen = 3; $0.value = 9 }),
        ("jsonl features, per-step regression", "f.jsonl", "{\"x\": [[0.5, 1], [1.5, 2]], \"y\": [0.25, 0.75]}\n{\"x\": [[2.5, 3]], \"y\": [1.0]}\n", { _ in }),
        ("jsonl vector targets per row, normalised", "g.jsonl", "{\"x\": [0.5, 1.5], \"y\": [1, 2.5]}\n{\"x\": [2.5], \"y\": [0, 4]}\n",
         { $0.normalize = true; $0.targetKind = .row }),
        ("jsonl binary", "h.jsonl", "{\"x\": [0.5, 1.5], \"y\": 1}\n{\"x\": [2.5], \"y\": 0}\n", { $0.padding = .post }),
        ("text", "i.txt", text, { $0.length = 7; $0.padding = .post }),
        ("text, stored uncompressed", "j.txt", text, { $0.length = 5; $0.compression = 0 }),
    ] }

    func testPackRecordsTheFingerprintReadersComputeAndComputedBefore() throws {
        let bench = try PackBench()
        for pack in Self.packs {
            let (reader, _) = try bench.pack(pack.file, pack.content, pack.configure)
            let recorded = try XCTUnwrap(reader.recordedFingerprint, pack.name)
            XCTAssertTrue(DatasetFingerprint.isWellFormed(recorded), pack.name)
            XCTAssertEqual(recorded, try reader.computeFingerprint(), pack.name)
            XCTAssertEqual(recorded, try Self.fingerprintAsBefore(reader), pack.name)
            XCTAssertEqual(try reader.fingerprint(), recorded, pack.name)
        }
    }

    func testASplitPackedLikeItsTrainingFileRecordsItsOwnFingerprint() throws {
        let bench = try PackBench()
        let train = bench.folder.file("train.h5")
        try bench.pack("train.txt", Self.text) { $0.length = 7; $0.output = train }
        let (split, _) = try bench.pack("valid.txt", "the lazy fox") { $0.like = train }
        XCTAssertEqual(split.recordedFingerprint, try split.computeFingerprint())
        XCTAssertNotEqual(split.recordedFingerprint, try DatasetReader(path: train).recordedFingerprint)
    }

    /// Values the binary before this change wrote into checkpoints (`dataset_fingerprint`) for
    /// these packs: the fingerprint, recorded or computed, must not change for existing files.
    func testFingerprintsOfCheckpointsWrittenBeforeStillMatch() throws {
        let bench = try PackBench()
        let (text, _) = try bench.pack("t.txt", Self.text) { $0.length = 7; $0.padding = .post }
        let (series, _) = try bench.pack("s.csv", Self.csv) {
            $0.id = "id"; $0.target = ["a", "y"]; $0.horizon = 1; $0.normalize = true; $0.output = bench.folder.file("s.h5")
        }
        for (reader, before) in [(text, "27dc352c9eef911157b4d9049cb973c01627222adfec10920b70e282db34fb2d"),
                                 (series, "8c5595f36332582c7a8e085e20d99627fb7cdaa023e2201c8ce6dd92537741e1")] {
            XCTAssertEqual(reader.recordedFingerprint, before)
            XCTAssertEqual(try reader.computeFingerprint(), before)
        }
    }

    /// A file without the attribute is fingerprinted from its lengths, targets and vocabulary
    /// alone: a bad input value, which reading the rows refuses, does not stop it.
    func testComputingReadsNoInputs() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("d.h5")
        try writeFeatureDataset(path, rows: 9, length: 4, features: 2, lengths: { 1 + $0 % 4 },
                                value: { row, t, f in row == 7 && t == 3 && f == 1 ? .nan : Float(row + t + f) },
                                label: { row, _ in Float(row % 2) })
        let reader = try DatasetReader(path: path)
        XCTAssertNil(reader.recordedFingerprint, "written without the lengths up front: no fingerprint recorded")
        XCTAssertThrowsError(try reader.readRows(0 ..< 9)) { XCTAssertTrue("\($0)".contains("row 7, timestep 3"), "\($0)") }
        XCTAssertEqual(try reader.fingerprint(), try reader.computeFingerprint())
        XCTAssertEqual(try reader.fingerprint().count, 64)
    }

    /// The recorded value is trusted as it is (train and resume read nothing else for it); one
    /// that is not a SHA-256 in hex is refused in one line.
    func testTheRecordedValueIsUsedAndAMalformedOneIsRefused() throws {
        let bench = try PackBench()
        // Readers close the file when they go: each is scoped so the file can be opened to write.
        let (path, computed): (String, String) = try { let reader = try bench.pack("i.txt", Self.text) { $0.length = 7 }.0
                                                       return (reader.path, try reader.computeFingerprint()) }()
        let planted = String(repeating: "ab", count: 32)
        try H5File(path: path, mode: .readWrite).setAttribute("dataset_fingerprint", .string(planted))
        try {
            let reader = try DatasetReader(path: path)
            XCTAssertEqual(try reader.fingerprint(), planted)
            XCTAssertEqual(try reader.computeFingerprint(), computed)
        }()
        for bad in ["ABCD", String(repeating: "AB", count: 32), String(repeating: "g", count: 64)] {
            try H5File(path: path, mode: .readWrite).setAttribute("dataset_fingerprint", .string(bad))
            XCTAssertThrowsError(try DatasetReader(path: path)) {
                XCTAssertTrue("\($0)".contains("attribute dataset_fingerprint: '\(bad)' is not 64 lowercase hex characters"), "\($0)")
                XCTAssertFalse("\($0)".contains("\n"))
            }
        }
        try H5File(path: path, mode: .readWrite).setAttribute("dataset_fingerprint", .int(7))
        XCTAssertThrowsError(try DatasetReader(path: path)) { XCTAssertTrue("\($0)".contains("dataset_fingerprint"), "\($0)") }
    }

    /// The writer hashes the lengths it was told before the rows came: rows that carry other
    /// lengths are refused rather than fingerprinted wrongly.
    func testTheWriterRefusesRowsWhoseLengthsDifferFromTheDeclaredOnes() throws {
        let folder = try TemporaryFolder()
        let header = DatasetHeader(rows: 3, length: 4, inputKind: .features, features: 1, vocabSize: 0, vocab: [],
                                   targetKind: .row, task: .binary, numClasses: 2, targetWidth: 1, padding: .pre,
                                   stream: .independent, source: "test")
        XCTAssertThrowsError(try DatasetWriter(path: folder.file("a.h5"), header: header, compression: 0, lengths: [Int32]([1, 5, 2]))) {
            XCTAssertTrue("\($0)".contains("declared row length 5 is outside 0...4"), "\($0)")
        }
        XCTAssertThrowsError(try DatasetWriter(path: folder.file("b.h5"), header: header, compression: 0, lengths: [Int32]([1, 2]))) {
            XCTAssertTrue("\($0)".contains("2 row lengths declared for 3 rows"), "\($0)")
        }
        let writer = try DatasetWriter(path: folder.file("c.h5"), header: header, compression: 0, lengths: [Int32]([1, 2, 3]))
        var block = RowBlock(header: header, start: 0, count: 3)
        block.lengths = [1, 2, 4]
        XCTAssertThrowsError(try writer.append(block)) { XCTAssertTrue("\($0)".contains("row 2 has length 4, but 3 was declared"), "\($0)") }
        block.lengths = [1, 2, 3]
        block.classTargets.append(1)
        XCTAssertThrowsError(try writer.append(block)) { XCTAssertTrue("\($0)".contains("carry 4 target values, not 3"), "\($0)") }
    }

    /// The computation before pack recorded the fingerprint (every row read and checked, inputs
    /// included), kept here as the reference the recorded and computed values must equal.
    private static func fingerprintAsBefore(_ reader: DatasetReader) throws -> String {
        let hash = try SHA256()
        let h = reader.header
        let targetKind = h.task.hasTargets ? "target_kind=\(h.targetKind.rawValue);" : ""
        try hash.update("rows=\(h.rows);length=\(h.length);inputs=\(h.inputKind.rawValue);features=\(h.features);"
            + "vocab_size=\(h.vocabSize);\(targetKind)task=\(h.task.rawValue);"
            + "num_classes=\(h.numClasses);target_width=\(h.targetWidth);padding=\(h.padding.rawValue);stream=\(h.stream.rawValue);")
        if let origin = h.targetOrigin { try hash.update("horizon=\(origin.horizon);target_features=\(origin.features);") }
        try hash.update(try reader.readLengths())
        for start in stride(from: 0, to: h.rows, by: 2) {
            let block = try reader.readRows(start ..< min(start + 2, h.rows))
            if h.task.isClassification { try hash.update(block.classTargets) } else if h.task == .regression { try hash.update(block.valueTargets) }
        }
        try hash.update(h.vocab)
        if let statistics = h.normalization {
            try hash.update("normalization;")
            for values in [statistics.inputsMean, statistics.inputsStd, statistics.targetsMean, statistics.targetsStd] { try hash.update(values) }
        }
        return try hash.hexDigest()
    }
}
