/// One window of `window` timesteps for `slots` slots, TIME-MAJOR: element (t, b) is at
/// `t * slots + b` (times K or F for per-element vectors). Allocated once and refilled by the
/// caller every step; every buffer starts zeroed (all masked).
public final class WindowBatch {
    public let slots: Int
    public let window: Int
    /// [T*B] token ids (token input only; empty otherwise).
    public var tokens: UnsafeMutableBufferPointer<Int32>
    /// [T*B*F] features (feature input only; empty otherwise).
    public var features: UnsafeMutableBufferPointer<Float>
    /// [T*B] 1 = valid timestep; 0 = padding or an idle slot: h and c stay as they were.
    public var mask: UnsafeMutableBufferPointer<Float>
    /// [T*B] 1 where a target is scored (per-row targets: the row's last valid timestep only).
    public var targetMask: UnsafeMutableBufferPointer<Float>
    /// [T*B] class ids, binary (0/1) and multiclass heads.
    public var classTargets: UnsafeMutableBufferPointer<Int32>
    /// [T*B*K] regression targets.
    public var valueTargets: UnsafeMutableBufferPointer<Float>

    public init(config: ModelConfig, slots: Int, window: Int) {
        precondition(slots > 0 && window > 0, "a window needs at least one slot and one timestep")
        self.slots = slots
        self.window = window
        let rows = slots * window
        var tokenCount = 0, featureCount = 0
        switch config.input {
        case .tokens: tokenCount = rows
        case .features(let width): featureCount = rows * width
        }
        tokens = .zeroed(tokenCount)
        features = .zeroed(featureCount)
        mask = .zeroed(rows)
        targetMask = .zeroed(rows)
        classTargets = .zeroed(config.head == .regression ? 0 : rows)
        valueTargets = .zeroed(config.head == .regression ? rows * config.outputs : 0)
    }

    deinit {
        tokens.deallocate()
        features.deallocate()
        mask.deallocate()
        targetMask.deallocate()
        classTargets.deallocate()
        valueTargets.deallocate()
    }
}

extension UnsafeMutableBufferPointer where Element: Numeric {
    /// A new buffer of `count` zeros on a cache-line boundary, so vector loads never split a line
    /// differently from one process to the next (the caller deallocates it).
    static func zeroed(_ count: Int) -> Self {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1) * MemoryLayout<Element>.stride,
                                                   alignment: 64)
        let buffer = Self(start: raw.bindMemory(to: Element.self, capacity: count), count: count)
        buffer.initialize(repeating: 0)
        return buffer
    }
}
