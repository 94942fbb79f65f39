import Pack
import Storage
import XCTest

/// Datasets without targets (docs/datasets.md): input with no `y`, `--label` or `--target` packs
/// into a file with no `/targets`, task "none" and no `target_kind`, saying so; its inputs are the
/// labelled file's, and readers accept it.
final class PackWithoutTargetsTests: XCTestCase {
    private let sequencesCSV = """
        id,a,b,label
        s1,1.5,10,0
        s1,2.5,20,0
        s2,3.5,30,1
        s3,4.5,40,1
        s3,5.5,50,1
        s3,6.5,60,1

        """

    /// The file has no /targets, task "none" and no target_kind; the header says the same.
    private func assertWithoutTargets(_ reader: DatasetReader, file: StaticString = #filePath, line: UInt = #line) throws {
        let h5 = try H5File(path: reader.path, mode: .readOnly)
        XCTAssertFalse(try h5.exists("/targets"), "a /targets dataset", file: file, line: line)
        XCTAssertEqual(try h5.attribute("task"), .string("none"), file: file, line: line)
        XCTAssertNil(try h5.attribute("target_kind"), file: file, line: line)
        XCTAssertNil(try h5.attribute("num_classes"), file: file, line: line)
        XCTAssertEqual(reader.header.task, .unlabelled, file: file, line: line)
        XCTAssertEqual([reader.header.targetWidth, reader.header.numClasses, reader.header.targetsPerRow], [0, 0, 0], file: file, line: line)
        XCTAssertNil(reader.header.targetOrigin, file: file, line: line)
    }

    private func assertSaysSo(_ report: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(report.contains { $0.hasPrefix("targets: none") }, "\(report)", file: file, line: line)
        XCTAssertTrue(report.contains { $0.hasPrefix("task: none") && $0.contains("no /targets") }, "\(report)", file: file, line: line)
    }

