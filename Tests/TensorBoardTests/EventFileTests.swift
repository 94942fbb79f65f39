import XCTest
@testable import TensorBoard

final class EventFileTests: XCTestCase {
    /// CRC-32C's check value (RFC 3720's polynomial) and TFRecord's mask of it.
    func testMaskedCRC32COfTheCheckString() {
        let check = Array("123456789".utf8)
        XCTAssertEqual(crc32c(check), 0xE306_9283)
        XCTAssertEqual(maskedCRC32C(check), 0xC78A_B0E5)
        XCTAssertEqual(crc32c([UInt8]()), 0)
        // RFC 3720 B.4: 32 bytes of zeros.
        XCTAssertEqual(crc32c([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
    }
}
