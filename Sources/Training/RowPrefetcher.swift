import Dispatch
import Storage

/// Reads blocks of dataset rows on a background thread, so that the step loop finds a slot's
/// next block already read (and decompressed) when the slot reaches it.
///
/// Every use of the reader happens on one serial queue, which is what makes the unchecked
/// `Sendable` sound; `request` and `take` are called from the step loop's thread only.
final class RowPrefetcher: @unchecked Sendable {
    private let reader: DatasetReader
    private let queue = DispatchQueue(label: "lstm-dist.row-prefetch")
    /// Reads started by `request` and not yet taken, by row range.
    private var pending: [Range<Int>: PendingRead] = [:]

    init(reader: DatasetReader) { self.reader = reader }

    /// Starts reading `rows` in the background.
    func request(_ rows: Range<Int>) {
        guard pending[rows] == nil else { return }
        let read = PendingRead()
        pending[rows] = read
        queue.async { read.finish(self.read(rows)) }
    }

    /// The block of `rows`: the background read's, waited for, or one read now.
    func take(_ rows: Range<Int>) throws -> RowBlock {
        if let read = pending.removeValue(forKey: rows) { return try read.wait() }
        return try queue.sync { try self.read(rows).get() }
    }

    private func read(_ rows: Range<Int>) -> Result<RowBlock, Error> {
        silenceHDF5Diagnostics()  // per thread, and this is the queue's thread
        return Result { try reader.readRows(rows) }
    }
}

/// One background read's result, handed from the queue to the step loop.
private final class PendingRead: @unchecked Sendable {
    private var result: Result<RowBlock, Error>?
    private let done = DispatchSemaphore(value: 0)

    func finish(_ result: Result<RowBlock, Error>) {
        self.result = result
        done.signal()
    }

    /// The semaphore orders the queue's write of `result` before this read.
    func wait() throws -> RowBlock {
        done.wait()
        return try result!.get()
    }
}
