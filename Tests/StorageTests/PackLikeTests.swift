import Foundation
import Pack
import Storage
import TestSupport
import XCTest

/// `pack_options` (docs/datasets.md, "How it was packed"): pack records its resolved options,
/// `pack SPLIT --like TRAIN.h5` alone packs SPLIT the same way, a contradicting flag is refused.
final class PackLikeTests: XCTestCase {
    private let trainCSV = """
        id,a,b,y
        1,0.5,1,0
        1,0.7,2,0
        1,0.8,2,0
        2,0.1,3,1
        2,0.2,4,1
        3,1,1,0

        """
    private let validCSV = """
        id,a,b,y
        7,0.5,1,1
        7,0.9,2,1
        7,1.9,2,1
        8,0.1,3,0

        """

    /// Packs `name` into `out` in the bench's folder.
    private func pack(_ bench: PackBench, _ name: String, _ content: String, into out: String,
                      _ configure: (inout PackOptions) -> Void) throws -> (DatasetReader, [String]) {
        let input = try bench.folder.write(name, content)
        var options = PackOptions(output: bench.folder.file(out))
        options.force = true
        configure(&options)
        var report: [String] = []
        try Packer.pack(input, options: options) { report.append($0) }
        return (try DatasetReader(path: options.output), report)
    }

    /// Every dataset and attribute of two files, `source` aside, is the same.
    private func assertSameDataset(_ a: DatasetReader, _ b: DatasetReader, file: StaticString = #filePath, line: UInt = #line) throws {
        var (left, right) = (a.header, b.header)
        left.source = ""; right.source = ""
        XCTAssertEqual(left, right, file: file, line: line)
        let (x, y) = (try a.readRows(0..<left.rows), try b.readRows(0..<right.rows))
        XCTAssertEqual(x.lengths, y.lengths, file: file, line: line)
        XCTAssertEqual(x.tokens, y.tokens, file: file, line: line)
        XCTAssertEqual(x.features, y.features, file: file, line: line)
        XCTAssertEqual(x.classTargets, y.classTargets, file: file, line: line)
        XCTAssertEqual(x.valueTargets, y.valueTargets, file: file, line: line)
    }

    private func record(_ reader: DatasetReader) throws -> PackRecord {
        try PackRecord(json: XCTUnwrap(reader.header.packOptions), file: reader.path)
    }

    func testPackRecordsItsResolvedOptions() throws {
        let bench = try PackBench()
        let (train, _) = try pack(bench, "train.csv", trainCSV, into: "train.h5") {
            $0.id = "id"; $0.label = "y"; $0.padding = .post; $0.normalize = true; $0.value = -1; $0.maxlen = 2
        }
        XCTAssertEqual(try record(train), PackRecord(format: "csv", id: "id", features: ["a", "b"], label: "y", maxlen: 2,
                                                     padding: "post", truncating: "pre", value: -1, normalize: true, compression: 1))
        let json = try XCTUnwrap(train.header.packOptions)
        for key in ["\"format\":\"csv\"", "\"features\":[\"a\",\"b\"]", "\"padding\":\"post\"", "\"truncating\":\"pre\"", "\"normalize\":true"] {
            XCTAssertTrue(json.contains(key), json)
        }
        let (text, _) = try pack(bench, "t.txt", "hello world", into: "t.h5") { _ in }
        XCTAssertEqual(try record(text), PackRecord(format: "text", length: 100, padding: "pre", truncating: "pre", value: 0, normalize: false, compression: 1))
    }

    func testFingerprintIgnoresTheRecord() throws {
        let bench = try PackBench()
        let (train, _) = try pack(bench, "train.csv", trainCSV, into: "train.h5") { $0.id = "id"; $0.label = "y" }
        let without = try copyWithoutRecord(train, to: bench.folder.file("old.h5"))
        XCTAssertNil(without.header.packOptions)
        XCTAssertEqual(try train.fingerprint(), try without.fingerprint())
    }

