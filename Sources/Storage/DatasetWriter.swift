/// Writes a dataset file (docs/datasets.md) block by block, so the rows never all sit in
/// memory. The header, N included, is fixed when the file is created: `pack` learns it in a
/// first pass over its input. Given the rows' lengths up front too (pack's first pass counts
/// them), it records `dataset_fingerprint` as it writes, hashing the very targets it writes.
public final class DatasetWriter {
    public let header: DatasetHeader
    /// Rows per chunk of the row arrays; blocks that are whole multiples of it write whole chunks.
    public let rowsPerChunk: Int
    public private(set) var rowsWritten = 0
    private let file: H5File
    private let inputs: H5Dataset
    private let lengths: H5Dataset
    /// nil for a dataset without targets (task "none"), which has no `/targets`.
    private let targets: H5Dataset?
    /// Compresses whole chunks of the row arrays here rather than in HDF5 (see ChunkCompressor),
    /// appending the Fletcher32 checksum that is the last filter of every dataset; nil without
    /// compression, or when a row is longer than a chunk.
    private let compressor: ChunkCompressor?
    /// With the lengths given up front: the fingerprint, fed the targets as they are written, and
    /// row r's declared length, which the length written must equal (the fingerprint hashed it).
    private let fingerprint: (hash: DatasetFingerprint, declaredLength: (Int) -> Int32)?

    /// About this many bytes per chunk of `/inputs`: large enough for deflate, small enough for
    /// HDF5's 1 MiB chunk cache.
    private static let chunkBytes = 1 << 20

    /// Creates the file (replacing one of that name: callers go through `AtomicOutput`) with its
    /// attributes, `/vocab` and empty row arrays compressed at `compression` (0-9). With
    /// `lengths` (every row's, in order, as the blocks will carry them), `finish()` records the
    /// root attribute `dataset_fingerprint`; without, the file has none (readers compute it).
    public init(path: String, header: DatasetHeader, compression: Int, lengths declared: (some RandomAccessCollection<Int32>)? = [Int32]?.none) throws {
        try header.validate(path)
        if let declared {
            guard declared.count == header.rows else { throw StorageError("\(path): \(declared.count) row lengths declared for \(header.rows) rows") }
            if let bad = declared.firstIndex(where: { $0 < 0 || Int($0) > header.length }) {
                throw StorageError("\(path): declared row length \(declared[bad]) is outside 0...\(header.length)")
            }
            let first = declared.startIndex
            fingerprint = (try DatasetFingerprint(header: header, lengths: declared), { declared[declared.index(first, offsetBy: $0)] })
        } else {
            fingerprint = nil
        }
        self.header = header
        let file = try H5File(path: path, mode: .truncate)
        let (rows, length) = (header.rows, header.length)
        let width = max(header.features, 1)
        let rowBytes = length * width * 4
        rowsPerChunk = min(rows, max(1, Self.chunkBytes / rowBytes))
        // A row longer than a chunk is chunked along timesteps too.
        let stepsPerChunk = min(length, max(1, Self.chunkBytes / (width * 4)))
        let tokens = header.inputKind == .tokens
        let inputShape = tokens ? [rows, length] : [rows, length, header.features]
        let inputChunks = tokens ? [rowsPerChunk, stepsPerChunk] : [rowsPerChunk, stepsPerChunk, header.features]
        inputs = tokens
            ? try file.createDataset(DatasetPaths.inputs, of: Int32.self, shape: inputShape, chunks: inputChunks, compression: compression)
            : try file.createDataset(DatasetPaths.inputs, of: Float.self, shape: inputShape, chunks: inputChunks, compression: compression)
        lengths = try file.createDataset(DatasetPaths.lengths, of: Int32.self, shape: [rows],
                                         chunks: [min(rows, Self.chunkBytes / 4)], compression: compression)
        var targetShape = header.targetKind == .row ? [rows] : [rows, length]
        var targetChunks = header.targetKind == .row ? [rowsPerChunk] : [rowsPerChunk, stepsPerChunk]
        if !header.task.hasTargets {
            targets = nil
        } else if header.task.isClassification {
            targets = try file.createDataset(DatasetPaths.targets, of: Int32.self, shape: targetShape, chunks: targetChunks, compression: compression)
        } else {
            targetShape.append(header.targetWidth)
            targetChunks.append(header.targetWidth)
            targets = try file.createDataset(DatasetPaths.targets, of: Float.self, shape: targetShape, chunks: targetChunks, compression: compression)
        }
        if !header.vocab.isEmpty {
            try file.createDataset(DatasetPaths.vocab, of: Int32.self, shape: [header.vocab.count]).write(header.vocab)
        }
        if let origin = header.targetOrigin {
            try file.createDataset(DatasetPaths.targetFeatures, of: Int32.self, shape: [origin.features.count]).write(origin.features)
        }
        try Self.writeAttributes(header, to: file)
        try header.normalization?.write(to: file)
        self.file = file
        compressor = compression > 0 && stepsPerChunk == length ? ChunkCompressor(level: compression) : nil
    }

