import XCTest
@testable import Model

/// Every parameter's and the incoming state's gradient against central finite differences of the
/// float forward pass. With step 1e-2 the float rounding of a loss sum of order 10 (about 1e-6)
/// puts about 5e-5 of noise in each difference (observed: up to 6e-5); tolerance 2e-4 absolute +
/// 0.2% relative sits above that and still fails a 1% error in one gate's derivative.
final class GradientTests: XCTestCase {
    static let step: Float = 1e-2
    static let absoluteTolerance: Float = 2e-4
    static let relativeTolerance: Float = 2e-3

    /// Every head with 1 and 2 layers; per-row and per-step targets alternate. A window of 24
    /// columns over 6 tokens runs the first layer's inputs through TokenProjection's table; over 30
    /// tokens, through the embedding and the input product.
    func testGradientsWithTokenInputs() {
        for vocabulary in [6, 30] {
            for (index, (head, outputs)) in [(Head.binary, 1), (.multiclass, 6), (.regression, 2)].enumerated() {
                for layers in [1, 2] {
                    checkGradients(input: .tokens(vocabSize: vocabulary, embedding: 3), head: head, outputs: outputs,
                                   layers: layers, targets: (index + layers) % 2 == 0 ? .perRow : .perStep)
                }
            }
        }
    }

    func testGradientsWithFeatureInputs() {
        for (index, (head, outputs)) in [(Head.binary, 1), (.multiclass, 3), (.regression, 3)].enumerated() {
            for layers in [1, 2] {
                checkGradients(input: .features(3), head: head, outputs: outputs, layers: layers,
                               targets: (index + layers) % 2 == 0 ? .perStep : .perRow)
            }
        }
    }

    /// 18 slots: the gate passes run over slots, so one full 16-lane vector and a 2-lane tail.
    func testGradientsWithAFullVectorOfSlots() {
        checkGradients(input: .features(2), head: .multiclass, outputs: 2, layers: 2, targets: .perStep, hidden: 2,
                       slots: 18)
    }

    /// Dropout's masks are a function of the step, so a fixed step is a fixed mask: the
    /// gradients of the dropped network, on token and feature inputs, two and one layers.
    func testGradientsWithAFixedDropoutMask() {
        let dropout = Dropout(rate: 0.4, seed: 5, firstGlobalSlot: 3)
        checkGradients(input: .tokens(vocabSize: 6, embedding: 3), head: .multiclass, outputs: 6, layers: 2, targets: .perStep,
                       dropout: dropout)
        checkGradients(input: .features(3), head: .regression, outputs: 2, layers: 1, targets: .perRow, dropout: dropout)
    }

    /// Slots cycle through pre-padded, post-padded, full and idle; random parameters and incoming state.
    /// With `dropout`, every run uses the masks of global step 9.
    func checkGradients(input: ModelInput, head: Head, outputs: Int, layers: Int, targets: TargetKind,
                        hidden: Int = 5, slots: Int = 4, dropout: Dropout? = nil,
                        file: StaticString = #filePath, line: UInt = #line) {
        let config = ModelConfig(input: input, hidden: hidden, layers: layers, head: head, outputs: outputs)
        let cycle: [SlotPattern] = [.prePadded(2), .postPadded(2), .full, .idle]
        let patterns = (0 ..< slots).map { cycle[$0 % cycle.count] }
        let model = LSTMModel(config: config, slots: patterns.count, window: 6, dropout: dropout)
        let dropoutStep = dropout == nil ? nil : 9
        randomize(model, seed: 7)
        let batch = WindowBatch(config: config, slots: patterns.count, window: 6)
        var random = TestRandom(11)
        fillBatch(batch, config: config, patterns: patterns, targets: targets, random: &random)

        var startHidden = model.hidden.array, startCell = model.cell.array
        func lossFromStart() -> Double {
            model.setState(hidden: startHidden, cell: startCell)
            return model.run(batch, backward: false, dropoutStep: dropoutStep).lossSum
        }
        model.setState(hidden: startHidden, cell: startCell)
        let result = model.run(batch, backward: true, dropoutStep: dropoutStep)
        XCTAssertGreaterThan(result.targets, 0, file: file, line: line)
        if dropoutStep != nil {
            XCTAssertNotEqual(lossFromStart(), model.run(batch, backward: false).lossSum, "dropout changed nothing", file: file, line: line)
        }
        let analytic = Array(model.gradients.prefix(model.parameterLayout.count))
        let analyticHidden = model.hiddenGradient.array, analyticCell = model.cellGradient.array

        /// Central differences of the loss in each of `count` values reached through get/set.
        func numericGradient(count: Int, get: (Int) -> Float, set: (Int, Float) -> Void) -> [Float] {
            (0 ..< count).map { k in
                let saved = get(k)
                set(k, saved + Self.step)
                let up = lossFromStart(), upValue = get(k)
                set(k, saved - Self.step)
                let down = lossFromStart(), downValue = get(k)
                set(k, saved)
                return Float((up - down) / Double(upValue - downValue))
            }
        }
        let name = "(\(input), \(head), \(layers) layers\(dropout == nil ? "" : ", dropout"))"
        for spec in model.parameterLayout.tensors {
            let numeric = numericGradient(count: spec.count, get: { model.parameters[spec.offset + $0] },
                                          set: { model.parameters[spec.offset + $0] = $1 })
            assertClose(Array(analytic[spec.offset ..< spec.offset + spec.count]), numeric,
                        absolute: Self.absoluteTolerance, relative: Self.relativeTolerance,
                        "\(spec.name) \(name)", file: file, line: line)
        }
        let numericHidden = numericGradient(count: startHidden.count, get: { startHidden[$0] }, set: { startHidden[$0] = $1 })
        assertClose(analyticHidden, numericHidden, absolute: Self.absoluteTolerance, relative: Self.relativeTolerance,
                    "incoming h \(name)", file: file, line: line)
        let numericCell = numericGradient(count: startCell.count, get: { startCell[$0] }, set: { startCell[$0] = $1 })
        assertClose(analyticCell, numericCell, absolute: Self.absoluteTolerance, relative: Self.relativeTolerance,
                    "incoming c \(name)", file: file, line: line)
    }
}
