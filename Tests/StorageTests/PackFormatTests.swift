import Pack
import Storage
import XCTest

/// Each input format, option and inference rule of docs/datasets.md.
final class PackFormatTests: XCTestCase {
    private let sequencesCSV = """
        id,when,a,b,label
        s1,mon,1.5,10,0
        s1,tue,2.5,20,0
        s2,wed,3.5,30,1
        s3,thu,4.5,40,1
        s3,fri,5.5,50,1
        s3,sat,6.5,60,1

        """

    func testCSVGroupsLinesByIdPrePadsAndInfersBinaryLabels() throws {
        let (reader, report) = try PackBench().pack("s.csv", sequencesCSV) { $0.id = "id"; $0.label = "label" }
        let header = reader.header
        XCTAssertEqual([header.rows, header.length, header.features], [3, 3, 2])
        XCTAssertEqual([header.task, header.targetKind, header.padding, header.stream] as [AnyHashable], [Task.binary, TargetKind.row, Padding.pre, StreamKind.independent])
        XCTAssertEqual(header.source, "s.csv")
        let rows = try reader.readRows(0..<3)
        XCTAssertEqual(rows.lengths, [2, 1, 3])
        XCTAssertEqual(rows.features, [0, 0, 1.5, 10, 2.5, 20,  0, 0, 0, 0, 3.5, 30,  4.5, 40, 5.5, 50, 6.5, 60])
        XCTAssertEqual(rows.classTargets, [0, 1, 1])
        XCTAssertTrue(report.contains { $0.contains("features: a, b (every other numeric column") }, "\(report)")
        XCTAssertTrue(report.contains { $0.hasPrefix("task: binary") }, "\(report)")
    }

    func testCSVFeaturesOptionChoosesAndOrdersColumns() throws {
        let (reader, _) = try PackBench().pack("s.csv", sequencesCSV) { $0.id = "id"; $0.label = "label"; $0.features = ["b"] }
        XCTAssertEqual(reader.header.features, 1)
        XCTAssertEqual(try reader.readRows(1..<2).features, [0, 0, 30])
    }

    func testCSVAcceptsQuotedFieldsWindowsLineEndingsAndBlankLines() throws {
        let csv = "\"id\",\"a, b\",label\r\n\"x,1\",\" 0.5 \",1\r\n\r\n\"x,1\",1.5,1\r\n"
        let (reader, _) = try PackBench().pack("q.csv", csv) { $0.id = "id"; $0.label = "label"; $0.features = ["a, b"] }
        XCTAssertEqual(reader.header.rows, 1)
        XCTAssertEqual(try reader.readRows(0..<1).features, [0.5, 1.5])
    }

    func testCSVHorizonTargetIsTheValueThatManyStepsLaterAndDropsTheLastSteps() throws {
        let csv = "id,x\n1,1.0\n1,2.0\n1,3.0\n1,4.0\n2,10.0\n2,20.0\n"
        let (reader, report) = try PackBench().pack("h.csv", csv) { $0.id = "id"; $0.target = ["x"]; $0.horizon = 1; $0.padding = .post }
        XCTAssertEqual(reader.header.task, .regression)
        XCTAssertEqual(reader.header.targetKind, .step)
        let rows = try reader.readRows(0..<2)
        XCTAssertEqual(rows.lengths, [3, 1])
        XCTAssertEqual(rows.features, [1, 2, 3, 10, 0, 0], "the target column is a default feature when forecasting")
        XCTAssertEqual(rows.valueTargets, [2, 3, 4, 20, 0, 0])
        XCTAssertTrue(report.contains { $0.contains("'x' 1 timestep ahead") }, "\(report)")
    }

    func testCSVHorizonClassesAreInferredFromTheShiftedTargetsOnly() throws {
        // Class 4 is only the first value of its sequence, which --horizon 1 makes no target:
        // it once made the task multiclass with 5 classes.
        let csv = "id,a,k\n1,0.5,4\n1,1.5,1\n1,2.5,0\n2,3.5,1\n2,4.5,1\n"
        let (reader, _) = try PackBench().pack("k.csv", csv) { $0.id = "id"; $0.target = ["k"]; $0.features = ["a"]; $0.horizon = 1 }
        XCTAssertEqual([reader.header.task.rawValue, "\(reader.header.numClasses)"], ["binary", "2"])
        XCTAssertEqual(try reader.readRows(0..<2).classTargets, [1, 0, 0, 1])
    }

