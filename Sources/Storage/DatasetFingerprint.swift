/// The dataset fingerprint (docs/checkpoints.md, `dataset_fingerprint`): SHA-256 over what defines
/// the dataset's content, in fixed types (int32, float32 and float64, little-endian), in this order:
/// its header fields (shapes and attributes; not `source`, so a renamed file stays the same dataset,
/// nor `pack_options` or the recorded fingerprint; the forecasting fields only when present, so
/// files without them keep their fingerprint), every row's length, `/targets` row by row, `/vocab`,
/// and `/normalization` when present. 64 lowercase hex characters. `/inputs` is not hashed.
///
/// One definition for the two that compute it: `DatasetWriter` (pack records it as it writes the
/// rows, so train and resume never read the rows for it) and `DatasetReader` (files without the
/// attribute, and `inspect --check`, which compares). The lengths come first, so a writer must know
/// them before the rows (pack's first pass counts them).
public final class DatasetFingerprint {
    private let header: DatasetHeader
    private let hash: SHA256
    /// Rows whose targets were hashed; blocks come in order.
    private var rowsHashed = 0

    /// Starts the hash with the header and the rows' lengths (`header.rows` of them, in row order).
    public init(header: DatasetHeader, lengths: some Sequence<Int32>) throws {
        self.header = header
        hash = try SHA256()
        let h = header
        // Without targets there is no target_kind (files with targets hash exactly as before).
        let targetKind = h.task.hasTargets ? "target_kind=\(h.targetKind.rawValue);" : ""
        try hash.update("rows=\(h.rows);length=\(h.length);inputs=\(h.inputKind.rawValue);features=\(h.features);"
            + "vocab_size=\(h.vocabSize);\(targetKind)task=\(h.task.rawValue);"
            + "num_classes=\(h.numClasses);target_width=\(h.targetWidth);padding=\(h.padding.rawValue);stream=\(h.stream.rawValue);")
        if let origin = h.targetOrigin { try hash.update("horizon=\(origin.horizon);target_features=\(origin.features);") }
        // In runs, so a sequence computed on the fly (pack's) is never copied whole.
        var run: [Int32] = []
        run.reserveCapacity(1 << 16)
        var count = 0
        for length in lengths {
            run.append(length)
            count += 1
            if run.count == 1 << 16 {
                try hash.update(run)
                run.removeAll(keepingCapacity: true)
            }
        }
        try hash.update(run)
        guard count == h.rows else { throw StorageError("dataset fingerprint: \(count) lengths for \(h.rows) rows") }
    }

    /// Hashes the targets of the next rows (a block holding only targets is enough). Blocks must
    /// come in order from row 0.
    public func update(targetsOf block: RowBlock) throws {
        guard block.start == rowsHashed, rowsHashed + block.count <= header.rows else {
            throw StorageError("dataset fingerprint: rows \(block.start)..<\(block.start + block.count) out of order (\(rowsHashed) of \(header.rows) hashed)")
        }
        // Exactly the block's rows: a block whose arrays hold more or less would hash other bytes than the file's.
        let held = header.task.isClassification ? block.classTargets.count : block.valueTargets.count
        guard held == block.count * header.targetsPerRow else {
            throw StorageError("dataset fingerprint: rows \(block.start)..<\(block.start + block.count) carry \(held) target values, not \(block.count * header.targetsPerRow)")
        }
        if header.task.isClassification {
            try hash.update(block.classTargets)
        } else if header.task == .regression {
            try hash.update(block.valueTargets)
        }
        rowsHashed += block.count
    }

    /// Ends the hash with the vocabulary and the normalisation statistics once every row's
    /// targets were hashed; the fingerprint.
    public func finish() throws -> String {
        guard rowsHashed == header.rows else {
            throw StorageError("dataset fingerprint: the targets of \(rowsHashed) rows hashed of \(header.rows)")
        }
        try hash.update(header.vocab)
        if let statistics = header.normalization {
            try hash.update("normalization;")
            for values in [statistics.inputsMean, statistics.inputsStd, statistics.targetsMean, statistics.targetsStd] { try hash.update(values) }
        }
        return try hash.hexDigest()
    }

    /// Whether `text` has the form of a fingerprint: 64 lowercase hex characters.
    public static func isWellFormed(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }
}

extension DatasetReader {
    /// The dataset's fingerprint: the recorded `dataset_fingerprint` (pack writes it), or, in a file
    /// without one (h5py-made, or packed before pack recorded it), computed from the file.
    public func fingerprint() throws -> String {
        try recordedFingerprint ?? computeFingerprint()
    }

    /// The fingerprint computed from the file, whatever it records: reads `/lengths` and
    /// `/targets` (in blocks of about 4 MB, never all at once) and the header, never `/inputs`.
    public func computeFingerprint() throws -> String {
        let fingerprint = try DatasetFingerprint(header: header, lengths: try readLengths())
        let rowsPerRead = max(1, (4 << 20) / max(1, header.targetsPerRow * 4))
        for start in stride(from: 0, to: header.rows, by: rowsPerRead) {
            try fingerprint.update(targetsOf: try readTargets(start ..< min(start + rowsPerRead, header.rows)))
        }
        return try fingerprint.finish()
    }
}
