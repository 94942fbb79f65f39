extension DatasetReader {
    /// SHA-256 over what defines the dataset's content (docs/checkpoints.md): its header fields
    /// (shapes and attributes, `source` excepted so a renamed file stays the same dataset; the
    /// forecasting fields only when present, so files without them keep their fingerprint),
    /// `/lengths`, `/targets`, `/vocab` and `/normalization` when present, in fixed types (int32,
    /// float32 and float64, little-endian). 64 lowercase hex characters. Reads the rows in blocks, never all at once.
    public func fingerprint(rowsPerRead: Int = 4096) throws -> String {
        let hash = try SHA256()
        let h = header
        // Without targets there is no target_kind (files with targets hash exactly as before).
        let targetKind = h.task.hasTargets ? "target_kind=\(h.targetKind.rawValue);" : ""
        try hash.update("rows=\(h.rows);length=\(h.length);inputs=\(h.inputKind.rawValue);features=\(h.features);"
            + "vocab_size=\(h.vocabSize);\(targetKind)task=\(h.task.rawValue);"
            + "num_classes=\(h.numClasses);target_width=\(h.targetWidth);padding=\(h.padding.rawValue);stream=\(h.stream.rawValue);")
        if let origin = h.targetOrigin { try hash.update("horizon=\(origin.horizon);target_features=\(origin.features);") }
        try hash.update(try readLengths())
        for start in stride(from: 0, to: h.rows, by: rowsPerRead) {
            let block = try readRows(start..<min(start + rowsPerRead, h.rows))
            if h.task.isClassification { try hash.update(block.classTargets) } else if h.task == .regression { try hash.update(block.valueTargets) }
        }
        try hash.update(h.vocab)
        if let statistics = h.normalization {
            try hash.update("normalization;")
            for values in [statistics.inputsMean, statistics.inputsStd, statistics.targetsMean, statistics.targetsStd] { try hash.update(values) }
        }
        return try hash.hexDigest()
    }
}
