import Comm
import Foundation
import XCTest

/// MPI in this test process, as a singleton of size 1: initialised once, never finalised (MPI
/// cannot start again in the same process), by the first test that needs it (Swift runs a global's
/// initializer once, whichever thread asks first).
nonisolated(unsafe) private let world = Result { () throws -> MPICommunicator in
    if geteuid() == 0 {  // OpenMPI's runtime refuses root without both
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0)
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0)
    }
    return try MPICommunicator()
}

final class MPICommunicatorTests: XCTestCase {
    func testAnErrorMPIReturnsIsThrownNamingTheCallInsteadOfAbortingTheProcess() throws {
        let comm = try world.get()
        var byte: UInt8 = 7
        // Rank 1 does not exist in a world of one: MPI reports MPI_ERR_ROOT. OpenMPI's default
        // handler (MPI_ERRORS_ARE_FATAL) would have ended this test process here.
        XCTAssertThrowsError(try withUnsafeMutableBytes(of: &byte) { try comm.broadcast($0, root: comm.size) }) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix("MPI_Bcast failed"), message)
            XCTAssertTrue(message.contains("root"), message)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)")
        }
        // The communicator still works after the error.
        XCTAssertNoThrow(try withUnsafeMutableBytes(of: &byte) { try comm.broadcast($0, root: 0) })
        XCTAssertEqual(try comm.allreduceSum(2.5), 2.5)
    }
}
