/// Which global slot reads which row and window at each step of an epoch (docs/layout.md).
///
/// A pure function of the row count N, the row length L, the window T and the global slot count
/// S: every rank computes the same schedule without talking to the others, and a resumed run
/// recomputes it from the step number alone.
public struct StreamLayout: Sendable, Equatable {
    /// How rows are dealt to slots.
    public enum Assignment: String, Sendable, CaseIterable {
        /// Slot g owns the contiguous rows `[floor(g*N/S), floor((g+1)*N/S))`: the training layout,
        /// in which each slot's next row continues its previous one.
        case contiguous
        /// Slot g reads rows g, g+S, g+2S, ...: what Keras does with `batch_size = S`, shown by
        /// `evaluate --layout interleaved` as the common mistake.
        case interleaved
    }

    public let rows: Int
    public let length: Int
    public let window: Int
    public let globalSlots: Int
    public let assignment: Assignment

    /// Windows per row, `ceil(L / T)`: the same for every row whatever its valid length.
    public let windowsPerRow: Int
    /// `W * max_g(rows of g)`, the same on every rank.
    public let stepsPerEpoch: Int

    public init(rows: Int, length: Int, window: Int, globalSlots: Int, assignment: Assignment = .contiguous) throws {
        guard rows > 0 else { throw LayoutError.noRows }
        guard length > 0 else { throw LayoutError.invalid("row length must be positive, got \(length)") }
        guard window > 0 else { throw LayoutError.invalid("--window must be positive, got \(window)") }
        guard window <= length else {
            throw LayoutError.invalid("--window \(window) is larger than the row length \(length); use --window \(length) or less")
        }
        guard globalSlots > 0 else { throw LayoutError.invalid("the global slot count must be positive, got \(globalSlots)") }
        self.rows = rows
        self.length = length
        self.window = window
        self.globalSlots = globalSlots
        self.assignment = assignment
        windowsPerRow = (length + window - 1) / window
        // Both assignments deal rows as evenly as possible: the busiest slot reads ceil(N/S) rows.
        let mostRows = (rows + globalSlots - 1) / globalSlots
        stepsPerEpoch = windowsPerRow * mostRows
    }

    private static func contiguousStart(slot: Int, rows: Int, slots: Int) -> Int { slot * rows / slots }

    /// How many rows global slot `slot` reads in one epoch.
    public func rowCount(slot: Int) -> Int {
        switch assignment {
        case .contiguous:
            return Self.contiguousStart(slot: slot + 1, rows: rows, slots: globalSlots) - Self.contiguousStart(slot: slot, rows: rows, slots: globalSlots)
        case .interleaved:
            return slot < rows ? (rows - slot + globalSlots - 1) / globalSlots : 0
        }
    }

    /// The dataset row that is the `ordinal`-th row (from 0) read by `slot`.
    public func row(slot: Int, ordinal: Int) -> Int {
        switch assignment {
        case .contiguous: return Self.contiguousStart(slot: slot, rows: rows, slots: globalSlots) + ordinal
        case .interleaved: return slot + ordinal * globalSlots
        }
    }

    /// What `slot` reads at `step` of an epoch, or nil once its rows are used up (an idle slot).
    public func position(slot: Int, step: Int) -> SlotPosition? {
        let ordinal = step / windowsPerRow
        guard ordinal < rowCount(slot: slot) else { return nil }
        let windowIndex = step % windowsPerRow
        let start = windowIndex * window
        return SlotPosition(
            row: row(slot: slot, ordinal: ordinal),
            window: windowIndex,
            timesteps: start..<min(start + window, length)
        )
    }

    /// The smallest row range that holds every row read by `slots` (one rank's shard).
    /// Contiguous: exactly the shard. Interleaved: a strided superset, read in pieces by the caller.
    public func rowSpan(slots: Range<Int>) -> Range<Int> {
        let used = slots.filter { rowCount(slot: $0) > 0 }
        guard !used.isEmpty else { return 0..<0 }
        let lower = used.map { row(slot: $0, ordinal: 0) }.min()!
        let upper = used.map { row(slot: $0, ordinal: rowCount(slot: $0) - 1) }.max()! + 1
        return lower..<upper
    }
}

/// One slot's place in the stream at one step.
public struct SlotPosition: Sendable, Equatable {
    /// Dataset row being read.
    public let row: Int
    /// Which window of that row, from 0.
    public let window: Int
    /// The row's timesteps this window covers (the last window of a row may be shorter than T).
    public let timesteps: Range<Int>
    /// A new row begins here: with `--reset row` the slot's state is zeroed first.
    public var startsRow: Bool { window == 0 }
}

/// The global slots that rank `rank` owns: `rank*B ..< (rank+1)*B`.
public func slots(ofRank rank: Int, slotsPerRank: Int) -> Range<Int> {
    rank * slotsPerRank..<(rank + 1) * slotsPerRank
}

public enum LayoutError: Error, CustomStringConvertible, Equatable {
    case noRows
    case invalid(String)

    public var description: String {
        switch self {
        case .noRows: return "the dataset has no rows"
        case .invalid(let reason): return reason
        }
    }
}
