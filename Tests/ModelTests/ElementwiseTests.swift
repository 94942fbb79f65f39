import CElementwise
import Foundation
import XCTest
@testable import Model

/// The gate passes and softmax (CElementwise) of each instruction set this CPU runs, at awkward shapes,
/// against double-precision formulas; and the AVX-512 build against the AVX2 build, bit for bit.
final class ElementwiseTests: XCTestCase {
    /// AVX2 always (the floor), AVX-512 where the CPU has it.
    var instructionSets: [lstm_isa] { KernelPath.best == .avx512 ? [LSTM_ISA_AVX2, LSTM_ISA_AVX512] : [LSTM_ISA_AVX2] }

    func testGatePassesMatchDoubleFormulasAtAwkwardShapes() {
        for isa in instructionSets {
            for slots in [1, 3, 17, 33] {
                for units in [1, 5, 100] {
                    let step = GateStep(slots: slots, units: units, seed: UInt64(slots * 1000 + units))
                    let what = "\(isa.name), \(slots) slots, \(units) units"
                    let forward = step.forward(isa), expected = step.expectedForward()
                    assertClose(forward.gates, expected.gates, absolute: 1e-6, relative: 1e-6, "\(what): gates")
                    assertClose(forward.cell, expected.cell, absolute: 1e-6, relative: 1e-6, "\(what): cell")
                    assertClose(forward.hidden, expected.hidden, absolute: 1e-6, relative: 1e-6, "\(what): hidden")
                    let backward = step.backward(isa), expectedBackward = step.expectedBackward()
                    for (name, got, want) in [("gate gradients", backward.gates, expectedBackward.gates),
                                              ("hidden gradient", backward.hiddenGradient, expectedBackward.hiddenGradient),
                                              ("cell gradient", backward.cellGradient, expectedBackward.cellGradient),
                                              ("bias gradient", backward.biasGradient, expectedBackward.biasGradient)] {
                        assertClose(got, want, absolute: 1e-5, relative: 1e-5, "\(what): \(name)")
                    }
                }
            }
        }
    }

    func testSoftmaxMatchesDoubleFormulas() {
        var random = TestRandom(11)
        for isa in instructionSets {
            for count in [1, 5, 16, 17, 96, 100] {
                let logits = (0 ..< count).map { _ in random.float(8) }
                var row = logits
                let logPartition = lstm_softmax(isa, &row, count)
                let maximum = Double(logits.max()!), sum = logits.reduce(0) { $0 + exp(Double($1) - maximum) }
                let expected = logits.map { Float(exp(Double($0) - maximum) / sum) }
                assertClose(row, expected, absolute: 1e-7, relative: 1e-6, "\(isa.name), \(count) logits")
                XCTAssertEqual(Double(logPartition), log(sum) + maximum, accuracy: 1e-5)
            }
        }
    }

    func testTheAVX512BuildGivesTheAVX2BuildsBits() throws {
        guard KernelPath.best == .avx512 else { throw XCTSkip("this CPU has no AVX-512: only the AVX2 build runs here") }
        for slots in [1, 3, 17, 33] {
            for units in [1, 5, 100] {
                let step = GateStep(slots: slots, units: units, seed: UInt64(slots + units))
                XCTAssertEqual(step.forward(LSTM_ISA_AVX2), step.forward(LSTM_ISA_AVX512), "\(slots) x \(units) forward")
                XCTAssertEqual(step.backward(LSTM_ISA_AVX2), step.backward(LSTM_ISA_AVX512), "\(slots) x \(units) backward")
            }
        }
        var random = TestRandom(5)
        let logits = (0 ..< 100).map { _ in random.float(30) }
        var avx2 = logits, avx512 = logits
        XCTAssertEqual(lstm_softmax(LSTM_ISA_AVX2, &avx2, 100), lstm_softmax(LSTM_ISA_AVX512, &avx512, 100))
        XCTAssertEqual(avx2, avx512)
    }
}

private extension lstm_isa {
    var name: String { self == LSTM_ISA_AVX512 ? "AVX-512" : "AVX2" }
}

/// One timestep's inputs for the gate passes, in the layout of a window of one step: gates [4H, B] and
/// states [H, 2B] (blocks t and t+1), with row strides longer than their rows so a write past a block shows.
/// About a third of the slots are masked.
private struct GateStep {
    let B: Int, H: Int
    var gateStride: Int { B + 3 }
    var stateStride: Int { 2 * B + 5 }
    let preactivations: [Float], bias: [Float], mask: [Float]
    /// Forward: the incoming c and h in block 0. Backward: c_{t-1} and c_t in blocks 0 and 1.
    let cell: [Float], hidden: [Float]
    /// Backward: activations (i, f, o in (0, 1), g in (-1, 1)), d/d(h) in blocks 0 and 1, U dZ_{t+1},
    /// d/d(c_t) and the bias gradient so far.
    let activations: [Float], hiddenGradient: [Float], recurrentGradient: [Float], cellGradient: [Float]
    let biasGradient: [Float]

