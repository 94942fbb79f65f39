// Inverted dropout on the inputs of every LSTM layer and of the head, a fresh mask per timestep,
// never on the recurrent connections (Zaremba et al. 2014; docs/commands.md).
//
// A mask element is a counter-based hash of (seed, global slot, global step, site, timestep,
// unit), a site being a layer (0 ..< layers) or the head (`layers`): no random stream advances,
// so N ranks x B slots draw what 1 rank x N*B slots draws, and a resumed run draws what an
// uninterrupted one would.

/// Dropout as a training run configures it for one model.
public struct Dropout: Sendable, Equatable {
    /// The probability of dropping an element, in [0, 1).
    public var rate: Float
    public var seed: UInt64
    /// The global slot of this model's slot 0 (rank x slots per rank).
    public var firstGlobalSlot: Int

    public init(rate: Float, seed: UInt64, firstGlobalSlot: Int) {
        precondition(rate >= 0 && rate < 1, "a dropout rate is in [0, 1)")
        self.rate = rate
        self.seed = seed
        self.firstGlobalSlot = firstGlobalSlot
    }

    /// Kept values are scaled by this, so the expected input is unchanged.
    var scale: Float { 1 / (1 - rate) }

    /// Elements whose hash's top 32 bits fall below this are dropped: a share of `rate`.
    var threshold: UInt64 { UInt64((Double(rate) * 0x1p32).rounded(.down)) }

    /// The hash of one column (global slot, timestep) of a site's mask at a global step; the
    /// column's elements are `mix(column ^ unit)`.
    func columnKey(step: Int, site: Int, timestep: Int, globalSlot: Int) -> UInt64 {
        let bySlot = mix(mix(mix(seed) ^ UInt64(truncatingIfNeeded: step)) ^ UInt64(truncatingIfNeeded: globalSlot))
        return mix(mix(bySlot ^ UInt64(truncatingIfNeeded: site)) ^ UInt64(truncatingIfNeeded: timestep))
    }

    /// Whether element `unit` of a column is kept.
    @inline(__always)
    func keeps(column: UInt64, unit: Int) -> Bool {
        mix(column ^ UInt64(truncatingIfNeeded: unit)) >> 32 >= threshold
    }
}

/// SplitMix64's output function: a bijection of 64 bits whose every output bit depends on every
/// input bit.
@inline(__always)
func mix(_ value: UInt64) -> UInt64 {
    var z = value &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// The masks of one window, made by the model that uses them: per site a [rows, T*B] matrix of
/// 0 or 1/(1-p) (rows `stride` apart), and, for the sites whose inputs are another layer's state
/// (layers 1... and the head), a [H, T*B] buffer for the dropped inputs.
final class DropoutMasks {
    let dropout: Dropout
    let slots: Int, window: Int, stride: Int
    /// Per site: its input width (rows of its mask).
    let widths: [Int]
    let masks: [UnsafeMutablePointer<Float>]
    /// Per site: the dropped copy of its inputs, nil for layer 0 (whose inputs are dropped in place).
    let dropped: [UnsafeMutablePointer<Float>?]
    /// [B] the column keys of the timestep being drawn (`draw`), allocated once here rather than every step.
    private let columnKeys: UnsafeMutablePointer<UInt64>

    /// Carves the buffers out of `take` (the model's activation arena).
    init(_ dropout: Dropout, widths: [Int], slots: Int, window: Int, stride: Int, take: (Int) -> UnsafeMutablePointer<Float>) {
        self.dropout = dropout
        self.widths = widths
        self.slots = slots
        self.window = window
        self.stride = stride
        masks = widths.map { take($0 * stride) }
        dropped = widths.indices.map { $0 == 0 ? nil : take(widths[$0] * stride) }
        columnKeys = .allocate(capacity: slots)
    }

    deinit { columnKeys.deallocate() }

    /// Floats `init` takes for these sites.
    static func arenaSize(widths: [Int], stride: Int) -> Int {
        widths.reduce(0) { $0 + $1 * stride } + widths.dropFirst().reduce(0) { $0 + $1 * stride }
    }

    /// Draws every site's mask for global step `step`, a timestep's block of each row at a time: written
    /// column by column instead, every element went to another row, 8 KB and more apart, and drawing took
    /// 6% of a charlm step.
    func draw(step: Int) {
        let scale = dropout.scale
        for (site, width) in widths.enumerated() {
            for t in 0 ..< window {
                for b in 0 ..< slots {
                    columnKeys[b] = dropout.columnKey(step: step, site: site, timestep: t,
                                                      globalSlot: dropout.firstGlobalSlot + b)
                }
                for unit in 0 ..< width {
                    let block = masks[site] + unit * stride + t * slots
                    for b in 0 ..< slots { block[b] = dropout.keeps(column: columnKeys[b], unit: unit) ? scale : 0 }
                }
            }
        }
    }

    /// target[u, c] = source[u, c] * mask[u, c] for site `site` over its rows and the window's
    /// columns; `target` may be `source` (in place), as for layer 0's inputs and for gradients.
    func apply(site: Int, _ source: UnsafePointer<Float>, sourceStride: Int,
               into target: UnsafeMutablePointer<Float>, targetStride: Int) {
        let mask = masks[site], columns = slots * window
        for unit in 0 ..< widths[site] {
            let from = source + unit * sourceStride, to = target + unit * targetStride, by = mask + unit * stride
            for c in 0 ..< columns { to[c] = from[c] * by[c] }
        }
    }
}
