import TestSupport
import XCTest

final class HelpTests: XCTestCase {
    func testEveryCommandPrintsItsHelpAndExitsZero() throws {
        for command in [[], ["pack"], ["inspect"], ["train"], ["evaluate"], ["predict"], ["export"]] {
            let result = try LSTMDist.run(command + ["--help"])
            XCTAssertEqual(result.status, 0, "\(command)\n\(result)")
            XCTAssertTrue(result.stdout.contains("USAGE: lstm-dist \(command.first ?? "")"), "\(command)\n\(result)")
        }
    }

    func testAFailureWhileRunningIsOneLineNamingTheFileAndExitsNonZero() throws {
        let result = try LSTMDist.run(["inspect", "/nonexistent/data.h5"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.stderr, "Error: /nonexistent/data.h5: no such file\n")
    }
}
