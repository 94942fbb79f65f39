import Pack
import Storage
import XCTest

/// Issue 2's bad inputs: each a one-line error naming file and line, column or field, and
/// nothing left behind (no output, no temporary file, an existing output untouched).
final class PackBadInputTests: XCTestCase {
    private let csvOptions: (inout PackOptions) -> Void = { $0.id = "id"; $0.label = "label" }

    func testMissingInputIsNamed() throws {
        let bench = try PackBench()
        XCTAssertThrowsError(try Packer.pack(bench.folder.file("absent.csv"), options: PackOptions(output: bench.output)) { _ in }) {
            XCTAssertEqual("\($0)", "\(bench.folder.file("absent.csv")): no such file")
        }
        XCTAssertEqual(bench.folder.contents, [])
    }

    func testEmptyInput() throws {
        try PackBench().assertFails("e.csv", "", csvOptions, containing: ["e.csv: empty input"])
    }

    func testRaggedCSVRowNamesItsLine() throws {
        try PackBench().assertFails("r.csv", "id,a,label\n1,0.5,0\n1,0.5\n", csvOptions,
                                    containing: ["r.csv: line 3: 2 fields, expected 3"])
    }

    func testNonNumericFeatureNamesLineAndColumn() throws {
        try PackBench().assertFails("n.csv", "id,a,b,label\n1,0.5,1,0\n1,abc,2,0\n", csvOptions,
                                    containing: ["n.csv: line 3, column 'a': 'abc' is not a finite number"])
    }

    func testNaNAndInfinityFeaturesAreRefused() throws {
        let bench = try PackBench()
        try bench.assertFails("nan.csv", "id,a,label\n1,0.5,0\n1,NaN,0\n", csvOptions, containing: ["line 3, column 'a': 'NaN' is not a finite number"])
        try bench.assertFails("inf.csv", "id,a,label\n1,0.5,0\n1,1e999,0\n", csvOptions, containing: ["line 3, column 'a': '1e999' is not a finite number"])
    }

    func testLabelChangingWithinASequence() throws {
        try PackBench().assertFails("l.csv", "id,a,label\n1,0.5,0\n1,0.5,1\n", csvOptions,
                                    containing: ["l.csv: line 3, column 'label': label 1 differs from 0 earlier in the same sequence (line 2)"])
    }

    func testStringLabelInCSVAndJSONLines() throws {
        let bench = try PackBench()
        try bench.assertFails("s.csv", "id,a,label\n1,0.5,cat\n", csvOptions, containing: ["s.csv: line 2, column 'label': 'cat' is not a finite number"])
        try bench.assertFails("s.jsonl", "{\"x\": [0.5], \"y\": 1}\n{\"x\": [0.5], \"y\": \"dog\"}\n",
                              containing: ["s.jsonl: line 2, field y: expected a number, found \"dog\""])
    }

    func testUnknownColumnName() throws {
        try PackBench().assertFails("u.csv", "id,a,label\n1,0.5,0\n", { $0.id = "id"; $0.label = "lable" },
                                    containing: ["u.csv: line 1: no column 'lable' (--label); columns are id, a, label"])
    }

    func testInvalidJSONNamesLineAndColumn() throws {
        try PackBench().assertFails("j.jsonl", "{\"x\": [0.5], \"y\": 1}\n{\"x\": [0.5,, \"y\": 1}\n",
                                    containing: ["j.jsonl: line 2, column 12: invalid JSON: expected a value"])
    }

    func testInconsistentFeatureWidths() throws {
        let bench = try PackBench()
        try bench.assertFails("w.jsonl", "{\"x\": [[1, 2]], \"y\": 1}\n{\"x\": [[1, 2, 3]], \"y\": 0}\n",
                              containing: ["w.jsonl: line 2, field x: 3 values per timestep, expected 2 as in line 1"])
        try bench.assertFails("w2.jsonl", "{\"x\": [[1, 2], [3]], \"y\": 1}\n",
                              containing: ["w2.jsonl: line 1, field x[1]: 1 values, expected 2 as x[0]"])
    }

    func testPerStepTargetListOfAnotherLengthThanX() throws {
        let bench = try PackBench()
        let lines = "{\"x\": [0.5, 1], \"y\": [1, 0]}\n{\"x\": [0.5, 1, 2], \"y\": [1, 0]}\n"
        try bench.assertFails("t.jsonl", lines, { $0.targetKind = .step },
                              containing: ["t.jsonl: line 2, field y: 2 targets for 3 timesteps of x"])
        try bench.assertFails("t2.jsonl", lines, containing: ["t2.jsonl: line 2, field y: its length differs from x's"])
    }