    func testCSVSplitPackedLikeTrainAloneEqualsTheFullFlags() throws {
        let bench = try PackBench()
        _ = try pack(bench, "train.csv", trainCSV, into: "train.h5") {
            $0.id = "id"; $0.label = "y"; $0.padding = .post; $0.truncating = .post; $0.maxlen = 2; $0.normalize = true; $0.value = -1; $0.compression = 4
        }
        let train = bench.folder.file("train.h5")
        let (alone, report) = try pack(bench, "valid.csv", validCSV, into: "alone.h5") { $0.like = train }
        let (flags, _) = try pack(bench, "valid.csv", validCSV, into: "flags.h5") {
            $0.like = train; $0.id = "id"; $0.label = "y"; $0.features = ["a", "b"]; $0.padding = .post; $0.truncating = .post
            $0.maxlen = 2; $0.normalize = true; $0.value = -1; $0.compression = 4
        }
        try assertSameDataset(alone, flags)
        XCTAssertEqual(alone.header.length, 2)
        XCTAssertEqual(alone.header.padding, .post)
        XCTAssertNotNil(alone.header.normalization)
        XCTAssertEqual(try record(alone), try record(flags))
        XCTAssertTrue(report.contains { $0.contains("1 truncated (post)") }, "\(report)")
    }

    func testCSVForecastSplitWithoutIdReusesTargetHorizonAndLength() throws {
        let series = (0..<23).map { "\($0),\(Double($0) * 0.5),\($0 % 3)" }.joined(separator: "\n")
        let bench = try PackBench()
        _ = try pack(bench, "train.csv", "t,v,w\n" + series + "\n", into: "train.h5") {
            $0.target = ["v"]; $0.horizon = 2; $0.length = 5; $0.normalize = true
        }
        let train = bench.folder.file("train.h5")
        let valid = "t,v,w\n" + (0..<13).map { "\($0),\(Double($0) * 0.25),\($0 % 2)" }.joined(separator: "\n") + "\n"
        let (alone, _) = try pack(bench, "valid.csv", valid, into: "alone.h5") { $0.like = train }
        let (flags, _) = try pack(bench, "valid.csv", valid, into: "flags.h5") {
            $0.like = train; $0.target = ["v"]; $0.horizon = 2; $0.length = 5; $0.normalize = true
        }
        try assertSameDataset(alone, flags)
        XCTAssertEqual(alone.header.targetOrigin?.horizon, 2)
        XCTAssertEqual(alone.header.length, 5)
    }

    func testJSONLinesSplitPackedLikeTrainAloneEqualsTheFullFlags() throws {
        let bench = try PackBench()
        let train = "{\"x\": [1, 2, 3, 4], \"y\": 1}\n{\"x\": [2, 5], \"y\": 0}\n{\"x\": [3, 3, 1], \"y\": 2}\n"
        _ = try pack(bench, "train.jsonl", train, into: "train.h5") { $0.maxlen = 3; $0.padding = .post; $0.truncating = .post; $0.value = 9 }
        let path = bench.folder.file("train.h5")
        let valid = "{\"x\": [5, 4, 3, 2, 1], \"y\": 2}\n{\"x\": [1], \"y\": 0}\n"
        let (alone, _) = try pack(bench, "valid.jsonl", valid, into: "alone.h5") { $0.like = path }
        let (flags, _) = try pack(bench, "valid.jsonl", valid, into: "flags.h5") {
            $0.like = path; $0.maxlen = 3; $0.padding = .post; $0.truncating = .post; $0.value = 9
        }
        try assertSameDataset(alone, flags)
        XCTAssertEqual(alone.header.length, 3)
        XCTAssertEqual(try alone.readRows(0..<2).tokens, [5, 4, 3, 1, 9, 9])
    }

