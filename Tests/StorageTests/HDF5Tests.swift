import CHDF5
import Storage
import TestSupport
import XCTest

final class HDF5Tests: XCTestCase {
    func testAttributesRoundTripAsInt64Float64AndUTF8Strings() throws {
        let folder = try makeTemporaryFolder()
        let file = try H5File(path: folder.file("a.h5"), mode: .truncate)
        let group = try file.createGroup("/model/lstm_0")
        try group.setAttribute("units", .int(-7))
        try group.setAttribute("loss", .double(0.125))
        try group.setAttribute("name", .string("naïve ✓"))
        try group.setAttribute("units", .int(8))
        XCTAssertEqual(try file.group("model/lstm_0").attribute("units"), .int(8))
        XCTAssertEqual(try group.attribute("loss"), .double(0.125))
        XCTAssertEqual(try group.attribute("name"), .string("naïve ✓"))
        XCTAssertNil(try group.attribute("absent"))
    }

    func testHyperslabWritesAndReadsOfRowRangesMeetInTheMiddle() throws {
        let folder = try makeTemporaryFolder()
        let file = try H5File(path: folder.file("r.h5"), mode: .truncate)
        let dataset = try file.createDataset("/g/x", of: Float.self, shape: [4, 2], chunks: [3, 2], compression: 4)
        try [Float](repeating: 1, count: 4).withUnsafeBufferPointer { try dataset.write($0, rowsFrom: 0) }
        try [Float](repeating: 2, count: 4).withUnsafeBufferPointer { try dataset.write($0, rowsFrom: 2) }
        XCTAssertEqual(try dataset.read(rows: 1..<3, as: Float.self), [1, 1, 2, 2])
        XCTAssertEqual(try dataset.read(as: Int32.self), [1, 1, 1, 1, 2, 2, 2, 2])
        XCTAssertThrowsError(try dataset.read(rows: 3..<5, as: Float.self)) {
            XCTAssertTrue("\($0)".contains("dataset /g/x: rows 3..<5 outside 0..<4"), "\($0)")
        }
    }

    func testFixedLengthStringAttributeIsReadWithoutPadding() throws {
        let folder = try makeTemporaryFolder()
        let path = folder.file("fixed.h5")
        // Written through the C API: Storage itself only writes variable-length strings.
        let file = H5Fcreate(path, lstm_h5f_acc_trunc(), hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT))
        let type = H5Tcopy(lstm_h5t_c_s1())
        H5Tset_size(type, 24)
        H5Tset_strpad(type, H5T_STR_NULLPAD)
        let space = H5Screate(H5S_SCALAR)
        let attribute = H5Acreate2(file, "format", type, space, hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT))
        var bytes = [UInt8]("lstm-dist dataset".utf8) + [UInt8](repeating: 0, count: 7)
        XCTAssertGreaterThanOrEqual(H5Awrite(attribute, type, &bytes), 0)
        [H5Aclose(attribute), H5Sclose(space), H5Tclose(type), H5Fclose(file)].forEach { XCTAssertGreaterThanOrEqual($0, 0) }
        XCTAssertEqual(try H5File(path: path, mode: .readOnly).attribute("format"), .string("lstm-dist dataset"))
    }

    func testEveryDataspaceDatatypePropertyListAndAttributeOpenedIsClosedAgainAlsoOnFailure() throws {
        let folder = try makeTemporaryFolder()
        let path = folder.file("ids.h5")
        // HDF5 numbers the ids of each kind in sequence: a fresh id of each kind before and after
        // bounds every id of that kind the operations below were given, and none may still be open.
        func freshIDs() -> [hid_t] {
            let ids = [H5Screate(H5S_SCALAR), H5Tcopy(lstm_h5t_c_s1()), H5Pcreate(lstm_h5p_dataset_create())]
            [H5Sclose(ids[0]), H5Tclose(ids[1]), H5Pclose(ids[2])].forEach { XCTAssertGreaterThanOrEqual($0, 0) }
            return ids
        }
        let before = freshIDs()
        let file = try H5File(path: path, mode: .truncate)
        let dataset = try file.createDataset("/g/x", of: Float.self, shape: [4, 2], compression: 4)
        try dataset.write([Float](repeating: 1, count: 8))
        try dataset.setAttribute("name", .string("x"))
        try dataset.setAttribute("count", .int(8))
        XCTAssertThrowsError(try file.createDataset("/g/x", of: Float.self, shape: [2], compression: 4))  // exists
        XCTAssertEqual(try dataset.read(rows: 1..<3, as: Float.self), [1, 1, 1, 1])
        XCTAssertEqual(try dataset.elementKind, .float)
        XCTAssertEqual(try dataset.attribute("name"), .string("x"))
        XCTAssertEqual(try dataset.attribute("count"), .int(8))
        XCTAssertThrowsError(try dataset.read(rows: 3..<5, as: Float.self))
        let after = freshIDs()
        for (first, last) in zip(before, after) {
            XCTAssertGreaterThan(last - first, 1, "the operations made ids of this kind")
            let open = (first + 1..<last).filter { H5Iis_valid($0) > 0 }
            XCTAssertEqual(open, [], "ids of type \(H5Iget_type(first)) still open")
        }
        let allFiles = hid_t(H5F_OBJ_FILE | H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR)  // H5F_OBJ_ALL
        XCTAssertEqual(H5Fget_obj_count(allFiles, UInt32(H5F_OBJ_ATTR)), 0, "attributes still open")
    }
}
