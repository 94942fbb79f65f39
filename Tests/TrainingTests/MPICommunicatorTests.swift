import Comm
import Foundation
import XCTest

/// MPI in this test process, as a singleton of size 1: initialised once, never finalised (MPI
/// cannot start again in the same process), by the first test that needs it (Swift runs a global's
/// initializer once, whichever thread asks first).
nonisolated(unsafe) private let world = Result { () throws -> MPICommunicator in
    if geteuid() == 0 {  // OpenMPI's runtime refuses root without both
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0)
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0)
    }
    return try MPICommunicator()
}

final class MPICommunicatorTests: XCTestCase {
    func testAnErrorMPIReturnsIsThrownNamingTheCallInsteadOfAbortingTheProcess() throws {
        let comm = try world.get()
        var byte: UInt8 = 7
        // Rank 1 does not exist in a world of one: MPI reports MPI_ERR_ROOT. OpenMPI's default
        // handler (MPI_ERRORS_ARE_FATAL) would have ended this test process here.
        XCTAssertThrowsError(try withUnsafeMutableBytes(of: &byte) { try comm.broadcast($0, root: comm.size) }) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix("MPI_Bcast failed"), message)
            XCTAssertTrue(message.contains("root"), message)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)")
        }
        // The communicator still works after the error.
        XCTAssertNoThrow(try withUnsafeMutableBytes(of: &byte) { try comm.broadcast($0, root: 0) })
        XCTAssertEqual(try comm.allreduceSum(2.5), 2.5)
    }
}

/// `GradientExchange` in a world of one: each bucket's sum is the rank's own gradient, so the
/// bf16 exchange must give every value rounded to bf16 (nearest, ties to even) and back, and the
/// fp32 exchange every value unchanged, however the buckets and the trailer are posted and tested.
final class GradientExchangeTests: XCTestCase {
    /// The bf16 nearest to `value` found from its two bf16 neighbours (the truncation and the next
    /// one up in magnitude), the even one on a tie: independent of the shim's rounding trick.
    private func nearestBF16(_ value: Float) -> Float {
        let down = Float(bitPattern: value.bitPattern & 0xFFFF_0000)
        let up = Float(bitPattern: (value.bitPattern & 0xFFFF_0000) &+ 0x1_0000)
        let (toDown, toUp) = (abs(Double(value) - Double(down)), abs(Double(up) - Double(value)))
        if toDown != toUp { return toDown < toUp ? down : up }
        return (down.bitPattern >> 16) & 1 == 0 ? down : up
    }

    func testABF16ExchangeRoundsEveryBucketToNearestEvenAndAnFP32OneChangesNothing() throws {
        let comm = try world.get()
        let count = 1000
        var random = SystemRandomNumberGenerator()
        var values = (0 ..< count).map { _ in Float.random(in: -3 ... 3, using: &random) * Float(1 << Int.random(in: 0 ... 20, using: &random)) }
        // Exact ties between two bf16 values, both ways of even, and values that round up into the next binade.
        values[0] = Float(bitPattern: 0x3F80_8000)  // 1 + 2^-8: tie, 1.0 is even
        values[1] = Float(bitPattern: 0x3F81_8000)  // tie, the upper neighbour is even
        values[2] = Float(bitPattern: 0x3FFF_FFFF)  // just below 2: rounds to 2
        values[3] = -values[1]
        values[4] = 0
        for format in ExchangeFormat.allCases {
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count + 3)
            defer { buffer.deallocate() }
            _ = buffer.initialize(from: values + [5, 6, 7])
            let gradients = UnsafeMutableBufferPointer(rebasing: buffer[..<count])
            let trailer = UnsafeMutableBufferPointer(rebasing: buffer[count...])
            let buckets = [700 ..< 1000, 10 ..< 700, 0 ..< 10]
            let exchange = try GradientExchange(comm: comm, gradients: gradients, trailer: trailer, buckets: buckets, format: format)
            for _ in 0 ..< 2 {  // twice: a step leaves nothing in flight for the next
                _ = buffer.update(fromContentsOf: values + [5, 6, 7])
                exchange.beginStep()
                exchange.startTrailer()
                exchange.start(buckets[0])
                exchange.progress()
                exchange.start(buckets[1])
                exchange.progress()
                exchange.startRemaining()
                try exchange.waitTrailer()
                try exchange.wait(bucket: 1)
                try exchange.waitAll()
                XCTAssertEqual(Array(trailer), [5, 6, 7], "the trailer travels as it is")
                let expected = format == .bf16 ? values.map(nearestBF16) : values
                XCTAssertEqual(Array(gradients), expected, "\(format)")
                XCTAssertGreaterThanOrEqual(exchange.waitSeconds, 0)
            }
            // The blocking form (LSTM_DIST_OVERLAP=off) gives the same.
            _ = buffer.update(fromContentsOf: values + [5, 6, 7])
            exchange.beginStep()
            try exchange.sumNow()
            XCTAssertEqual(Array(gradients), format == .bf16 ? values.map(nearestBF16) : values, "\(format), blocking")
        }
        XCTAssertEqual(nearestBF16(values[0]), 1)
        XCTAssertEqual(nearestBF16(values[2]), 2)
    }
}