    init(slots: Int, units: Int, seed: UInt64) {
        B = slots
        H = units
        var random = TestRandom(seed)
        let gateStride = slots + 3, gateCount = 4 * units * gateStride, stateCount = units * (2 * slots + 5)
        preactivations = (0 ..< 4 * units * slots).map { _ in random.float(6) }
        bias = (0 ..< 4 * units).map { _ in random.float() }
        mask = (0 ..< slots).map { _ in random.int(3) == 0 ? 0 : 1 }
        cell = (0 ..< stateCount).map { _ in random.float(2) }
        hidden = (0 ..< stateCount).map { _ in random.float() }
        activations = (0 ..< gateCount).map { index in
            let isG = index / gateStride / units == 2
            return isG ? random.float() : (random.float() + 1) / 2
        }
        hiddenGradient = (0 ..< stateCount).map { _ in random.float() }
        recurrentGradient = (0 ..< units * slots).map { _ in random.float() }
        cellGradient = (0 ..< units * slots).map { _ in random.float() }
        biasGradient = (0 ..< 4 * units).map { _ in random.float() }
    }

    var shape: lstm_step_shape { lstm_step_shape(slots: B, units: H, gate_stride: gateStride, state_stride: stateStride) }

    struct Forward: Equatable { var gates: [Float], cell: [Float], hidden: [Float] }
    struct Backward: Equatable { var gates: [Float], hiddenGradient: [Float], cellGradient: [Float], biasGradient: [Float] }

    func forward(_ isa: lstm_isa) -> Forward {
        var out = Forward(gates: activations, cell: cell, hidden: hidden)
        lstm_gates_forward(isa, shape, preactivations, bias, mask, &out.gates, &out.cell, &out.hidden)
        return out
    }

    func backward(_ isa: lstm_isa) -> Backward {
        var out = Backward(gates: activations, hiddenGradient: hiddenGradient, cellGradient: cellGradient,
                           biasGradient: biasGradient)
        lstm_gates_backward(isa, shape, recurrentGradient, mask, &out.gates, cell, &out.hiddenGradient,
                            &out.cellGradient, &out.biasGradient)
        return out
    }

    func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    func expectedForward() -> Forward {
        var out = Forward(gates: activations, cell: cell, hidden: hidden)
        for j in 0 ..< H {
            for b in 0 ..< B {
                let z = (0 ..< 4).map { Double(preactivations[($0 * H + j) * B + b]) + Double(bias[$0 * H + j]) }
                let gates = [sigmoid(z[0]), sigmoid(z[1]), Foundation.tanh(z[2]), sigmoid(z[3])]
                for q in 0 ..< 4 { out.gates[(q * H + j) * gateStride + b] = Float(gates[q]) }
                let before = j * stateStride + b, after = before + B
                if mask[b] == 0 {
                    out.cell[after] = cell[before]
                    out.hidden[after] = hidden[before]
                } else {
                    let c = gates[1] * Double(cell[before]) + gates[0] * gates[2]
                    out.cell[after] = Float(c)
                    out.hidden[after] = Float(gates[3] * Foundation.tanh(c))
                }
            }
        }
        return out
    }

    func expectedBackward() -> Backward {
        var out = Backward(gates: activations, hiddenGradient: hiddenGradient, cellGradient: cellGradient,
                           biasGradient: biasGradient)
        for j in 0 ..< H {
            var biasSums = [Double](repeating: 0, count: 4)
            for b in 0 ..< B {
                let a = (0 ..< 4).map { Double(activations[($0 * H + j) * gateStride + b]) }
                let (i, f, g, o) = (a[0], a[1], a[2], a[3])
                let before = j * stateStride + b, after = before + B, unit = j * B + b
                let dh = Double(hiddenGradient[after]) + Double(recurrentGradient[unit])
                let dcAfter = Double(cellGradient[unit]), cTanh = Foundation.tanh(Double(cell[after]))
                let dc = dcAfter + dh * o * (1 - cTanh * cTanh)
                let masked = mask[b] == 0
                let dGates = masked ? [0, 0, 0, 0]
                    : [dc * g * i * (1 - i), dc * Double(cell[before]) * f * (1 - f), dc * i * (1 - g * g),
                       dh * cTanh * o * (1 - o)]
                for q in 0 ..< 4 {
                    out.gates[(q * H + j) * gateStride + b] = Float(dGates[q])
                    biasSums[q] += dGates[q]
                }
                out.cellGradient[unit] = Float(masked ? dcAfter : dc * f)
                if masked { out.hiddenGradient[before] = Float(Double(hiddenGradient[before]) + dh) }
            }
            for q in 0 ..< 4 { out.biasGradient[q * H + j] = Float(Double(biasGradient[q * H + j]) + biasSums[q]) }
        }
        return out
    }
}