    func testCSVTargetsRecordTheirHorizonAndTheFeatureEachContinuesAndLikeCopiesOrRefusesThem() throws {
        let csv = "id,a,b,k\n1,1.5,5.5,0\n1,2.5,6.5,1\n1,3.5,7.5,2\n2,4.5,8.5,0\n2,5.5,9.5,1\n2,6.5,1.5,2\n"
        let bench = try PackBench()
        func origin(_ configure: (inout PackOptions) -> Void) throws -> TargetOrigin? {
            try bench.pack("o.csv", csv) { $0.id = "id"; configure(&$0) }.0.header.targetOrigin
        }
        XCTAssertEqual(try origin { $0.target = ["b", "a"]; $0.horizon = 1 }, TargetOrigin(horizon: 1, features: [1, 0]))
        XCTAssertEqual(try origin { $0.target = ["a"]; $0.features = ["b"]; $0.horizon = 2 }, TargetOrigin(horizon: 2, features: [-1]))
        XCTAssertEqual(try origin { $0.target = ["b"] }, TargetOrigin(horizon: 0, features: [-1]), "unshifted targets are not default features")
        XCTAssertNil(try origin { $0.target = ["k"]; $0.horizon = 1 }, "classification is not forecast")

        let training = bench.folder.file("train.h5")
        _ = try bench.pack("o.csv", csv) { $0.id = "id"; $0.target = ["a"]; $0.horizon = 1; $0.output = training }
        XCTAssertEqual(try bench.pack("v.csv", csv) { $0.id = "id"; $0.target = ["a"]; $0.horizon = 1; $0.like = training }.0.header.targetOrigin,
                       TargetOrigin(horizon: 1, features: [0]))
        try bench.assertFails("w.csv", csv, { $0.id = "id"; $0.target = ["b"]; $0.horizon = 1; $0.like = training; $0.force = true },
                              containing: ["--target b contradicts \(training)'s pack_options target a"])
    }

    func testCSVWithoutIdIsOneContiguousSeriesCutIntoRowsOfLength() throws {
        let csv = "a,k\n" + (0..<7).map { "\($0).5,\($0 % 3)" }.joined(separator: "\n") + "\n"
        let (reader, _) = try PackBench().pack("c.csv", csv) { $0.target = ["k"]; $0.length = 3 }
        XCTAssertEqual(reader.header.stream, .contiguous)
        XCTAssertEqual(reader.header.task, .multiclass)
        XCTAssertEqual(reader.header.numClasses, 3)
        let rows = try reader.readRows(0..<3)
        XCTAssertEqual(rows.lengths, [3, 3, 1])
        XCTAssertEqual(rows.features, [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 0, 0, 6.5])
        XCTAssertEqual(rows.classTargets, [0, 1, 2, 0, 1, 2, 0, 0, 0])
    }

    func testJSONLinesNumbersAreFeaturesAndIntegerLabelsAboveOneAreMulticlass() throws {
        let lines = #"{"x": [[1, 0.5], [2, 1.5]], "y": 4}"# + "\n" + #"{"x": [[3, 2.5]], "y": 0, "note": "ignored"}"# + "\n"
        let (reader, _) = try PackBench().pack("m.jsonl", lines)
        XCTAssertEqual(reader.header.inputKind, .features)
        XCTAssertEqual(reader.header.task, .multiclass)
        XCTAssertEqual(reader.header.numClasses, 5)
        XCTAssertEqual(reader.header.targetWidth, 5)
        let rows = try reader.readRows(0..<2)
        XCTAssertEqual(rows.features, [1, 0.5, 2, 1.5, 0, 0, 3, 2.5])
        XCTAssertEqual(rows.classTargets, [4, 0])
    }