    /// Writes the next rows; blocks must come in order, starting at row 0.
    public func append(_ block: RowBlock) throws {
        guard block.start == rowsWritten, rowsWritten + block.count <= header.rows else {
            throw StorageError("\(file.file): block of rows \(block.start)..<\(block.start + block.count) out of order (\(rowsWritten) rows written of \(header.rows))")
        }
        if let fingerprint {
            for (r, length) in block.lengths.enumerated() where length != fingerprint.declaredLength(block.start + r) {
                throw StorageError("\(file.file): row \(block.start + r) has length \(length), but \(fingerprint.declaredLength(block.start + r)) was declared (and fingerprinted) when the file was created")
            }
            try fingerprint.hash.update(targetsOf: block)
        }
        try block.lengths.withUnsafeBufferPointer { try lengths.write($0, rowsFrom: block.start) }
        if header.inputKind == .tokens {
            try write(block.tokens, to: inputs, block)
        } else {
            try write(block.features, to: inputs, block)
        }
        if let targets {
            if header.task.isClassification {
                try write(block.classTargets, to: targets, block)
            } else {
                try write(block.valueTargets, to: targets, block)
            }
        }
        rowsWritten += block.count
    }

    /// Checks that every row was written and flushes; the file closes when the writer goes.
    public func finish() throws {
        guard rowsWritten == header.rows else {
            throw StorageError("\(file.file): \(rowsWritten) rows written of \(header.rows)")
        }
        if let fingerprint { try file.setAttribute(DatasetPaths.fingerprint, .string(try fingerprint.hash.finish())) }
        try file.flush()
    }

    /// Writes a block's rows of one array: chunk by chunk, compressed here, when the block
    /// covers whole chunks; through HDF5's hyperslab write otherwise.
    private func write<Element: HDF5Scalar>(_ values: [Element], to dataset: H5Dataset, _ block: RowBlock) throws {
        let end = block.start + block.count
        let wholeChunks = block.start % rowsPerChunk == 0 && (block.count % rowsPerChunk == 0 || end == header.rows)
        guard let compressor, wholeChunks else {
            try values.withUnsafeBufferPointer { try dataset.write($0, rowsFrom: block.start) }
            return
        }
        let rowSize = values.count / max(block.count, 1)
        let chunkSize = rowsPerChunk * rowSize
        var chunk = [Element](repeating: 0, count: chunkSize)  // the last chunk may extend past N rows
        let rank = try dataset.shape.count
        for chunkStart in stride(from: block.start, to: end, by: rowsPerChunk) {
            let first = (chunkStart - block.start) * rowSize
            let count = min(chunkSize, values.count - first)
            chunk.withUnsafeMutableBufferPointer { chunk in
                values.withUnsafeBufferPointer { values in
                    _ = UnsafeMutableBufferPointer(rebasing: chunk[0..<count]).initialize(from: UnsafeBufferPointer(rebasing: values[first..<(first + count)]))
                }
            }
            if count < chunkSize { chunk.withUnsafeMutableBufferPointer { $0[count...].update(repeating: 0) } }
            var bytes = chunk.withUnsafeBytes { compressor.compress($0, elementSize: MemoryLayout<Element>.size) }
            appendFletcher32(&bytes)
            try dataset.writeChunk(at: [chunkStart] + Array(repeating: 0, count: rank - 1), bytes)
        }
    }

    private static func writeAttributes(_ header: DatasetHeader, to file: H5File) throws {
        try file.setAttribute("format", .string(DatasetHeader.format))
        try file.setAttribute("version", .int(DatasetHeader.version))
        try file.setAttribute("padding", .string(header.padding.rawValue))
        if header.task.hasTargets { try file.setAttribute("target_kind", .string(header.targetKind.rawValue)) }
        try file.setAttribute("task", .string(header.task.rawValue))
        if header.task.isClassification { try file.setAttribute("num_classes", .int(Int64(header.numClasses))) }
        if header.inputKind == .tokens { try file.setAttribute("vocab_size", .int(Int64(header.vocabSize))) }
        try file.setAttribute("stream", .string(header.stream.rawValue))
        try file.setAttribute("source", .string(header.source))
        if let origin = header.targetOrigin { try file.setAttribute(DatasetPaths.horizon, .int(Int64(origin.horizon))) }
        if let record = header.packOptions { try file.setAttribute(DatasetPaths.packOptions, .string(record)) }
    }
}
