import Layout
import Model
import Storage

/// Fills one rank's window batch at each step of the stream layout: the rows its slots read,
/// the masks that keep padding and idle slots out of the state and the loss, and the targets.
///
/// Each slot reads its rows in blocks of consecutive rows, the next block read in the background
/// while the current one is used: a rank holds two blocks per slot, never its whole shard.
final class StreamFeeder {
    let layout: StreamLayout
    /// The global slots this rank owns; local slot b is global slot `slots.lowerBound + b`.
    let slots: Range<Int>
    private let header: DatasetHeader
    private let rows: RowPrefetcher
    /// Rows per block; a slot's k-th block holds its rows of ordinals `k*blockRows ..< (k+1)*blockRows`.
    private let blockRows: Int
    private var blocks: [RowBlock?]

    /// - Parameter blockBytes: roughly how much input one slot's block of rows may hold.
    init(reader: DatasetReader, layout: StreamLayout, slots: Range<Int>, blockBytes: Int = 1 << 20) {
        self.header = reader.header
        rows = RowPrefetcher(reader: reader)
        self.layout = layout
        self.slots = slots
        let rowBytes = header.length * max(header.features, 1) * 4
        // Interleaved slots read strided rows: a block of consecutive rows would be mostly waste.
        blockRows = layout.assignment == .contiguous ? max(1, blockBytes / rowBytes) : 1
        blocks = Array(repeating: nil, count: slots.count)
    }

    /// Writes step `step`'s window into `batch`, calling `rowStarts` with each local slot that
    /// starts a new row there (the caller decides whether its state is reset).
    func fill(_ batch: WindowBatch, step: Int, rowStarts: (_ slot: Int) -> Void) throws {
        precondition(batch.slots == slots.count && batch.window == layout.window)
        for local in 0..<slots.count {
            guard let position = layout.position(slot: slots.lowerBound + local, step: step) else {
                clear(batch, slot: local)
                continue
            }
            if position.startsRow { rowStarts(local) }
            let block = try block(ordinal: step / layout.windowsPerRow, slot: local)
            write(block, row: position.row - block.start, timesteps: position.timesteps, into: batch, slot: local)
        }
    }

    /// The block holding the slot's `ordinal`-th row; taking a new block asks for the next one.
    private func block(ordinal: Int, slot local: Int) throws -> RowBlock {
        let global = slots.lowerBound + local
        let first = ordinal / blockRows * blockRows
        let range = blockRange(slot: global, firstOrdinal: first)!
        if let block = blocks[local], block.start == range.lowerBound { return block }
        let block = try rows.take(range)
        blocks[local] = block
        if let next = blockRange(slot: global, firstOrdinal: first + blockRows) { rows.request(next) }
        return block
    }

    /// The rows of the slot's ordinals `first ..< first + blockRows`, nil past its last row.
    /// Consecutive for contiguous slots; one row for interleaved ones, whose blocks are one row.
    private func blockRange(slot: Int, firstOrdinal first: Int) -> Range<Int>? {
        let count = min(blockRows, layout.rowCount(slot: slot) - first)
        guard count > 0 else { return nil }
        let start = layout.row(slot: slot, ordinal: first)
        return start ..< start + count
    }

    /// A slot with nothing to read: fully masked, so its state and the gradients stay untouched.
    private func clear(_ batch: WindowBatch, slot: Int) {
        for t in 0..<batch.window {
            batch.mask[t * batch.slots + slot] = 0
            batch.targetMask[t * batch.slots + slot] = 0
        }
    }

    /// Copies one row's window into the batch's time-major slot column.
    private func write(_ block: RowBlock, row: Int, timesteps: Range<Int>, into batch: WindowBatch, slot: Int) {
        let L = header.length, F = header.features, K = header.targetWidth, B = batch.slots
        let length = Int(block.lengths[row])
        let valid = header.validSteps(length: length)
        // A per-row target is scored on the row's last valid timestep, in whichever window holds it.
        let rowTargetStep = header.targetKind == .row && length > 0 ? valid.upperBound - 1 : -1
        let classification = header.task != .regression

        for t in 0..<batch.window {
            let index = t * B + slot
            let step = timesteps.lowerBound + t
            guard timesteps.contains(step), valid.contains(step) else {
                batch.mask[index] = 0
                batch.targetMask[index] = 0
                continue
            }
            batch.mask[index] = 1
            let source = row * L + step
            switch header.inputKind {
            case .tokens: batch.tokens[index] = block.tokens[source]
            case .features:
                for f in 0..<F { batch.features[index * F + f] = block.features[source * F + f] }
            }
            // Without targets (task "none") nothing is scored.
            let scored = header.task.hasTargets && (header.targetKind == .step || step == rowTargetStep)
            batch.targetMask[index] = scored ? 1 : 0
            guard scored else { continue }
            let target = header.targetKind == .step ? source : row
            if classification {
                batch.classTargets[index] = block.classTargets[target]
            } else {
                for k in 0..<K { batch.valueTargets[index * K + k] = block.valueTargets[target * K + k] }
            }
        }
    }
}
