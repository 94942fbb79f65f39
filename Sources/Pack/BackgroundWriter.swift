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
    private var thread = pthread_t()

    /// The thread holds this object (and so the writer and its HDF5 file) while it runs; `stop()`
    /// joins it, so the caller's release is the last and the file closes on the caller's thread,
    /// before the output is renamed into place. (A thread that only signalled it was done could
    /// still hold it then: the file then closed after the rename, or not at all when the process
    /// ended first, leaving it flagged as open for write.)
    init(_ writer: DatasetWriter) throws {
        self.writer = writer
        let context = Unmanaged.passRetained(self).toOpaque()
        let status = pthread_create(&thread, nil, { context in
            Unmanaged<BackgroundWriter>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
        guard status == 0 else {
            Unmanaged<BackgroundWriter>.fromOpaque(context).release()
            throw PackError("cannot start the writing thread: \(String(cString: strerror(status)))")
        }
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
        if !wasClosed { pthread_join(thread, nil) }
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
    }
}
