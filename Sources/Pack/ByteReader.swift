#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Reads a file in large blocks straight into one reusable buffer, so a pass over a large input
/// costs no per-line allocation.
struct ByteReader {
    let path: String
    private static let blockSize = 4 << 20

    /// Checks that the file exists and is not empty.
    init(path: String) throws {
        var status = stat()
        guard stat(path, &status) == 0 else { throw PackError("\(path): no such file") }
        // Two passes: a pipe could be read only once.
        guard status.st_mode & S_IFMT == S_IFREG else { throw PackError("\(path): not a regular file") }
        guard status.st_size > 0 else { throw PackError("\(path): empty input") }
        self.path = path
    }

    /// Calls `body` with each block of bytes, in order.
    func forEachBlock(_ body: (UnsafeBufferPointer<UInt8>) throws -> Void) throws {
        try forEachBlock(keeping: { try body($0); return 0 }, { _ in })
    }

    /// Calls `body` with each line, without its `\n` or `\r\n`, and its number from 1.
    func forEachLine(_ body: (UnsafeBufferPointer<UInt8>, _ number: Int) throws -> Void) throws {
        var number = 0
        try forEachBlock(keeping: { block in
            // Hand over the complete lines; keep the unfinished last one for the next block.
            var start = 0
            let base = block.baseAddress!
            while start < block.count, let newline = memchr(base + start, 0x0A, block.count - start) {
                let end = base.distance(to: newline.assumingMemoryBound(to: UInt8.self))
                number += 1
                try body(Self.trimmingCarriageReturn(UnsafeBufferPointer(rebasing: block[start..<end])), number)
                start = end + 1
            }
            return block.count - start
        }, { last in
            if !last.isEmpty {
                number += 1
                try body(Self.trimmingCarriageReturn(last), number)
            }
        })
    }

    /// Reads block after block; `consume` returns how many bytes at the end it did not use,
    /// which are moved to the front and handed over again with the next block. `body` then gets
    /// what is left at the end of the file.
    private func forEachBlock(keeping consume: (UnsafeBufferPointer<UInt8>) throws -> Int,
                              _ body: (UnsafeBufferPointer<UInt8>) throws -> Void) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw PackError("\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: Self.blockSize)
        defer { buffer.deallocate() }
        var kept = 0
        while true {
            if kept == buffer.count {  // one line longer than the buffer: grow it
                let larger = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: buffer.count * 2)
                _ = larger.initialize(from: buffer)
                buffer.deallocate()
                buffer = larger
            }
            let count = read(descriptor, buffer.baseAddress! + kept, buffer.count - kept)
            guard count >= 0 else { throw PackError("\(path): read failed: \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            let filled = UnsafeBufferPointer(rebasing: buffer[0..<(kept + count)])
            let unused = try consume(filled)
            if unused > 0 {
                memmove(buffer.baseAddress!, buffer.baseAddress! + filled.count - unused, unused)
            }
            kept = unused
        }
        try body(UnsafeBufferPointer(rebasing: buffer[0..<kept]))
    }

    private static func trimmingCarriageReturn(_ line: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        line.last == 0x0D ? UnsafeBufferPointer(rebasing: line.dropLast()) : line
    }
}