    func testCSVColumnStartingWithNaNOrInfinityIsAFeatureAndReported() throws {
        // Such a column was once not "numeric", so it silently left the default features.
        let bench = try PackBench()
        try bench.assertFails("n.csv", "a,b,y\n0.5,nan,1.5\n1.5,2.5,0.5\n", { $0.target = ["y"] },
                              containing: ["n.csv: line 2, column 'b': 'nan' is not a finite number"])
        try bench.assertFails("i.csv", "id,a,b,y\n1,-inf,0.5,1.5\n", { $0.id = "id"; $0.target = ["y"] },
                              containing: ["i.csv: line 2, column 'a': '-inf' is not a finite number"])
    }

    func testTextOfOneDistinctCharacter() throws {
        // Once refused by the dataset writer, naming the output file and num_classes 1.
        try PackBench().assertFails("a.txt", "aaaa", containing: ["a.txt: every character is 'a' (U+0061); predicting the next one needs 2 or more distinct characters"])
    }

    func testTextThatIsNotUTF8() throws {
        let bench = try PackBench()
        let path = bench.folder.file("bad.txt")
        try Data("ok\nab".utf8 + [0xFF] + Array("c".utf8)).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Packer.pack(path, options: PackOptions(output: bench.output)) { _ in }) {
            XCTAssertEqual("\($0)", "\(path): line 2, column 3: not UTF-8 (byte 0xFF)")
        }
        XCTAssertEqual(bench.folder.contents, ["bad.txt"])
    }

    func testCharacterOrClassThatLikeDoesNotKnow() throws {
        let bench = try PackBench()
        try bench.pack("train.txt", "abc")
        let train = bench.folder.file("train.h5")
        try FileManager.default.moveItem(atPath: bench.output, toPath: train)
        try bench.assertFails("val.txt", "baz", { $0.like = train }, containing: ["val.txt: line 1, column 3: character 'z' (U+007A) is not in the vocabulary of \(train)"])

        try bench.pack("classes.jsonl", "{\"x\": [0.5], \"y\": 2}\n{\"x\": [0.5], \"y\": 0}\n")
        let classes = bench.folder.file("classes.h5")
        try FileManager.default.moveItem(atPath: bench.output, toPath: classes)
        try bench.assertFails("test.jsonl", "{\"x\": [0.5], \"y\": 1}\n{\"x\": [0.5], \"y\": 3}\n", { $0.like = classes },
                              containing: ["test.jsonl: line 2, field y: 3 is not a class from 0 to 2"])
    }

    func testMaxlenOfZeroOrLess() throws {
        try PackBench().assertFails("m.jsonl", "{\"x\": [0.5], \"y\": 1}\n", { $0.maxlen = 0 }, containing: ["--maxlen must be 1 or more, not 0"])
    }

    func testOutputFolderThatDoesNotExist() throws {
        let bench = try PackBench()
        let input = try bench.folder.write("o.jsonl", "{\"x\": [0.5], \"y\": 1}\n")
        let output = bench.folder.file("missing/out.h5")
        XCTAssertThrowsError(try Packer.pack(input, options: PackOptions(output: output)) { _ in }) {
            XCTAssertEqual("\($0)", "\(output): output folder \(bench.folder.file("missing")) does not exist")
        }
        XCTAssertEqual(bench.folder.contents, ["o.jsonl"])
    }

    func testExistingOutputIsRefusedAndUntouchedWithoutForce() throws {
        let bench = try PackBench()
        try "precious".write(toFile: bench.output, atomically: false, encoding: .utf8)
        try bench.assertFails("x.jsonl", "{\"x\": [0.5], \"y\": 1}\n", containing: ["out.h5: already exists (pass --force to replace it)"])
    }

    func testFailureWhileWritingRemovesTheTemporaryFileAndKeepsTheOldOutput() throws {
        let bench = try PackBench()
        try "precious".write(toFile: bench.output, atomically: false, encoding: .utf8)
        // The bad value is on the last line: the first pass accepts it, the second fails mid-write.
        try bench.assertFails("late.csv", "id,a,label\n1,0.5,0\n2,0.5,1\n2,oops,1\n", { $0.id = "id"; $0.label = "label"; $0.force = true },
                              containing: ["late.csv: line 4, column 'a': 'oops' is not a finite number"])
    }
}
