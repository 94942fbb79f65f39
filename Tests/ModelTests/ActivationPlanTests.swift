import XCTest
@testable import Model

final class ActivationPlanTests: XCTestCase {
    /// Every buffer the plan lays out has floats of its own, and together they fill the arena from
    /// its start to `floats` without a gap: token and feature input, one and three layers, with and
    /// without dropout.
    func testThePlanGivesEveryBufferItsOwnFloatsAndFillsTheArena() {
        let inputs: [ModelInput] = [.tokens(vocabSize: 50, embedding: 12), .features(5)]
        for input in inputs {
            for layers in [1, 3] {
                for dropout in [false, true] {
                    let config = ModelConfig(input: input, hidden: 24, layers: layers, head: .multiclass, outputs: 7)
                    let B = 3, T = 5, H = 24, K = 7, columns = B * T
                    let plan = ActivationPlan(config, slots: B, window: T, dropout: dropout)
                    let first = plan.shape(layer: 0), stateSize = H * first.stateStride
                    var regions: [(String, Int, Int)] = [("stepProduct", plan.stepProduct, 4 * H * B)]
                    for layer in 0 ..< layers {
                        let block = plan.block(layer: layer), shape = plan.shape(layer: layer)
                        regions += [("kernelCopies \(layer)", block.kernelCopies, shape.kernelCopiesSize),
                                    ("gates \(layer)", block.gates, 4 * H * columns),
                                    ("hidden \(layer)", block.hidden, stateSize), ("cell \(layer)", block.cell, stateSize),
                                    ("hiddenGradient \(layer)", block.hiddenGradient, stateSize)]
                    }
                    let embedding = input == .features(5) ? 0 : 12
                    regions += [("firstLayerInputs", plan.firstLayerInputs, input.width * first.columnStride),
                                ("embeddedGradient", plan.embeddedGradient, embedding * first.columnStride),
                                ("cellGradientScratch", plan.cellGradientScratch, H * B),
                                ("logits", plan.logits.lowerBound, plan.logits.count),
                                ("logitGradient", plan.logitGradient, columns * K),
                                ("gateGradientTransposed", plan.gateGradientTransposed, columns * first.transposedGateStride),
                                ("logitGradientTransposed", plan.logitGradientTransposed, K * first.columnStride),
                                ("dropoutMasks", plan.dropoutMasks,
                                 DropoutMasks.arenaSize(widths: plan.dropoutWidths, stride: first.stateStride))]
                    XCTAssertEqual(plan.logits.count, columns * K)
                    XCTAssertEqual(plan.dropoutWidths.count, dropout ? layers + 1 : 0)
                    var next = 0
                    for (name, offset, count) in regions {
                        XCTAssertEqual(offset, next, "\(name) of \(input), \(layers) layers, dropout \(dropout)")
                        next = offset + count
                    }
                    XCTAssertEqual(next, plan.floats)
                }
            }
        }
    }

    /// A configuration whose arena could not be counted in an Int gives Int.max floats, which the
    /// memory check refuses, rather than an overflow.
    func testAnArenaTooLargeToCountSaturates() {
        let config = ModelConfig(input: .features(4), hidden: 64, layers: 1 << 50, head: .regression, outputs: 1)
        XCTAssertEqual(ActivationPlan(config, slots: 4, window: 8, dropout: false).floats, .max)
    }
}