    func testJSONLinesIntegerInputsAreTokensWithVocabularyOfLargestIdPlusOne() throws {
        let (reader, _) = try PackBench().pack("t.jsonl", "{\"x\": [3, 1, 7], \"y\": 0.5}\n{\"x\": [2], \"y\": -1}\n")
        XCTAssertEqual(reader.header.inputKind, .tokens)
        XCTAssertEqual(reader.header.vocabSize, 8)
        XCTAssertEqual(reader.header.task, .regression)
        let rows = try reader.readRows(0..<2)
        XCTAssertEqual(rows.tokens, [3, 1, 7, 0, 0, 2])
        XCTAssertEqual(rows.valueTargets, [0.5, -1])
    }

    func testInputsOverrideMakesIntegerSequencesOneFeature() throws {
        let (reader, _) = try PackBench().pack("t.jsonl", "{\"x\": [3, 1], \"y\": 1}\n") { $0.inputs = .features }
        XCTAssertEqual(reader.header.inputKind, .features)
        XCTAssertEqual(reader.header.features, 1)
        XCTAssertEqual(try reader.readRows(0..<1).features, [3, 1])
    }

    func testJSONLinesTargetAsLongAsXIsPerTimestepUnlessOverridden() throws {
        let lines = "{\"x\": [0.5, 1.5], \"y\": [1, 0]}\n{\"x\": [2.5], \"y\": [1]}\n"
        let (perStep, _) = try PackBench().pack("s.jsonl", lines)
        XCTAssertEqual(perStep.header.targetKind, .step)
        XCTAssertEqual(perStep.header.task, .binary)
        XCTAssertEqual(try perStep.readRows(0..<2).classTargets, [1, 0, 0, 1])

        let vectors = "{\"x\": [0.5, 1.5], \"y\": [1, 0]}\n{\"x\": [2.5, 3], \"y\": [1, 1]}\n"
        let (perRow, _) = try PackBench().pack("r.jsonl", vectors) { $0.targetKind = .row }
        XCTAssertEqual(perRow.header.targetKind, .row)
        XCTAssertEqual(perRow.header.task, .regression, "a vector per row is regression")
        XCTAssertEqual(perRow.header.targetWidth, 2)
        XCTAssertEqual(try perRow.readRows(0..<2).valueTargets, [1, 0, 1, 1])
    }

    func testJSONLinesPerTimestepVectorTargets() throws {
        let (reader, _) = try PackBench().pack("v.jsonl", "{\"x\": [0.5, 1], \"y\": [[1, 2.5], [3, 4]]}\n")
        XCTAssertEqual(reader.header.targetKind, .step)
        XCTAssertEqual(reader.header.targetWidth, 2)
        XCTAssertEqual(try reader.readRows(0..<1).valueTargets, [1, 2.5, 3, 4])
    }

    func testTaskAndNumClassesOverrideTheInference() throws {
        let lines = "{\"x\": [0.5], \"y\": 1}\n{\"x\": [1.5], \"y\": 0}\n"
        XCTAssertEqual(try PackBench().pack("a.jsonl", lines) { $0.task = .regression }.0.header.task, .regression)
        let (multi, _) = try PackBench().pack("b.jsonl", lines) { $0.numClasses = 4 }
        XCTAssertEqual([multi.header.task.rawValue, "\(multi.header.numClasses)"], ["multiclass", "4"])
    }

    func testTextTokensAreSortedScalarsAndTargetsAreTheNextCharacterAcrossRows() throws {
        let (reader, report) = try PackBench().pack("t.txt", "abcab\u{e9}") { $0.length = 2; $0.padding = .post }
        let header = reader.header
        XCTAssertEqual(header.vocab, [97, 98, 99, 0xE9])
        XCTAssertEqual([header.vocabSize, header.numClasses, header.rows], [4, 4, 3])
        XCTAssertEqual(header.stream, .contiguous)
        let rows = try reader.readRows(0..<3)
        XCTAssertEqual(rows.tokens, [0, 1, 2, 0, 1, 0])
        XCTAssertEqual(rows.classTargets, [1, 2, 0, 1, 3, 0])
        XCTAssertEqual(rows.lengths, [2, 2, 1])
        XCTAssertTrue(report.contains("task: multiclass, 4 classes (one class per character)"), "\(report)")
    }

