import XCTest
@testable import Model

final class DropoutTests: XCTestCase {
    /// Over a million elements of four sites, the kept share is within 1% of 1 - P, and every
    /// element is 0 or 1 / (1 - P).
    func testKeptFractionIsOneMinusTheRateAndKeptValuesAreScaled() {
        for rate: Float in [0.1, 0.5, 0.8] {
            let dropout = Dropout(rate: rate, seed: 42, firstGlobalSlot: 7)
            let widths = [64, 128, 128, 128], slots = 32, window = 64, stride = slots * window
            let arena = UnsafeMutableBufferPointer<Float>.zeroed(DropoutMasks.arenaSize(widths: widths, stride: stride))
            defer { arena.deallocate() }
            var next = arena.baseAddress!
            let masks = DropoutMasks(dropout, widths: widths, slots: slots, window: window, stride: stride) { count in
                defer { next += count }
                return next
            }
            masks.draw(step: 1234)
            var kept = 0, total = 0
            for (site, width) in widths.enumerated() {
                for value in UnsafeBufferPointer(start: masks.masks[site], count: width * stride) {
                    XCTAssertTrue(value == 0 || value == 1 / (1 - rate), "mask value \(value)")
                    kept += value == 0 ? 0 : 1
                    total += 1
                }
            }
            XCTAssertEqual(Double(kept) / Double(total), Double(1 - rate), accuracy: 0.01 * Double(1 - rate), "rate \(rate)")
        }
    }

    /// A mask element depends on the global slot, not on which model (rank) holds it, and changes
    /// with the step, the site, the timestep and the seed.
    func testAMaskElementIsAFunctionOfItsGlobalPositionOnly() {
        let a = Dropout(rate: 0.5, seed: 1, firstGlobalSlot: 0), b = Dropout(rate: 0.5, seed: 1, firstGlobalSlot: 6)
        XCTAssertEqual(a.columnKey(step: 3, site: 1, timestep: 2, globalSlot: 7), b.columnKey(step: 3, site: 1, timestep: 2, globalSlot: 7))
        let base = a.columnKey(step: 3, site: 1, timestep: 2, globalSlot: 7)
        XCTAssertNotEqual(base, a.columnKey(step: 4, site: 1, timestep: 2, globalSlot: 7))
        XCTAssertNotEqual(base, a.columnKey(step: 3, site: 2, timestep: 2, globalSlot: 7))
        XCTAssertNotEqual(base, a.columnKey(step: 3, site: 1, timestep: 3, globalSlot: 7))
        XCTAssertNotEqual(base, a.columnKey(step: 3, site: 1, timestep: 2, globalSlot: 8))
        XCTAssertNotEqual(base, Dropout(rate: 0.5, seed: 2, firstGlobalSlot: 0).columnKey(step: 3, site: 1, timestep: 2, globalSlot: 7))
    }
}
