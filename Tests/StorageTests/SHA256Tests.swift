import XCTest
@testable import Storage

final class SHA256Tests: XCTestCase {
    func testDigestsMatchTheFIPSExamples() {
        var empty = SHA256()
        empty.update("")
        XCTAssertEqual(empty.hexDigest(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var abc = SHA256()
        abc.update("abc")
        XCTAssertEqual(abc.hexDigest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var twoBlocks = SHA256()  // 56 bytes: the length no longer fits in the first padded block
        twoBlocks.update("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
        XCTAssertEqual(twoBlocks.hexDigest(), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testFeedingInPiecesEqualsFeedingAtOnce() {
        let text = String(repeating: "stateful slots carry state; ", count: 40)
        var whole = SHA256()
        whole.update(text)
        var pieces = SHA256()
        for piece in text.split(separator: ";", omittingEmptySubsequences: false) { pieces.update(String(piece) + ";") }
        var expected = SHA256()
        expected.update(text + ";")
        XCTAssertEqual(pieces.hexDigest(), expected.hexDigest())
        XCTAssertNotEqual(whole.hexDigest(), expected.hexDigest())
    }
}
