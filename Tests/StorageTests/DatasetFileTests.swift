import Storage
import TestSupport
import XCTest

final class DatasetFileTests: XCTestCase {
    private func header(rows: Int = 3, length: Int = 4) -> DatasetHeader {
        DatasetHeader(rows: rows, length: length, inputKind: .features, features: 2, vocabSize: 0, vocab: [],
                      targetKind: .row, task: .multiclass, numClasses: 3, targetWidth: 3,
                      padding: .post, stream: .independent, source: "unit.csv")
    }

    func testWrittenBlocksReadBackAsTheSameRowsAndHeader() throws {
        let folder = try makeTemporaryFolder()
        let path = folder.file("d.h5")
        let header = header()
        var first = RowBlock(header: header, start: 0, count: 2)
        first.lengths = [4, 1]
        first.features = (0..<16).map(Float.init)
        first.classTargets = [2, 0]
        var second = RowBlock(header: header, start: 2, count: 1)
        second.lengths = [3]
        second.features = (100..<108).map(Float.init)
        second.classTargets = [1]
        let writer = try DatasetWriter(path: path, header: header, compression: 1)
        try writer.append(first)
        try writer.append(second)
        try writer.finish()

        let reader = try DatasetReader(path: path)
        XCTAssertEqual(reader.header, header)
        XCTAssertEqual(try reader.readLengths(), [4, 1, 3])
        let middle = try reader.readRows(1..<3)
        XCTAssertEqual(middle.start, 1)
        XCTAssertEqual(middle.lengths, [1, 3])
        XCTAssertEqual(middle.features, (8..<16).map(Float.init) + (100..<108).map(Float.init))
        XCTAssertEqual(middle.classTargets, [0, 1])
        XCTAssertEqual(middle.tokens, [])
        XCTAssertEqual(middle.valueTargets, [])
    }

    func testWriterRefusesBlocksOutOfOrderAndUnfinishedFiles() throws {
        let folder = try makeTemporaryFolder()
        let writer = try DatasetWriter(path: folder.file("d.h5"), header: header(), compression: 0)
        XCTAssertThrowsError(try writer.append(RowBlock(header: header(), start: 1, count: 1)))
        XCTAssertThrowsError(try writer.finish()) { error in
            XCTAssertTrue("\(error)".contains("0 rows written of 3"), "\(error)")
        }
    }

    /// h5py's defaults: float64 and int64 arrays, contiguous, strings as variable-length UTF-8,
    /// float targets of shape [N] for one regression value.
    func testDatasetWrittenWithH5pyDefaultTypesIsReadWithConversion() throws {
        let folder = try makeTemporaryFolder()
        let path = folder.file("h5py.h5")
        do {
            let file = try H5File(path: path, mode: .truncate)
            try file.createDataset("inputs", of: Double.self, shape: [2, 3, 1]).write([0.5, 1, 2, 3, 4, 5.25])
            try file.createDataset("lengths", of: Int64.self, shape: [2]).write([3, 2] as [Int64])
            try file.createDataset("targets", of: Double.self, shape: [2]).write([0.25, -1])
            try file.setAttribute("format", .string("lstm-dist dataset"))
            try file.setAttribute("version", .int(1))
            try file.setAttribute("padding", .string("pre"))
            try file.setAttribute("target_kind", .string("row"))
            try file.setAttribute("task", .string("regression"))
        }
        let reader = try DatasetReader(path: path)
        XCTAssertEqual(reader.header.features, 1)
        XCTAssertEqual(reader.header.targetWidth, 1)
        XCTAssertEqual(reader.header.stream, .independent)
        let rows = try reader.readRows(0..<2)
        XCTAssertEqual(rows.features, [0.5, 1, 2, 3, 4, 5.25])
        XCTAssertEqual(rows.lengths, [3, 2])
        XCTAssertEqual(rows.valueTargets, [0.25, -1])
    }

    func testOpeningAFileThatIsNotADatasetSaysSo() throws {
        let folder = try makeTemporaryFolder()
        let path = folder.file("ckpt.h5")
        try H5File(path: path, mode: .truncate).setAttribute("format", .string("lstm-dist checkpoint"))
        XCTAssertThrowsError(try DatasetReader(path: path)) { error in
            XCTAssertEqual("\(error)", "\(path): not a dataset (its format is 'lstm-dist checkpoint')")
        }
        let text = try folder.write("plain.txt", "hello")
        XCTAssertThrowsError(try DatasetReader(path: text)) { XCTAssertEqual("\($0)", "\(text): not an HDF5 file") }
        XCTAssertThrowsError(try DatasetReader(path: folder.file("none.h5"))) {
            XCTAssertEqual("\($0)", "\(folder.file("none.h5")): no such file")
        }
    }

    func testArraysWhoseShapesDisagreeAreRefusedByName() throws {
        let folder = try makeTemporaryFolder()
        let path = folder.file("bad.h5")
        do {
            let writer = try DatasetWriter(path: path, header: header(), compression: 0)
            try writer.append(RowBlock(header: header(), start: 0, count: 3))
            try writer.finish()
        }
        do {
            let file = try H5File(path: path, mode: .readWrite)
            try file.setAttribute("target_kind", .string("step"))
        }
        XCTAssertThrowsError(try DatasetReader(path: path)) {
            XCTAssertEqual("\($0)", "\(path): /targets has shape [3], expected [3, 4] for multiclass targets per step")
        }
    }

    func testMissingDatasetIsNamedInTheError() throws {
        let folder = try makeTemporaryFolder()
        let path = folder.file("partial.h5")
        let file = try H5File(path: path, mode: .truncate)
        XCTAssertThrowsError(try file.dataset("/inputs")) { XCTAssertEqual("\($0)", "\(path): dataset /inputs: not found") }
    }
}

final class TargetOriginFileTests: XCTestCase {
    /// A regression dataset per timestep with 2 features and one target that continues feature 0.
    private func write(_ path: String, origin: TargetOrigin?) throws {
        try writeFeatureDataset(path, rows: 3, length: 4, features: 2, targetKind: .step, task: .regression, targetOrigin: origin,
                                value: { row, t, f in Float(row + t + f) }, label: { row, t in Float(row + t + 1) })
    }

    func testHorizonAndTargetFeaturesReadBackAndHalfOrOutOfRangeOnesAreRefusedByName() throws {
        let folder = try makeTemporaryFolder()
        let path = folder.file("d.h5")
        try write(path, origin: TargetOrigin(horizon: 1, features: [0]))
        XCTAssertEqual(try DatasetReader(path: path).header.targetOrigin, TargetOrigin(horizon: 1, features: [0]))

        try H5File(path: path, mode: .readWrite).dataset("target_features").write([Int32(2)])
        XCTAssertThrowsError(try DatasetReader(path: path)) {
            XCTAssertEqual("\($0)", "\(path): /target_features[0] = 2 is not -1 or a feature from 0 to 1")
        }

        let horizonOnly = folder.file("horizon-only.h5")
        try write(horizonOnly, origin: nil)
        try H5File(path: horizonOnly, mode: .readWrite).setAttribute("horizon", .int(1))
        XCTAssertThrowsError(try DatasetReader(path: horizonOnly)) {
            XCTAssertEqual("\($0)", "\(horizonOnly): attribute horizon without the dataset /target_features")
        }
    }
}