    func testJSONLinesWithoutYHasTheLabelledFilesInputsAndNoTargets() throws {
        let x = [#"[[1, 0.5], [2, 1.5]]"#, #"[[3, 2.5]]"#, #"[[4, 3.5], [5, 4.5], [6, 5.5]]"#]
        let bench = try PackBench()
        let (reader, report) = try bench.pack("u.jsonl", x.map { #"{"x": \#($0)}"# }.joined(separator: "\n") + "\n") { $0.maxlen = 2 }
        try assertWithoutTargets(reader)
        assertSaysSo(report)
        XCTAssertEqual([reader.header.rows, reader.header.length, reader.header.features], [3, 2, 2])
        let rows = try reader.readRows(0..<3)
        XCTAssertTrue(rows.classTargets.isEmpty && rows.valueTargets.isEmpty)

        let labelled = try bench.pack("l.jsonl", x.map { #"{"x": \#($0), "y": 1.5}"# }.joined(separator: "\n") + "\n") {
            $0.maxlen = 2; $0.output = bench.folder.file("labelled.h5")
        }.0.readRows(0..<3)
        XCTAssertEqual(rows.lengths, labelled.lengths)
        XCTAssertEqual(rows.features, labelled.features)
    }

    func testJSONLinesTokensWithoutY() throws {
        let bench = try PackBench()
        let (reader, report) = try bench.pack("t.jsonl", "{\"x\": [3, 1, 7]}\n{\"x\": [2]}\n")
        try assertWithoutTargets(reader)
        assertSaysSo(report)
        XCTAssertEqual(reader.header.inputKind, .tokens)
        XCTAssertEqual(reader.header.vocabSize, 8)
        XCTAssertEqual(try reader.readRows(0..<2).tokens, [3, 1, 7, 0, 0, 2])
    }

    func testJSONLinesWithYOnSomeLinesOnlyIsRefusedNamingBothLines() throws {
        let bench = try PackBench()
        try bench.assertFails("m.jsonl", "{\"x\": [0.5], \"y\": 1}\n{\"x\": [1.5]}\n",
                              containing: ["m.jsonl: line 2: no \"y\" field, but line 1 has one"])
        try bench.assertFails("n.jsonl", "{\"x\": [0.5]}\n{\"x\": [1.5], \"y\": 1}\n",
                              containing: ["n.jsonl: line 2: a \"y\" field, but line 1 has none"])
    }

    func testTaskClassesAndTargetKindNeedTargets() throws {
        let bench = try PackBench()
        try bench.assertFails("a.jsonl", "{\"x\": [0.5]}\n", { $0.task = .regression }, containing: ["--task: ", "has no targets"])
        try bench.assertFails("b.jsonl", "{\"x\": [0.5]}\n", { $0.numClasses = 3 }, containing: ["--num-classes: ", "has no targets"])
        try bench.assertFails("c.jsonl", "{\"x\": [0.5]}\n", { $0.targetKind = .step }, containing: ["--target-kind", "no targets"])
        try bench.assertFails("d.csv", sequencesCSV, { $0.id = "id"; $0.targetKind = .row }, containing: ["--target-kind row needs targets"])
        try bench.assertFails("e.csv", sequencesCSV, { $0.horizon = 1 }, containing: ["--horizon needs --target"])
    }

    func testCSVWithIdWithoutLabelOrTarget() throws {
        let bench = try PackBench()
        let (reader, report) = try bench.pack("s.csv", sequencesCSV) { $0.id = "id"; $0.features = ["a", "b"] }
        try assertWithoutTargets(reader)
        assertSaysSo(report)
        XCTAssertEqual(reader.header.stream, .independent)
        let rows = try reader.readRows(0..<3)
        XCTAssertEqual(rows.lengths, [2, 1, 3])
        XCTAssertEqual(rows.features, [0, 0, 1.5, 10, 2.5, 20,  0, 0, 0, 0, 3.5, 30,  4.5, 40, 5.5, 50, 6.5, 60])

        // Without --features: every other numeric column, the label column included (nothing
        // says it is a label).
        let (all, allReport) = try bench.pack("s.csv", sequencesCSV) { $0.id = "id" }
        XCTAssertEqual(all.header.features, 3)
        XCTAssertTrue(allReport.contains { $0.contains("features: a, b, label") }, "\(allReport)")
    }

    func testCSVWithoutIdIsAContiguousSeriesOfEveryTimestep() throws {
        let csv = "x\n" + (0..<7).map { "\($0).5" }.joined(separator: "\n") + "\n"
        let bench = try PackBench()
        let (reader, report) = try bench.pack("c.csv", csv) { $0.length = 3 }
        try assertWithoutTargets(reader)
        assertSaysSo(report)
        XCTAssertEqual(reader.header.stream, .contiguous)
        let rows = try reader.readRows(0..<3)
        XCTAssertEqual(rows.lengths, [3, 3, 1])
        XCTAssertEqual(rows.features, [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 0, 0, 6.5])

        // The labelled --horizon 1 pack of the same series drops the last timestep.
        let labelled = try bench.pack("c.csv", csv) { $0.length = 3; $0.target = ["x"]; $0.horizon = 1; $0.output = bench.folder.file("l.h5") }.0
        XCTAssertEqual(try labelled.readRows(0..<2).lengths, [3, 3])
    }

    func testLikeALabelledFileKeepsItsVocabularyAndInputStatisticsOnly() throws {
        let bench = try PackBench()
        let training = bench.folder.file("train.h5")
        try bench.pack("train.jsonl", "{\"x\": [[1, 10], [2, 20]], \"y\": [0.5, 1.5]}\n{\"x\": [[3, 30]], \"y\": [2.5]}\n") {
            $0.normalize = true; $0.output = training
        }
        let trained = try DatasetReader(path: training).header.normalization!
        let (reader, report) = try bench.pack("new.jsonl", "{\"x\": [[4, 40], [5, 50]]}\n") { $0.like = training }
        try assertWithoutTargets(reader)
        assertSaysSo(report)
        XCTAssertEqual(reader.header.normalization, Normalization(inputsMean: trained.inputsMean, inputsStd: trained.inputsStd, targetsMean: [], targetsStd: []))
        XCTAssertEqual(try reader.readRows(0..<1).features.map { Double($0) },
                       [4, 40, 5, 50].enumerated().map { Double(Float(($1 - trained.inputsMean[$0 % 2]) / trained.inputsStd[$0 % 2])) })

        // And a file without targets gives no task to a labelled split.
        try bench.assertFails("l.jsonl", "{\"x\": [[4, 40]], \"y\": 1}\n", { $0.like = bench.output; $0.output = bench.folder.file("x.h5") },
                              containing: ["has targets, but", "has none (task none)"])
    }

    func testTextAlwaysHasTargets() throws {
        let (reader, _) = try PackBench().pack("t.txt", "hello") { $0.length = 2 }
        XCTAssertEqual(reader.header.task, .multiclass)
    }

    func testReadersRefuseTargetsInAFileWithoutThem() throws {
        let bench = try PackBench()
        let path: String = try { try bench.pack("u.jsonl", "{\"x\": [0.5, 1.5]}\n").0.path }()
        try { let file = try H5File(path: path, mode: .readWrite)
              try file.createDataset("/targets", of: Float.self, shape: [1]).write([Float(1)]) }()
        XCTAssertThrowsError(try DatasetReader(path: path)) {
            XCTAssertTrue("\($0)".contains("dataset /targets in a file whose task is 'none' (no targets)"), "\($0)")
        }
    }

    func testFingerprintOfAFileWithoutTargetsAndOfLabelledFilesAsBefore() throws {
        let bench = try PackBench()
        let (unlabelled, _) = try bench.pack("u.jsonl", "{\"x\": [0.5, 1.5]}\n{\"x\": [2.5]}\n")
        XCTAssertEqual(try unlabelled.fingerprint().count, 64)
        // Pinned by the code before datasets without targets (a checkpoint's dataset_fingerprint): files with targets hash as they did.
        let (labelled, _) = try bench.pack("l.jsonl", "{\"x\": [0.5, 1.5], \"y\": 1}\n{\"x\": [2.5], \"y\": 0}\n") { $0.output = bench.folder.file("l.h5") }
        XCTAssertEqual(try labelled.fingerprint(), Self.labelledFingerprint)
        XCTAssertNotEqual(try unlabelled.fingerprint(), try labelled.fingerprint())
    }

    static let labelledFingerprint = "7258648702b0a35fb404617142f15538604fd06d7b2cdabaef3e792c70994e01"
}
