import CBF16Exchange
import CMPI

/// How gradients cross the network (`train --exchange`).
public enum ExchangeFormat: String, Codable, Sendable, CaseIterable {
    /// As they are: MPI's float sum.
    case fp32
    /// Rounded to bfloat16 (nearest even), half the bytes, summed in bf16 at every reduction step
    /// by a user-defined operation (OpenMPI 4.1 has no bf16 type), widened to fp32 when they land.
    case bf16
}

/// A step's gradient sum across ranks in buckets, each started (`MPI_Iallreduce`) as soon as
/// backward has finished its range, so that the exchange runs while backward still works:
/// `start(_:)` posts the next bucket, `progress()` lets MPI move what is in flight along (OpenMPI 4.1
/// progresses only inside MPI calls), `wait(bucket:)` finishes one. A small float `trailer` (the
/// loss, counts and votes) goes first, in fp32 whatever the format.
///
/// The buckets are fixed when the exchange is made (they depend on the model only) and every rank
/// posts them in the same order, so the sums are the same run to run. Everything is allocated
/// here: a step allocates nothing. An MPI error met while posting or testing is kept and thrown
/// by the next wait.
public final class GradientExchange {
    public let format: ExchangeFormat
    /// The ranges of `gradients` summed as one, in the order they are posted.
    public let buckets: [Range<Int>]
    private let comm: MPICommunicator
    private let gradients: UnsafeMutableBufferPointer<Float>
    private let trailer: UnsafeMutableBufferPointer<Float>
    /// bf16 copies of the gradients, summed in place (bf16 only).
    private let staged: UnsafeMutableBufferPointer<UInt16>
    private let bf16Sum: MPI_Op?
    /// [0]: the trailer's request; [1 + i]: bucket i's.
    private let requests: UnsafeMutableBufferPointer<MPI_Request?>
    private var posted = 0, waited = 0, tested = 0, trailerPosted = false, trailerWaited = false
    private var failure: Error?
    /// Seconds this step spent in `wait*` calls: the exchange's exposed time.
    public private(set) var waitSeconds = 0.0

    /// `gradients` and `trailer` are the buffers summed; `buckets` must be disjoint ranges of `gradients`.
    public init(comm: MPICommunicator, gradients: UnsafeMutableBufferPointer<Float>, trailer: UnsafeMutableBufferPointer<Float>,
                buckets: [Range<Int>], format: ExchangeFormat) throws {
        precondition(buckets.allSatisfy { $0.lowerBound >= 0 && $0.upperBound <= gradients.count })
        self.comm = comm
        self.gradients = gradients
        self.trailer = trailer
        self.buckets = buckets
        self.format = format
        bf16Sum = format == .bf16 ? try comm.bf16SumOperation() : nil
        staged = .allocate(capacity: format == .bf16 ? gradients.count : 0)
        requests = .allocate(capacity: 1 + buckets.count)
        requests.initialize(repeating: lstm_mpi_request_null())
    }

    deinit {
        staged.deallocate()
        requests.deallocate()
    }

    /// Before a step: nothing in flight (the previous step waited for everything).
    public func beginStep() {
        precondition(!trailerPosted || (trailerWaited && waited == buckets.count), "a step's exchange was left in flight")
        posted = 0
        waited = 0
        tested = 0
        trailerPosted = false
        trailerWaited = false
        waitSeconds = 0
    }

    /// Starts the trailer's sum (written by the caller).
    public func startTrailer() {
        precondition(!trailerPosted)
        trailerPosted = true
        attempt { try comm.startAllreduceSum(trailer, requests.baseAddress!) }
    }

    /// Starts the next bucket's sum; `range` must be that bucket.
    public func start(_ range: Range<Int>) {
        precondition(posted < buckets.count && buckets[posted] == range, "bucket \(range) posted out of order")
        let request = requests.baseAddress! + 1 + posted
        posted += 1
        let floats = UnsafeMutableBufferPointer(rebasing: gradients[range])
        switch format {
        case .fp32:
            attempt { try comm.startAllreduceSum(floats, request) }
        case .bf16:
            let halves = UnsafeMutableBufferPointer(rebasing: staged[range])
            lstm_bf16_from_float(floats.baseAddress, halves.baseAddress, range.count)
            attempt { try comm.startAllreduce(bf16: halves, op: bf16Sum!, request) }
        }
    }

    /// Starts every bucket not started yet, in order.
    public func startRemaining() {
        while posted < buckets.count { start(buckets[posted]) }
    }

    /// One `MPI_Test` on the oldest operation still in flight: MPI moves every one along.
    public func progress() {
        guard failure == nil else { return }
        if trailerPosted && !trailerWaited && tested == 0 {
            attempt { if try comm.test(requests.baseAddress!) { trailerWaited = true } }
            return
        }
        let oldest = max(waited, tested)
        guard oldest < posted else { return }
        attempt { if try comm.test(requests.baseAddress! + 1 + oldest) { tested = oldest + 1 } }
    }

    /// Waits for the trailer's sum.
    public func waitTrailer() throws {
        precondition(trailerPosted)
        try timed { if !trailerWaited { try comm.wait(requests.baseAddress!) } }
        trailerWaited = true
    }

    /// Waits for bucket `index` (and the ones before it): its range of the gradients then holds the sum, in fp32.
    public func wait(bucket index: Int) throws {
        precondition(index < posted, "bucket \(index) was not started")
        while waited <= index {
            let range = buckets[waited]
            try timed {
                // A finished request is null: MPI_Wait returns at once.
                try comm.wait(requests.baseAddress! + 1 + waited)
                if format == .bf16 {
                    lstm_float_from_bf16(staged.baseAddress! + range.lowerBound, gradients.baseAddress! + range.lowerBound, range.count)
                }
            }
            waited += 1
        }
    }

    /// Waits for the trailer and every bucket started.
    public func waitAll() throws {
        if trailerPosted { try waitTrailer() }
        if posted > 0 { try wait(bucket: posted - 1) }
    }

    /// The whole exchange at once, after backward, blocking (overlap off): the trailer, then all of
    /// `gradients` in one sum.
    public func sumNow() throws {
        precondition(!trailerPosted && posted == 0)
        trailerPosted = true
        trailerWaited = true
        posted = buckets.count
        waited = buckets.count
        try timed {
            try comm.allreduceSum(trailer)
            switch format {
            case .fp32:
                try comm.allreduceSum(gradients)
            case .bf16:
                lstm_bf16_from_float(gradients.baseAddress!, staged.baseAddress!, gradients.count)
                try comm.allreduce(bf16: staged, op: bf16Sum!)
                lstm_float_from_bf16(staged.baseAddress!, gradients.baseAddress!, gradients.count)
            }
        }
    }

    private func attempt(_ call: () throws -> Void) {
        guard failure == nil else { return }
        do { try call() } catch { failure = error }
    }

    private func timed(_ work: () throws -> Void) throws {
        if let failure { throw failure }
        let start = ContinuousClock.now
        defer {
            let elapsed = (ContinuousClock.now - start).components
            waitSeconds += Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18
        }
        try work()
    }
}
