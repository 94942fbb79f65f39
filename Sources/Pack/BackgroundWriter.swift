import Foundation
import Storage

/// Hands blocks of rows to a `DatasetWriter` on a second thread, so HDF5's shuffle + deflate
/// runs while the next block is parsed. At most `depth` blocks wait, which bounds memory.
final class BackgroundWriter: @unchecked Sendable {
    private let writer: DatasetWriter
    private let condition = NSCondition()
    private var queue: [RowBlock] = []
    private var closed = false
    private var failure: Error?
    private let depth = 2
    private let done = DispatchSemaphore(value: 0)

    init(_ writer: DatasetWriter) {
        self.writer = writer
        // Unowned: the caller keeps this object alive until `stop()` returns, and the thread's
        // last touch is `done.signal()`, so the HDF5 objects are released on the caller's thread.
        let thread = Thread { [unowned self] in run() }
        thread.start()
    }

    /// Queues a block; waits while the queue is full. Throws the writer's error, if it failed.
    func submit(_ block: RowBlock) throws {
        condition.lock()
        defer { condition.unlock() }
        while queue.count >= depth && failure == nil { condition.wait() }
        if let failure { throw failure }
        queue.append(block)
        condition.broadcast()
    }

    /// Waits until every queued block is written, then finishes the file.
    func finish() throws {
        stop()
        if let failure { throw failure }
        try writer.finish()
    }

    /// Stops the thread after the queued blocks (also on the error path, so it never outlives us).
    func stop() {
        condition.lock()
        let wasClosed = closed
        closed = true
        condition.broadcast()
        condition.unlock()
        if !wasClosed { done.wait() }
    }

    private func run() {
        silenceHDF5Diagnostics()
        while true {
            condition.lock()
            while queue.isEmpty && !closed { condition.wait() }
            if queue.isEmpty || failure != nil {
                condition.unlock()
                break
            }
            let block = queue.removeFirst()
            condition.unlock()
            do {
                try writer.append(block)
            } catch {
                condition.lock()
                failure = error
                queue.removeAll()
                condition.broadcast()
                condition.unlock()
            }
            condition.lock()
            condition.broadcast()
            condition.unlock()
        }
        done.signal()
    }
}
