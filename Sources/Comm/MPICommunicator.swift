import CMPI

/// MPI_COMM_WORLD. Create one per process with `init()` and call `finalize()` before exiting.
///
/// Without mpirun, OpenMPI starts as a singleton of size 1, so the same binary runs alone.
///
/// An error that an MPI call returns (a bad argument, a count MPI refuses) is thrown as a
/// `CommError` naming the call, which the command line prints as one `Error:` line: the world
/// communicator returns errors (`MPI_ERRORS_RETURN`) instead of aborting in OpenMPI's default
/// handler. A rank that dies or a link that goes down still ends the whole job through OpenMPI's
/// runtime (mpirun and its daemons notice, and kill every rank), as before.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    private let world: MPI_Comm

    /// The corresponding C functions are `MPI_Init`, then `MPI_Comm_set_errhandler` with
    /// `MPI_ERRORS_RETURN` (an error in `MPI_Init` itself still aborts, before any handler).
    public init() throws {
        try check(MPI_Init(nil, nil), "MPI_Init")
        world = lstm_mpi_comm_world()
        try check(MPI_Comm_set_errhandler(world, lstm_mpi_errors_return()), "MPI_Comm_set_errhandler")
        var rank: Int32 = 0, size: Int32 = 0
        try check(MPI_Comm_rank(world, &rank), "MPI_Comm_rank")
        try check(MPI_Comm_size(world, &size), "MPI_Comm_size")
        self.rank = Int(rank)
        self.size = Int(size)
    }

    /// The corresponding C function is `MPI_Finalize`.
    public func finalize() throws {
        try check(MPI_Finalize(), "MPI_Finalize")
    }

    /// The corresponding C function is `MPI_Allreduce` with `MPI_IN_PLACE` and `MPI_SUM`.
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try check(MPI_Allreduce(lstm_mpi_in_place(), buffer.baseAddress, try count(buffer.count), lstm_mpi_float(), lstm_mpi_sum(), world), "MPI_Allreduce")
    }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        try check(MPI_Allreduce(lstm_mpi_in_place(), buffer.baseAddress, try count(buffer.count), lstm_mpi_double(), lstm_mpi_sum(), world), "MPI_Allreduce")
    }

    /// The corresponding C function is `MPI_Bcast`.
    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        try check(MPI_Bcast(buffer.baseAddress, try count(buffer.count), lstm_mpi_byte(), Int32(root), world), "MPI_Bcast")
    }

    /// The corresponding C function is `MPI_Gather`.
    public func gather(_ part: UnsafeBufferPointer<Float>, into whole: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        let n = try count(part.count)
        try check(MPI_Gather(part.baseAddress, n, lstm_mpi_float(), whole.baseAddress, n, lstm_mpi_float(), Int32(root), world), "MPI_Gather")
    }

    /// The corresponding C function is `MPI_Scatter`.
    public func scatter(_ whole: UnsafeBufferPointer<Float>, into part: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        let n = try count(part.count)
        try check(MPI_Scatter(whole.baseAddress, n, lstm_mpi_float(), part.baseAddress, n, lstm_mpi_float(), Int32(root), world), "MPI_Scatter")
    }

    /// Starts an element-wise sum over all ranks, in place, as `allreduceSum` does; `request`
    /// finishes it. The corresponding C function is `MPI_Iallreduce` with `MPI_IN_PLACE` and `MPI_SUM`.
    func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, _ request: UnsafeMutablePointer<MPI_Request?>) throws {
        try check(MPI_Iallreduce(lstm_mpi_in_place(), buffer.baseAddress, try count(buffer.count), lstm_mpi_float(), lstm_mpi_sum(), world, request),
                  "MPI_Iallreduce")
    }

    /// The same for bf16 values (`UInt16` bit patterns) summed by `op` (`GradientExchange`'s bf16 sum).
    func startAllreduce(bf16 buffer: UnsafeMutableBufferPointer<UInt16>, op: MPI_Op, _ request: UnsafeMutablePointer<MPI_Request?>) throws {
        try check(MPI_Iallreduce(lstm_mpi_in_place(), buffer.baseAddress, try count(buffer.count), lstm_mpi_uint16(), op, world, request),
                  "MPI_Iallreduce")
    }

    /// Blocking bf16 sum, in place.
    func allreduce(bf16 buffer: UnsafeMutableBufferPointer<UInt16>, op: MPI_Op) throws {
        try check(MPI_Allreduce(lstm_mpi_in_place(), buffer.baseAddress, try count(buffer.count), lstm_mpi_uint16(), op, world), "MPI_Allreduce")
    }

    /// Whether the operation of `request` has finished (then `request` is freed); lets MPI move
    /// every operation in flight along, which OpenMPI 4.1 does only inside MPI calls.
    /// The corresponding C function is `MPI_Test`.
    func test(_ request: UnsafeMutablePointer<MPI_Request?>) throws -> Bool {
        var done: Int32 = 0
        try check(MPI_Test(request, &done, lstm_mpi_status_ignore()), "MPI_Test")
        return done != 0
    }

    /// Waits for the operation of `request`. The corresponding C function is `MPI_Wait`.
    func wait(_ request: UnsafeMutablePointer<MPI_Request?>) throws {
        try check(MPI_Wait(request, lstm_mpi_status_ignore()), "MPI_Wait")
    }

    /// The corresponding C function is `MPI_Op_create` (of the shim's bf16 sum).
    func bf16SumOperation() throws -> MPI_Op {
        var op: MPI_Op?
        try check(lstm_mpi_bf16_sum_create(&op), "MPI_Op_create")
        return op!
    }

    /// The corresponding C function is `MPI_Abort`.
    public func abort(exitCode: Int32) -> Never {
        MPI_Abort(world, exitCode)
        fatalError("MPI_Abort returned")
    }

    /// MPI counts are 32-bit.
    private func count(_ n: Int) throws -> Int32 {
        guard let n = Int32(exactly: n) else { throw CommError(call: "count", code: -1, message: "\(n) elements exceed MPI's 32-bit count") }
        return n
    }
}

public struct CommError: Error, CustomStringConvertible {
    public let call: String
    public let code: Int32
    public let message: String
    public var description: String { "\(call) failed (\(code)): \(message)" }
}

/// Turns an MPI return code into a thrown error carrying MPI's own text for it.
private func check(_ code: Int32, _ call: String) throws {
    guard code != MPI_SUCCESS else { return }
    var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING))
    var length: Int32 = 0
    MPI_Error_string(code, &text, &length)
    throw CommError(call: call, code: code, message: String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
}
