import Foundation
import Storage
import TestSupport
import XCTest

/// The writer behind `predict` and `forecast`; the commands' own outputs are checked in
/// CLITests (EvaluateCommandTests, ForecastCommandTests) and Tests/python.
final class RowOutputFileTests: XCTestCase {
    /// Rows 2 and 0 of a [3, 2, 2] output, in that order; row 1 is never written.
    private func write(_ path: String, _ format: RowOutputFile.Format, force: Bool = false,
                       lines: RowOutputFile.CSVLines = .perIndex(column: "h", first: 1) { $0 == 2 ? 1 ..< 2 : 0 ..< 2 }) throws {
        try RowOutputFile.write(to: path, format: format, force: force, dataset: "forecast", shape: [3, 2, 2]) { file in
            for row in [2, 0] {
                let values = (0 ..< 4).map { Float(row * 10 + $0) + 0.5 }
                try values.withUnsafeBufferPointer { try file.write($0, row: row) }
            }
        } csvLines: { lines }
    }

    func testRowsWrittenInAnyOrderComeBackInRowOrderWithZerosForRowsNeverWritten() throws {
        let folder = try makeTemporaryFolder()
        try write(folder.file("out.h5"), .h5)
        let dataset = try H5File(path: folder.file("out.h5"), mode: .readOnly).dataset("forecast")
        XCTAssertEqual(try dataset.shape, [3, 2, 2])
        XCTAssertEqual(try dataset.read(as: Float.self), [0.5, 1.5, 2.5, 3.5, 0, 0, 0, 0, 20.5, 21.5, 22.5, 23.5])

        try write(folder.file("out.csv"), .csv)
        XCTAssertEqual(try String(contentsOfFile: folder.file("out.csv"), encoding: .utf8),
                       "row,h,p0,p1\n0,1,0.5,1.5\n0,2,2.5,3.5\n1,1,0.0,0.0\n1,2,0.0,0.0\n2,2,22.5,23.5\n")
        XCTAssertEqual(folder.contents, ["out.csv", "out.h5"], "no temporary or scratch file is left")
    }

    func testAnExistingOutputIsRefusedWithoutForceAndLeftAsItWas() throws {
        let folder = try makeTemporaryFolder()
        let output = try folder.write("out.csv", "old")
        XCTAssertThrowsError(try write(output, .csv)) {
            XCTAssertEqual("\($0)", "\(output): already exists (pass --force to replace it)")
        }
        XCTAssertEqual(try String(contentsOfFile: output, encoding: .utf8), "old")
        try write(output, .csv, force: true, lines: .perIndex(column: "t", first: 0) { _ in 0 ..< 1 })
        XCTAssertEqual(try String(contentsOfFile: output, encoding: .utf8), "row,t,p0,p1\n0,0,0.5,1.5\n1,0,0.0,0.0\n2,0,20.5,21.5\n")
        XCTAssertEqual(folder.contents, ["out.csv"])
    }
}
