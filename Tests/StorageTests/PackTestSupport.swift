import Foundation
import Pack
import Storage
import TestSupport
import XCTest

/// Packs small inputs written into a temporary folder, and checks what is left behind.
final class PackBench {
    let folder: TemporaryFolder
    var output: String { folder.file("out.h5") }

    init() throws { folder = try TemporaryFolder() }

    /// Writes `content` as `name`, packs it into out.h5, and returns the reader and the report.
    @discardableResult
    func pack(_ name: String, _ content: String, _ configure: (inout PackOptions) -> Void = { _ in }) throws -> (DatasetReader, [String]) {
        let input = try folder.write(name, content)
        var options = PackOptions(output: output)
        options.force = true
        configure(&options)
        var report: [String] = []
        try Packer.pack(input, options: options) { report.append($0) }
        return (try DatasetReader(path: options.output), report)
    }

    /// Asserts that packing fails with a message holding every fragment, that no output and no
    /// temporary file is left, and that an existing out.h5 keeps its bytes.
    func assertFails(_ name: String, _ content: String, _ configure: (inout PackOptions) -> Void = { _ in },
                     containing fragments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let input = try folder.write(name, content)
        let before = folder.contents.filter { $0 != name }
        let existing = FileManager.default.contents(atPath: output)
        var options = PackOptions(output: output)
        configure(&options)
        XCTAssertThrowsError(try Packer.pack(input, options: options) { _ in }, file: file, line: line) { error in
            let message = "\(error)"
            for fragment in fragments {
                XCTAssertTrue(message.contains(fragment), "'\(message)' lacks '\(fragment)'", file: file, line: line)
            }
            XCTAssertFalse(message.contains("\n"), "not one line: \(message)", file: file, line: line)
        }
        XCTAssertEqual(folder.contents.filter { $0 != name }, before, "files left behind", file: file, line: line)
        XCTAssertEqual(FileManager.default.contents(atPath: output), existing, "output changed", file: file, line: line)
    }
}
