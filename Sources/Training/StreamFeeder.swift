import Layout
import Model
import Storage

/// Fills one rank's window batch at each step of the stream layout: the rows its slots read,
/// the masks that keep padding and idle slots out of the state and the loss, and the targets.
///
/// Each slot reads its rows in blocks of consecutive rows, so a rank holds its slots' current
/// blocks, never its whole shard.
final class StreamFeeder {
    let layout: StreamLayout
    /// The global slots this rank owns; local slot b is global slot `slots.lowerBound + b`.
    let slots: Range<Int>
    private let reader: DatasetReader
    private let header: DatasetHeader
    private let blockRows: Int
    private var blocks: [RowBlock?]

    /// - Parameter blockBytes: roughly how much input one slot's block of rows may hold.
    init(reader: DatasetReader, layout: StreamLayout, slots: Range<Int>, blockBytes: Int = 1 << 20) {
        self.reader = reader
        self.header = reader.header
        self.layout = layout
        self.slots = slots
        let rowBytes = header.length * max(header.features, 1) * 4
        // Interleaved slots read strided rows: a block of consecutive rows would be mostly waste.
        blockRows = layout.assignment == .contiguous ? max(1, blockBytes / rowBytes) : 1
        blocks = Array(repeating: nil, count: slots.count)
    }

    /// Writes step `step`'s window into `batch` and returns the local slots that start a new row
    /// there (the caller decides whether their state is reset).
    func fill(_ batch: WindowBatch, step: Int) throws -> [Int] {
        precondition(batch.slots == slots.count && batch.window == layout.window)
        var startingRow: [Int] = []
        for local in 0..<slots.count {
            guard let position = layout.position(slot: slots.lowerBound + local, step: step) else {
                clear(batch, slot: local)
                continue
            }
            if position.startsRow { startingRow.append(local) }
            let block = try block(for: position.row, slot: local)
            write(block, row: position.row - block.start, timesteps: position.timesteps, into: batch, slot: local)
        }
        return startingRow
    }

    private func block(for row: Int, slot local: Int) throws -> RowBlock {
        if let block = blocks[local], (block.start..<block.start + block.count).contains(row) { return block }
        let global = slots.lowerBound + local
        let lastRow = layout.row(slot: global, ordinal: layout.rowCount(slot: global) - 1)
        let block = try reader.readRows(row..<min(row + blockRows, lastRow + 1))
        blocks[local] = block
        return block
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
        let valid = header.padding == .pre ? (L - length)..<L : 0..<length
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
            let scored = header.targetKind == .step || step == rowTargetStep
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