    func testMaxlenTruncatesAndPadsAsKerasPadSequences() throws {
        let lines = "{\"x\": [1.5, 2, 3, 4], \"y\": 1}\n{\"x\": [5.5], \"y\": 0}\n"
        func packed(_ truncating: Padding?, _ padding: Padding?) throws -> [Float] {
            try PackBench().pack("p.jsonl", lines) {
                $0.maxlen = 2; $0.truncating = truncating; $0.padding = padding; $0.value = -1
            }.0.readRows(0..<2).features
        }
        XCTAssertEqual(try packed(nil, nil), [3, 4, -1, 5.5], "defaults: truncate and pad at the start")
        XCTAssertEqual(try packed(.post, .post), [1.5, 2, 5.5, -1])
    }


    func testMaxlenTruncatesPerTimestepTargetsWithTheirOwnRowOnly() throws {
        // A dropped timestep's target once landed in another row's per-row slot.
        let lines = "{\"x\": [1, 2, 3, 4], \"y\": [10.5, 20, 30, 40]}\n{\"x\": [5], \"y\": [50.5]}\n" +
            "{\"x\": [6, 7, 8], \"y\": [[60.5], [70], [80]]}\n"
        func packed(_ truncating: Padding, _ padding: Padding) throws -> [Float] {
            try PackBench().pack("t.jsonl", lines) {
                $0.maxlen = 2; $0.truncating = truncating; $0.padding = padding; $0.inputs = .features; $0.targetKind = .step
            }.0.readRows(0..<3).valueTargets
        }
        XCTAssertEqual(try packed(.pre, .pre), [30, 40, 0, 50.5, 70, 80])
        XCTAssertEqual(try packed(.post, .post), [10.5, 20, 50.5, 0, 60.5, 70])
    }
    func testDecimalsRoundOnceToTheNearestFloat() throws {
        // 1 + 2^-24 is halfway between the Floats 1 and 1 + 2^-23, and the Double nearest to
        // each decimal below: rounding that Double again (to even) gave 1 for both.
        let lines = #"{"x": [1.0000000596046447753906250001, 1.0000000596046447753906249999, -1.0000000596046447753906250001], "y": 0.5}"#
        let (reader, _) = try PackBench().pack("r.jsonl", lines + "\n")
        XCTAssertEqual(try reader.readRows(0..<1).features, [1 + 0x1p-23, 1, -1 - 0x1p-23])
        let csv = "a,y\n1.0000000596046447753906250001,0.5\n"
        XCTAssertEqual(try PackBench().pack("r.csv", csv) { $0.target = ["y"] }.0.readRows(0..<1).features, [1 + 0x1p-23])
    }

    func testLikeReusesTheTrainingVocabularyAndTask() throws {
        let bench = try PackBench()
        try bench.pack("train.txt", "abcd")
        let train = bench.folder.file("train.h5")
        try FileManager.default.moveItem(atPath: bench.output, toPath: train)
        let (reader, _) = try bench.pack("val.txt", "dcb") { $0.like = train }
        XCTAssertEqual(reader.header.vocab, [97, 98, 99, 100])
        XCTAssertEqual(reader.header.numClasses, 4)
        XCTAssertEqual(try reader.readRows(0..<1).tokens, [3, 2])
    }

    func testCompressedAndUncompressedFilesHoldTheSameRows() throws {
        let lines = (0..<50).map { "{\"x\": [\(Array(repeating: "\($0).25", count: $0 % 7 + 1).joined(separator: ","))], \"y\": \($0 % 2)}" }.joined(separator: "\n")
        let plain = try PackBench().pack("z.jsonl", lines) { $0.compression = 0 }.0.readRows(0..<50)
        let packed = try PackBench().pack("z.jsonl", lines) { $0.compression = 9 }.0.readRows(0..<50)
        XCTAssertEqual(plain.features, packed.features)
        XCTAssertEqual(plain.lengths, packed.lengths)
    }

    func testExistingOutputIsReplacedWithForce() throws {
        let bench = try PackBench()
        try bench.pack("a.jsonl", "{\"x\": [0.5], \"y\": 1}\n")
        let (reader, _) = try bench.pack("b.jsonl", "{\"x\": [0.5, 1], \"y\": 1}\n{\"x\": [1.5], \"y\": 1}\n") { $0.force = true }
        XCTAssertEqual(reader.header.rows, 2)
        XCTAssertEqual(bench.folder.contents, ["a.jsonl", "b.jsonl", "out.h5"])
    }
}
