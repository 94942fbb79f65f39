import XCTest
@testable import Layout

final class StreamLayoutTests: XCTestCase {
    /// Records what every global slot reads, step by step, as (row, window) or nil when idle.
    private func schedule(_ layout: StreamLayout) -> [[SlotPosition?]] {
        (0..<layout.globalSlots).map { slot in
            (0..<layout.stepsPerEpoch).map { layout.position(slot: slot, step: $0) }
        }
    }

    func testContiguousSlotsOwnBalancedRowRangesAsSpecSays() throws {
        // N = 10 rows over S = 4 slots: floor(g*10/4) gives starts 0, 2, 5, 7.
        let layout = try StreamLayout(rows: 10, length: 6, window: 3, globalSlots: 4)
        XCTAssertEqual((0..<4).map { layout.row(slot: $0, ordinal: 0) }, [0, 2, 5, 7])
        XCTAssertEqual((0..<4).map { layout.rowCount(slot: $0) }, [2, 3, 2, 3])
        XCTAssertEqual(layout.windowsPerRow, 2)
        XCTAssertEqual(layout.stepsPerEpoch, 2 * 3)
    }

    func testEachSlotReadsItsRowsInOrderWindowByWindowThenGoesIdle() throws {
        let layout = try StreamLayout(rows: 10, length: 6, window: 3, globalSlots: 4)
        let expectedSlot0: [SlotPosition?] = [
            SlotPosition(row: 0, window: 0, timesteps: 0..<3),
            SlotPosition(row: 0, window: 1, timesteps: 3..<6),
            SlotPosition(row: 1, window: 0, timesteps: 0..<3),
            SlotPosition(row: 1, window: 1, timesteps: 3..<6),
            nil, nil,
        ]
        XCTAssertEqual(schedule(layout)[0], expectedSlot0)
        let rowsOfSlot1 = schedule(layout)[1].map { $0?.row }
        XCTAssertEqual(rowsOfSlot1, [2, 2, 3, 3, 4, 4])
    }

    func testEveryRowIsReadExactlyOnceAndEveryWindowInOrder() throws {
        for (rows, slots) in [(10, 4), (7, 7), (100, 16), (5, 8)] {
            let layout = try StreamLayout(rows: rows, length: 10, window: 4, globalSlots: slots)
            var windowsSeen = [Int: [Int]]()
            for slotSchedule in schedule(layout) {
                for position in slotSchedule.compactMap({ $0 }) {
                    windowsSeen[position.row, default: []].append(position.window)
                }
            }
            XCTAssertEqual(windowsSeen.keys.sorted(), Array(0..<rows), "N=\(rows) S=\(slots)")
            XCTAssertTrue(windowsSeen.values.allSatisfy { $0 == [0, 1, 2] }, "N=\(rows) S=\(slots)")
        }
    }

    func testLastWindowOfARowIsShorterWhenTDoesNotDivideL() throws {
        let layout = try StreamLayout(rows: 1, length: 10, window: 4, globalSlots: 1)
        XCTAssertEqual((0..<3).map { layout.position(slot: 0, step: $0)!.timesteps }, [0..<4, 4..<8, 8..<10])
    }

    func testRanksOwnConsecutiveGlobalSlotsAndOneContiguousShardOfRows() throws {
        let layout = try StreamLayout(rows: 10, length: 5, window: 5, globalSlots: 4)
        XCTAssertEqual(slots(ofRank: 1, slotsPerRank: 2), 2..<4)
        XCTAssertEqual(layout.rowSpan(slots: slots(ofRank: 0, slotsPerRank: 2)), 0..<5)
        XCTAssertEqual(layout.rowSpan(slots: slots(ofRank: 1, slotsPerRank: 2)), 5..<10)
    }

    func testNRanksTimesBSlotsScheduleEqualsOneRankWithNBSlots() throws {
        // The schedule depends on S only, so splitting S among ranks cannot change it.
        let layout = try StreamLayout(rows: 13, length: 8, window: 3, globalSlots: 6)
        let whole = schedule(layout)
        let byRanks = (0..<3).flatMap { rank in slots(ofRank: rank, slotsPerRank: 2).map { whole[$0] } }
        XCTAssertEqual(byRanks, whole)
    }

    func testInterleavedDealsRowsRoundRobinAsKerasBatchesDo() throws {
        let layout = try StreamLayout(rows: 7, length: 2, window: 2, globalSlots: 3, assignment: .interleaved)
        XCTAssertEqual(schedule(layout).map { $0.map { $0?.row } }, [[0, 3, 6], [1, 4, nil], [2, 5, nil]])
    }

    func testWindowLargerThanRowIsRefusedWithAHint() {
        XCTAssertThrowsError(try StreamLayout(rows: 3, length: 5, window: 8, globalSlots: 1)) { error in
            XCTAssertTrue("\(error)".contains("--window 8 is larger than the row length 5"), "\(error)")
        }
    }
}
