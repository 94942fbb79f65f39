import XCTest
@testable import Model

/// Small reproducible numbers for test inputs.
struct TestRandom {
    var generator: SplitMix64
    init(_ seed: UInt64) { generator = SplitMix64(seed: seed) }
    mutating func float(_ limit: Float = 1) -> Float { generator.symmetric(Double(limit)) }
    mutating func int(_ bound: Int) -> Int { Int(generator.next() % UInt64(bound)) }
}

/// How a test slot's timesteps are filled.
enum SlotPattern {
    case full, prePadded(Int), postPadded(Int), idle

    func isValid(_ t: Int, window: Int) -> Bool {
        switch self {
        case .full: return true
        case .prePadded(let count): return t >= count
        case .postPadded(let count): return t < window - count
        case .idle: return false
        }
    }
}

enum TargetKind { case perRow, perStep }

/// Fills inputs and targets with random values, the masks from `patterns` (one per slot).
func fillBatch(_ batch: WindowBatch, config: ModelConfig, patterns: [SlotPattern], targets: TargetKind,
               random: inout TestRandom) {
    let B = batch.slots, T = batch.window, K = config.outputs
    precondition(patterns.count == B)
    for t in 0 ..< T {
        for b in 0 ..< B {
            let r = t * B + b
            switch config.input {
            case .tokens(let vocabulary, _): batch.tokens[r] = Int32(random.int(vocabulary))
            case .features(let width): for k in 0 ..< width { batch.features[r * width + k] = random.float() }
            }
            let valid = patterns[b].isValid(t, window: T)
            batch.mask[r] = valid ? 1 : 0
            let lastValid = valid && (t == T - 1 || !patterns[b].isValid(t + 1, window: T))
            batch.targetMask[r] = (targets == .perStep ? valid : lastValid) ? 1 : 0
            switch config.head {
            case .binary: batch.classTargets[r] = Int32(random.int(2))
            case .multiclass: batch.classTargets[r] = Int32(random.int(K))
            case .regression: for k in 0 ..< K { batch.valueTargets[r * K + k] = random.float() }
            }
        }
    }
}

/// Random parameters (biases too) and a random carried state, so no gradient is trivially zero.
func randomize(_ model: LSTMModel, seed: UInt64) {
    model.initialize(seed: seed)
    var random = TestRandom(seed &+ 99)
    for spec in model.parameterLayout.tensors where spec.name.hasSuffix("bias") {
        for k in spec.offset ..< spec.offset + spec.count { model.parameters[k] += random.float(0.5) }
    }
    for k in model.hidden.indices {
        model.hidden[k] = random.float(0.8)
        model.cell[k] = random.float(1.5)
    }
}

extension UnsafeMutableBufferPointer where Element == Float {
    var array: [Float] { Array(self) }
}

/// |a - b| <= absolute + relative * max(|a|, |b|) elementwise; the failure names the worst index.
func assertClose(_ a: [Float], _ b: [Float], absolute: Float, relative: Float = 0, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, what, file: file, line: line)
    var worst = -1, worstExcess: Float = 0
    for k in 0 ..< min(a.count, b.count) {
        let excess = abs(a[k] - b[k]) - (absolute + relative * max(abs(a[k]), abs(b[k])))
        if excess > worstExcess || !excess.isFinite { worst = k; worstExcess = excess.isFinite ? excess : .infinity }
    }
    if worst >= 0 {
        XCTFail("\(what): index \(worst): \(a[worst]) vs \(b[worst]) (tolerance \(absolute) + \(relative) relative)",
                file: file, line: line)
    }
}

extension LSTMModel {
    /// Sets the carried state of every layer and slot.
    func setState(hidden newHidden: [Float], cell newCell: [Float]) {
        _ = hidden.update(fromContentsOf: newHidden)
        _ = cell.update(fromContentsOf: newCell)
    }
}
