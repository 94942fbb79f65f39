@testable import Storage
import TestSupport
import XCTest

final class ChunkCompressorTests: XCTestCase {
    /// Chunks compressed by Storage, with the Fletcher32 checksum appended, must decode through
    /// HDF5's own shuffle, deflate and Fletcher32 filters, with libdeflate and with the zlib
    /// fallback of systems that lack it.
    func testChunksCompressedHereAreDecodedByHDF5sFiltersWithEitherLibrary() throws {
        let folder = try makeTemporaryFolder()
        let file = try H5File(path: folder.file("c.h5"), mode: .truncate)
        let values = (0..<600).map { Float($0) * 0.37 - 50 }
        for (name, preferLibdeflate) in [("libdeflate", true), ("zlib", false)] {
            let compressor = ChunkCompressor(level: 1, preferLibdeflate: preferLibdeflate)
            let dataset = try file.createDataset(name, of: Float.self, shape: [5, 60, 2], chunks: [3, 60, 2], compression: 1)
            for start in [0, 3] {
                var chunk = [Float](repeating: 0, count: 360)
                let count = min(360, values.count - start * 120)
                chunk.replaceSubrange(0..<count, with: values[(start * 120)..<(start * 120 + count)])
                var bytes = chunk.withUnsafeBytes { compressor.compress($0, elementSize: 4) }
                XCTAssertLessThan(bytes.count, 360 * 4)
                appendFletcher32(&bytes)
                try dataset.writeChunk(at: [start, 0, 0], bytes)
            }
            XCTAssertEqual(try dataset.read(as: Float.self), values, name)
        }
    }
}
