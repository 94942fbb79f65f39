import Foundation
import XCTest

/// A fresh folder, removed when the last reference goes (see `makeTemporaryFolder` for tests).
public final class TemporaryFolder {
    public let path: String

    public init() throws {
        path = NSTemporaryDirectory() + "lstm-dist-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes text to a file in this folder and returns its path.
    public func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: file(name), atomically: false, encoding: .utf8)
        return file(name)
    }

    /// Every name in the folder, hidden temporaries included.
    public var contents: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
}

extension XCTestCase {
    /// A fresh folder removed when the test ends. XCTest keeps every test case object until the
    /// whole run ends, so a folder held in a property would otherwise outlive its test.
    public func makeTemporaryFolder() throws -> TemporaryFolder {
        let folder = try TemporaryFolder()
        addTeardownBlock { try? FileManager.default.removeItem(atPath: folder.path) }
        return folder
    }
}
