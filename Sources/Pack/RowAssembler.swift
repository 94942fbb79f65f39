import Storage

/// Places each sequence's timesteps into padded rows of L steps (truncating and padding as
/// Keras' `pad_sequences` does) and sends full blocks of rows to the writer.
///
/// A source calls `beginRow()` per sequence (or every `--length` steps of a long stream), then
/// `nextStep()` per timestep, which says where the step goes, or nil when truncation drops it.
final class RowAssembler {
    private let header: DatasetHeader
    private let rawLengths: [Int]
    private let truncating: Padding
    private let padValue: Float
    private let writer: BackgroundWriter
    private let rowsPerBlock: Int
    private var block: RowBlock
    private var row = -1
    private var step = 0, skipped = 0, kept = 0, offset = 0

    /// `rawLengths`: each row's timesteps as the first pass counted them, before truncation to L.
    init(header: DatasetHeader, rawLengths: [Int], truncating: Padding, padValue: Float,
         writer: BackgroundWriter, rowsPerBlock: Int) {
        self.header = header
        self.rawLengths = rawLengths
        self.truncating = truncating
        self.padValue = padValue
        self.writer = writer
        self.rowsPerBlock = rowsPerBlock
        block = RowBlock(header: header, start: 0, count: min(rowsPerBlock, header.rows), padValue: padValue)
    }

    /// The row being filled, relative to its block.
    private var rowInBlock: Int { row - block.start }

    /// Starts the next row.
    func beginRow() throws {
        try checkRowComplete()
        row += 1
        guard row < header.rows else { throw changedInput("more rows than the first pass counted") }
        if rowInBlock == block.count {
            try writer.submit(block)
            block = RowBlock(header: header, start: row, count: min(rowsPerBlock, header.rows - row), padValue: padValue)
        }
        let raw = rawLengths[row]
        kept = min(raw, header.length)
        skipped = truncating == .pre ? raw - kept : 0
        offset = header.validSteps(length: kept).lowerBound
        step = 0
        block.lengths[rowInBlock] = Int32(kept)
    }

    /// The padded position (0..<L) of the row's next timestep, or nil when truncation drops it.
    @inline(__always)
    func nextStep() -> Int? {
        let index = step - skipped
        step += 1
        return index >= 0 && index < kept ? offset + index : nil
    }

    func setFeatures(at position: Int, _ values: UnsafeBufferPointer<Float>) {
        let start = (rowInBlock * header.length + position) * header.features
        block.features.withUnsafeMutableBufferPointer { features in
            _ = UnsafeMutableBufferPointer(rebasing: features[start..<(start + values.count)]).initialize(from: values)
        }
    }

    func setToken(at position: Int, _ token: Int32) {
        block.tokens[rowInBlock * header.length + position] = token
    }

    /// Sets the row's class (per-row targets).
    func setRowClass(_ id: Int32) {
        block.classTargets[rowInBlock] = id
    }

    /// Sets the class of the timestep at `position` (per-timestep targets).
    func setStepClass(_ id: Int32, at position: Int) {
        block.classTargets[rowInBlock * header.length + position] = id
    }

    /// Sets the row's K target values (per-row targets).
    func setRowValues(_ values: UnsafeBufferPointer<Float>) {
        setValues(values, startingAt: rowInBlock * header.targetWidth)
    }

    /// Sets the K target values of the timestep at `position` (per-timestep targets).
    func setStepValues(_ values: UnsafeBufferPointer<Float>, at position: Int) {
        setValues(values, startingAt: (rowInBlock * header.length + position) * header.targetWidth)
    }

    private func setValues(_ values: UnsafeBufferPointer<Float>, startingAt start: Int) {
        block.valueTargets.withUnsafeMutableBufferPointer { targets in
            _ = UnsafeMutableBufferPointer(rebasing: targets[start..<(start + values.count)]).initialize(from: values)
        }
    }

    /// Sends the last block and checks that every row came.
    func finish() throws {
        try checkRowComplete()
        guard row == header.rows - 1 else { throw changedInput("\(row + 1) rows, the first pass counted \(header.rows)") }
        try writer.submit(block)
    }

    private func checkRowComplete() throws {
        if row >= 0, step != rawLengths[row] {
            throw changedInput("row \(row) has \(step) timesteps, the first pass counted \(rawLengths[row])")
        }
    }

    private func changedInput(_ detail: String) -> PackError {
        PackError("\(header.source): the input changed while it was packed (\(detail))")
    }
}
