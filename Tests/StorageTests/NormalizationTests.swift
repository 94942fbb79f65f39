import Storage
import TestSupport
import XCTest

final class NormalizationTests: XCTestCase {
    private let statistics = Normalization(inputsMean: [1000, -2], inputsStd: [50, 0.25], targetsMean: [1000], targetsStd: [50])

    private func header(_ normalization: Normalization?) -> DatasetHeader {
        DatasetHeader(rows: 1, length: 2, inputKind: .features, features: 2, vocabSize: 0, vocab: [],
                      targetKind: .step, task: .regression, numClasses: 0, targetWidth: 1,
                      padding: .pre, stream: .independent, source: "unit", normalization: normalization)
    }

    private func write(_ header: DatasetHeader, to path: String) throws {
        let writer = try DatasetWriter(path: path, header: header, compression: 0)
        try writer.append(RowBlock(header: header, start: 0, count: 1))
        try writer.finish()
    }

    func testStatisticsRoundTripThroughDatasetsAndCheckpoints() throws {
        let folder = try makeTemporaryFolder()
        try write(header(statistics), to: folder.file("d.h5"))
        XCTAssertEqual(try DatasetReader(path: folder.file("d.h5")).header.normalization, statistics)
        try write(header(nil), to: folder.file("plain.h5"))
        XCTAssertNil(try DatasetReader(path: folder.file("plain.h5")).header.normalization)

        try Checkpoint(attributes: ["epoch": .int(0)], normalization: statistics).write(to: folder.file("c.h5"))
        let checkpoint = try Checkpoint(path: folder.file("c.h5"))
        XCTAssertEqual(checkpoint.normalization, statistics)
        XCTAssertTrue(checkpoint.tensors.isEmpty, "the statistics are not model tensors: \(checkpoint.tensors.keys)")
    }

    func testApplyAndInvertAreZScoresBothWays() {
        let inputs: [Double] = [1050, -1.5, 900, -2]  // rows of 2 features
        XCTAssertEqual(inputs.indices.map { statistics.normalizedInput(inputs[$0], feature: $0 % 2) }, [1, 2, -2, 0])
        XCTAssertEqual([statistics.originalTarget(1, column: 0), statistics.originalTarget(-0.5, column: 0)], [1050, 975])
        XCTAssertEqual(statistics.normalizedTarget(975, column: 0), -0.5)
    }

    func testStatisticsThatDoNotFitTheDatasetOrAreNotPositiveAreRefused() throws {
        let folder = try makeTemporaryFolder()
        var wrongWidth = statistics
        wrongWidth.inputsMean = [0]
        wrongWidth.inputsStd = [1]
        XCTAssertThrowsError(try write(header(wrongWidth), to: folder.file("w.h5"))) { error in
            XCTAssertTrue("\(error)".contains("expected 2 and 1"), "\(error)")
        }
        var zeroStd = statistics
        zeroStd.targetsStd = [0]
        try write(header(nil), to: folder.file("z.h5"))
        do {
            let file = try H5File(path: folder.file("z.h5"), mode: .readWrite)
            try zeroStd.write(to: file)
        }
        XCTAssertThrowsError(try DatasetReader(path: folder.file("z.h5"))) { error in
            XCTAssertTrue("\(error)".contains("/normalization/targets_std[0]: 0.0 is not a finite number above 0"), "\(error)")
        }
    }
}
