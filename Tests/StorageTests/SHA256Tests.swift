import XCTest
@testable import Storage

final class SHA256Tests: XCTestCase {
    func testDigestsMatchTheFIPSExamples() throws {
        let empty = try SHA256()
        try empty.update("")
        XCTAssertEqual(try empty.hexDigest(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let abc = try SHA256()
        try abc.update("abc")
        XCTAssertEqual(try abc.hexDigest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let twoBlocks = try SHA256()  // 56 bytes: the length no longer fits in the first padded block
        try twoBlocks.update("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
        XCTAssertEqual(try twoBlocks.hexDigest(), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let million = try SHA256()  // FIPS 180-2's third example: one million "a", fed in uneven runs
        let a = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        for start in stride(from: 0, to: a.count, by: 99_991) { try million.update(Array(a[start ..< min(start + 99_991, a.count)])) }
        XCTAssertEqual(try million.hexDigest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testFeedingInPiecesEqualsFeedingAtOnce() throws {
        let text = String(repeating: "stateful slots carry state; ", count: 40)
        let whole = try SHA256()
        try whole.update(text)
        let pieces = try SHA256()
        for piece in text.split(separator: ";", omittingEmptySubsequences: false) { try pieces.update(String(piece) + ";") }
        let expected = try SHA256()
        try expected.update(text + ";")
        XCTAssertEqual(try pieces.hexDigest(), try expected.hexDigest())
        XCTAssertNotEqual(try whole.hexDigest(), try expected.hexDigest())
    }

    func testTakingTheDigestLeavesTheHashFeedable() throws {
        let hash = try SHA256()
        try hash.update("ab")
        XCTAssertEqual(try hash.hexDigest(), try hash.hexDigest())
        try hash.update("c")
        XCTAssertEqual(try hash.hexDigest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
