import XCTest
final class StorageTestsPlaceholder: XCTestCase { func testBuilds() { XCTAssertTrue(true) } }