    func testTextSplitPackedLikeTrainAloneEqualsTheFullFlags() throws {
        let bench = try PackBench()
        _ = try pack(bench, "train.txt", "the quick brown fox jumps", into: "train.h5") { $0.length = 7; $0.padding = .post }
        let path = bench.folder.file("train.h5")
        let (alone, _) = try pack(bench, "valid.txt", "the brown fox", into: "alone.h5") { $0.like = path }
        let (flags, _) = try pack(bench, "valid.txt", "the brown fox", into: "flags.h5") { $0.like = path; $0.length = 7; $0.padding = .post }
        try assertSameDataset(alone, flags)
        XCTAssertEqual(alone.header.length, 7)
        XCTAssertEqual(alone.header.padding, .post)
    }

    func testFlagContradictingTheRecordIsRefusedNamingBothValues() throws {
        let bench = try PackBench()
        _ = try pack(bench, "train.csv", trainCSV, into: "train.h5") { $0.id = "id"; $0.label = "y"; $0.padding = .post }
        let train = bench.folder.file("train.h5")
        let cases: [(String, (inout PackOptions) -> Void, [String])] = [
            ("padding", { $0.padding = .pre }, ["--padding pre", "padding post"]),
            ("maxlen", { $0.maxlen = 3 }, ["--maxlen 3", "maxlen none"]),
            ("value", { $0.value = 2 }, ["--value 2", "value 0"]),
            ("horizon", { $0.horizon = 0; $0.target = ["y"]; $0.label = nil }, ["--target y", "target none"]),
            ("features", { $0.features = ["b"] }, ["--features b", "features a,b"]),
            ("compression", { $0.compression = 0 }, ["--compression 0", "compression 1"]),
            ("normalize", { $0.normalize = true }, ["--normalize", "normalize false"]),
            ("format", { $0.format = .jsonl }, ["--format jsonl", "format csv"]),
        ]
        for (name, configure, fragments) in cases {
            try bench.assertFails("valid.csv", validCSV, { $0.like = train; configure(&$0) },
                                  containing: fragments + ["\(train)'s pack_options", "drop the flag"])
            _ = name
        }
        // Given and equal to the record: fine.
        XCTAssertNoThrow(try pack(bench, "valid.csv", validCSV, into: "v.h5") { $0.like = train; $0.padding = .post; $0.id = "id"; $0.compression = 1 })
    }

    func testUnlabelledSplitReusesOnlyTheInputsOptions() throws {
        let bench = try PackBench()
        _ = try pack(bench, "train.csv", trainCSV, into: "train.h5") { $0.id = "id"; $0.label = "y"; $0.padding = .post; $0.normalize = true }
        let train = bench.folder.file("train.h5")
        let inputsOnly = "id,a,b\n7,0.5,1\n7,0.9,2\n8,0.1,3\n"
        let (reader, report) = try pack(bench, "new.csv", inputsOnly, into: "new.h5") { $0.like = train }
        XCTAssertEqual(reader.header.task, .unlabelled)
        XCTAssertEqual(reader.header.padding, .post)
        XCTAssertEqual(reader.header.features, 2)
        XCTAssertNotNil(reader.header.normalization)
        XCTAssertTrue(report.contains { $0.contains("label column 'y' is not in") }, "\(report)")
        let own = try record(reader)
        XCTAssertNil(own.label)
        XCTAssertEqual(own.features, ["a", "b"])
        // A split that has the label column keeps its targets, though a flag equal to the record
        // is given; --no-targets packs its inputs only.
        let (named, _) = try pack(bench, "valid.csv", validCSV, into: "named.h5") { $0.like = train; $0.id = "id" }
        XCTAssertEqual(named.header.task, .binary)
        let (inputs, said) = try pack(bench, "valid.csv", validCSV, into: "inputs.h5") { $0.like = train; $0.noTargets = true }
        XCTAssertEqual(inputs.header.task, .unlabelled)
        XCTAssertEqual(inputs.header.features, 2, "the record's features, a and b")
        XCTAssertTrue(said.contains { $0.contains("targets: none (--no-targets)") }, "\(said)")
        XCTAssertThrowsError(try pack(bench, "valid.csv", validCSV, into: "both.h5") { $0.like = train; $0.noTargets = true; $0.label = "y" })
        // Forecast targets likewise: no target column, no horizon.
        let series = "t,v\n" + (0..<12).map { "\($0),\($0)" }.joined(separator: "\n") + "\n"
        _ = try pack(bench, "s.csv", series, into: "s.h5") { $0.target = ["v"]; $0.horizon = 1; $0.length = 4; $0.features = ["t"] }
        let (unlabelled, _) = try pack(bench, "u.csv", "t\n" + (0..<9).map(String.init).joined(separator: "\n") + "\n", into: "u.h5") {
            $0.like = bench.folder.file("s.h5")
        }
        XCTAssertEqual(unlabelled.header.task, .unlabelled)
        XCTAssertEqual(unlabelled.header.length, 4)
        XCTAssertNil(try record(unlabelled).target)
        XCTAssertEqual(try record(unlabelled).horizon, 0)
    }

