import Foundation
import Storage
import TestSupport
import XCTest

final class AtomicOutputTests: XCTestCase {
    func testBodyWritesATemporaryFileBesideTheOutputThatIsRenamedIntoPlace() throws {
        let folder = try makeTemporaryFolder()
        let output = folder.file("ckpt-00000010.h5")
        let temporary = try AtomicOutput.write(to: output, force: false) { temporary in
            XCTAssertFalse(FileManager.default.fileExists(atPath: output))
            try "new".write(toFile: temporary, atomically: false, encoding: .utf8)
            return temporary
        }
        XCTAssertEqual((temporary as NSString).lastPathComponent, ".ckpt-00000010.h5.\(getpid()).tmp", "matches .ckpt-*.tmp")
        XCTAssertEqual(try String(contentsOfFile: output, encoding: .utf8), "new")
        XCTAssertEqual(folder.contents, ["ckpt-00000010.h5"])
    }

    func testFailingBodyLeavesTheOldFileAndNoTemporary() throws {
        let folder = try makeTemporaryFolder()
        let output = try folder.write("out.h5", "old")
        struct Interrupted: Error {}
        XCTAssertThrowsError(try AtomicOutput.write(to: output, force: true) { temporary in
            try "half".write(toFile: temporary, atomically: false, encoding: .utf8)
            throw Interrupted()
        }) { XCTAssertTrue($0 is Interrupted) }
        XCTAssertEqual(try String(contentsOfFile: output, encoding: .utf8), "old")
        XCTAssertEqual(folder.contents, ["out.h5"])
    }

    func testExistingOutputNeedsForceAndMissingFolderIsNamed() throws {
        let folder = try makeTemporaryFolder()
        let output = try folder.write("out.h5", "old")
        XCTAssertThrowsError(try AtomicOutput.checkDestination(output, force: false)) {
            XCTAssertEqual("\($0)", "\(output): already exists (pass --force to replace it)")
        }
        XCTAssertNoThrow(try AtomicOutput.checkDestination(output, force: true))
        let nowhere = folder.file("no/such/out.h5")
        XCTAssertThrowsError(try AtomicOutput.checkDestination(nowhere, force: true)) {
            XCTAssertEqual("\($0)", "\(nowhere): output folder \(folder.file("no/such")) does not exist")
        }
    }
}
