#if canImport(Glibc)
import Glibc
#endif

/// The collective operations the training loop needs, and nothing else. Rank 0 is the root.
///
/// Every collective must be called by every rank in the same order with the same counts:
/// the stream layout guarantees it, because each rank derives the same schedule.
public protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Element-wise sum over all ranks, in place.
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    /// Element-wise sum over all ranks, in place, for sums that need 53 bits (epoch totals).
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws
    /// Copies `buffer` from `root` into every other rank's `buffer`.
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws
    /// Rank r's `part` lands at `whole[r*part.count ..< (r+1)*part.count]` on `root`;
    /// `whole` is ignored elsewhere.
    func gather(_ part: UnsafeBufferPointer<Float>, into whole: UnsafeMutableBufferPointer<Float>, root: Int) throws
    /// The inverse of `gather`: rank r receives `whole[r*part.count ..< (r+1)*part.count]` from `root`.
    func scatter(_ whole: UnsafeBufferPointer<Float>, into part: UnsafeMutableBufferPointer<Float>, root: Int) throws
    /// Ends every rank of the job at once: for a failure on one rank that the others cannot see.
    func abort(exitCode: Int32) -> Never
}

extension Communicator {
    public var isRoot: Bool { rank == 0 }

    /// Sums one value over all ranks.
    public func allreduceSum(_ value: Double) throws -> Double {
        var value = value
        try withUnsafeMutablePointer(to: &value) { try allreduceSum(UnsafeMutableBufferPointer(start: $0, count: 1)) }
        return value
    }

    /// The root's string, on every rank (configuration, error text).
    public func broadcast(_ text: String, root: Int = 0) throws -> String {
        var length = Int64(text.utf8.count)
        try withUnsafeMutableBytes(of: &length) { try broadcast($0, root: root) }
        var bytes = rank == root ? Array(text.utf8) : [UInt8](repeating: 0, count: Int(length))
        try bytes.withUnsafeMutableBytes { try broadcast($0, root: root) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// One process alone: every collective is the identity. For tests and `train` without mpirun
/// when MPI is not wanted.
public final class SingleProcessCommunicator: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {}
    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {}
    public func gather(_ part: UnsafeBufferPointer<Float>, into whole: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        _ = whole.initialize(fromContentsOf: part)
    }
    public func scatter(_ whole: UnsafeBufferPointer<Float>, into part: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        _ = part.initialize(fromContentsOf: whole)
    }
    public func abort(exitCode: Int32) -> Never { exit(exitCode) }
}