    func testFileWithoutTheRecordStillNeedsAndAcceptsTheFlags() throws {
        let bench = try PackBench()
        let (train, _) = try pack(bench, "train.csv", trainCSV, into: "train.h5") { $0.id = "id"; $0.label = "y"; $0.padding = .post }
        let old = try copyWithoutRecord(train, to: bench.folder.file("old.h5")).path
        // Without the record, --like alone does not know the columns: valid.csv is then one long series of 3 features.
        try bench.assertFails("valid.csv", validCSV, { $0.like = old }, containing: ["old.h5"])
        let (withFlags, _) = try pack(bench, "valid.csv", validCSV, into: "v.h5") { $0.like = old; $0.id = "id"; $0.label = "y"; $0.padding = .post }
        let (fromRecord, _) = try pack(bench, "valid.csv", validCSV, into: "w.h5") { $0.like = train.path }
        try assertSameDataset(withFlags, fromRecord)
    }

    func testWithoutTheRecordLikeStillRefusesTargetsThatContinueOtherFeatures() throws {
        let csv = "id,a,b\n1,1.5,5.5\n1,2.5,6.5\n1,3.5,7.5\n2,4.5,8.5\n2,5.5,9.5\n"
        let bench = try PackBench()
        let (train, _) = try pack(bench, "train.csv", csv, into: "train.h5") { $0.id = "id"; $0.target = ["a"]; $0.horizon = 1 }
        let old = try copyWithoutRecord(train, to: bench.folder.file("old.h5")).path
        try bench.assertFails("w.csv", csv, { $0.id = "id"; $0.target = ["b"]; $0.horizon = 1; $0.like = old; $0.force = true },
                              containing: ["w.csv: the targets are features 1 at 1 timestep later, but in \(old) they are features 0 at 1 timestep later"])
    }

    func testMaxlenIsRefusedInOneLineWhereRowsAreCutByLength() throws {
        let bench = try PackBench()
        try bench.assertFails("t.txt", "hello", { $0.maxlen = 3 }, containing: ["--maxlen", "text", "--length"])
        try bench.assertFails("s.csv", "a,b\n1,2\n3,4\n", { $0.maxlen = 3 }, containing: ["--maxlen", "--id", "--length"])
        XCTAssertEqual(try bench.pack("s.csv", "id,a\n1,2\n1,3\n1,4\n", { $0.maxlen = 2; $0.id = "id" }).0.header.length, 2)
        XCTAssertEqual(try bench.pack("s.jsonl", "{\"x\": [1, 2, 3], \"y\": 1}\n", { $0.maxlen = 2 }).0.header.length, 2)
    }

    /// The same dataset written without `pack_options`, as packed before it or by h5py.
    private func copyWithoutRecord(_ reader: DatasetReader, to path: String) throws -> DatasetReader {
        var header = reader.header
        header.packOptions = nil
        do {
            let writer = try DatasetWriter(path: path, header: header, compression: 1)
            try writer.append(reader.readRows(0..<header.rows))
            try writer.finish()
        }
        return try DatasetReader(path: path)
    }
}
