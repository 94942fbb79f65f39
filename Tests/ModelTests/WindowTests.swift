import XCTest
@testable import Model

/// How windows, masks and state interact: the stream properties docs/layout.md relies on.
final class WindowTests: XCTestCase {
    let config = ModelConfig(input: .tokens(vocabSize: 9, embedding: 4), hidden: 6, layers: 2, head: .multiclass, outputs: 9)

    func makeModel(slots: Int, window: Int) -> LSTMModel {
        let model = LSTMModel(config: config, slots: slots, window: window)
        randomize(model, seed: 3)
        return model
    }

    func testTwoChainedWindowsEqualOneWindowTwiceAsLong() {
        let slots = 3, half = 4
        let long = makeModel(slots: slots, window: 2 * half), short = makeModel(slots: slots, window: half)
        let longBatch = WindowBatch(config: config, slots: slots, window: 2 * half)
        var random = TestRandom(5)
        fillBatch(longBatch, config: config, patterns: [.prePadded(3), .postPadded(2), .full], targets: .perStep, random: &random)
        let longResult = long.run(longBatch, backward: false)
        let longOutputs = Array(long.outputs)

        var shortOutputs: [Float] = [], shortLoss = 0.0, shortTargets = 0
        let shortBatch = WindowBatch(config: config, slots: slots, window: half)
        for part in 0 ..< 2 {
            let rows = (part * half * slots) ..< ((part + 1) * half * slots)
            _ = shortBatch.tokens.update(fromContentsOf: longBatch.tokens[rows])
            _ = shortBatch.mask.update(fromContentsOf: longBatch.mask[rows])
            _ = shortBatch.targetMask.update(fromContentsOf: longBatch.targetMask[rows])
            _ = shortBatch.classTargets.update(fromContentsOf: longBatch.classTargets[rows])
            let result = short.run(shortBatch, backward: part == 1)
            shortLoss += result.lossSum
            shortTargets += result.targets
            shortOutputs += short.outputs
        }
        assertClose(shortOutputs, longOutputs, absolute: 1e-6, "outputs")
        assertClose(short.hidden.array, long.hidden.array, absolute: 1e-6, "final h")
        assertClose(short.cell.array, long.cell.array, absolute: 1e-6, "final c")
        XCTAssertEqual(shortLoss, longResult.lossSum, accuracy: 1e-5 * abs(longResult.lossSum))
        XCTAssertEqual(shortTargets, longResult.targets)
    }

    /// The same sequences with one padded step inserted (pre-style in slot 0, post-style in slot 1)
    /// give the same outputs, loss, gradients and final state.
    func testPaddedTimestepChangesNothing() {
        let slots = 2, window = 3
        let plain = makeModel(slots: slots, window: window), padded = makeModel(slots: slots, window: window + 1)
        let plainBatch = WindowBatch(config: config, slots: slots, window: window)
        var random = TestRandom(8)
        fillBatch(plainBatch, config: config, patterns: [.full, .full], targets: .perStep, random: &random)
        // Where each plain timestep lands in the padded window, per slot; the other step is padding.
        let paddedTime = [[0, 2, 3], [0, 1, 2]]
        let paddedBatch = WindowBatch(config: config, slots: slots, window: window + 1)
        for r in 0 ..< slots * (window + 1) {
            paddedBatch.tokens[r] = Int32(random.int(9))
            paddedBatch.classTargets[r] = Int32(random.int(9))
        }
        for b in 0 ..< slots {
            for t in 0 ..< window {
                let from = t * slots + b, to = paddedTime[b][t] * slots + b
                paddedBatch.tokens[to] = plainBatch.tokens[from]
                paddedBatch.mask[to] = 1
                paddedBatch.targetMask[to] = 1
                paddedBatch.classTargets[to] = plainBatch.classTargets[from]
            }
        }
        let plainResult = plain.run(plainBatch, backward: true)
        let paddedResult = padded.run(paddedBatch, backward: true)
        XCTAssertEqual(plainResult.targets, paddedResult.targets)
        XCTAssertEqual(plainResult.lossSum, paddedResult.lossSum, accuracy: 1e-6 * abs(plainResult.lossSum))
        let K = config.outputs
        for b in 0 ..< slots {
            for t in 0 ..< window {
                let from = (t * slots + b) * K, to = (paddedTime[b][t] * slots + b) * K
                assertClose(Array(plain.outputs[from ..< from + K]), Array(padded.outputs[to ..< to + K]),
                            absolute: 1e-6, "outputs of slot \(b) step \(t)")
            }
        }
        assertClose(plain.hidden.array, padded.hidden.array, absolute: 1e-6, "final h")
        assertClose(plain.cell.array, padded.cell.array, absolute: 1e-6, "final c")
        assertClose(Array(plain.gradients), Array(padded.gradients), absolute: 1e-6, relative: 1e-5, "gradients")
        assertClose(plain.hiddenGradient.array, padded.hiddenGradient.array, absolute: 1e-6, "incoming h gradient")
        assertClose(plain.cellGradient.array, padded.cellGradient.array, absolute: 1e-6, "incoming c gradient")
    }

    /// An idle slot keeps its state bit for bit, gets zero state gradient, and whatever garbage
    /// it holds (even a target flag) changes no gradient.
    func testIdleSlotHasNoEffect() {
        let slots = 3, window = 5, idle = 2
        let model = makeModel(slots: slots, window: window)
        let batch = WindowBatch(config: config, slots: slots, window: window)
        var random = TestRandom(21)
        fillBatch(batch, config: config, patterns: [.full, .postPadded(1), .idle], targets: .perStep, random: &random)
        let startHidden = model.hidden.array, startCell = model.cell.array

        func gradientsWithGarbage(seed: UInt64) -> (WindowResult, [Float]) {
            var garbage = TestRandom(seed)
            for t in 0 ..< window {
                batch.tokens[t * slots + idle] = Int32(garbage.int(9))
                batch.classTargets[t * slots + idle] = Int32(garbage.int(9))
                batch.targetMask[t * slots + idle] = 1
            }
            model.setState(hidden: startHidden, cell: startCell)
            let result = model.run(batch, backward: true)
            return (result, Array(model.gradients))
        }
        let (first, firstGradients) = gradientsWithGarbage(seed: 1)
        let (second, secondGradients) = gradientsWithGarbage(seed: 2)
        XCTAssertEqual(first, second)
        XCTAssertEqual(first.targets, 5 + 4)
        XCTAssertEqual(firstGradients, secondGradients)

        let H = config.hidden
        for layer in 0 ..< config.layers {
            let slotRange = ((layer * slots + idle) * H) ..< ((layer * slots + idle + 1) * H)
            XCTAssertEqual(Array(model.hidden[slotRange]), Array(startHidden[slotRange]), "layer \(layer) h")
            XCTAssertEqual(Array(model.cell[slotRange]), Array(startCell[slotRange]), "layer \(layer) c")
            XCTAssertEqual(Array(model.hiddenGradient[slotRange]), [Float](repeating: 0, count: H))
            XCTAssertEqual(Array(model.cellGradient[slotRange]), [Float](repeating: 0, count: H))
        }
    }

    func testWindowWithoutTargetsGivesZeroGradientsAndStillAdvancesState() {
        let model = makeModel(slots: 2, window: 4)
        let batch = WindowBatch(config: config, slots: 2, window: 4)
        var random = TestRandom(4)
        fillBatch(batch, config: config, patterns: [.full, .prePadded(1)], targets: .perRow, random: &random)
        batch.targetMask.update(repeating: 0)
        model.gradients.update(repeating: .nan)
        let startHidden = model.hidden.array
        let result = model.run(batch, backward: true)
        XCTAssertEqual(result, WindowResult(lossSum: 0, targets: 0, correct: 0))
        XCTAssertTrue(model.gradients.allSatisfy { $0 == 0 }, "gradients must be zeroed")
        XCTAssertNotEqual(model.hidden.array, startHidden, "the state still advances")
    }

    /// What a resumed run relies on: a second model built from the same parameters and state (its
    /// buffers elsewhere in memory) computes the same bits.
    func testASeparateModelWithTheSameStateComputesTheSameBits() {
        let first = makeModel(slots: 3, window: 5), second = makeModel(slots: 3, window: 5)
        let batch = WindowBatch(config: config, slots: 3, window: 5)
        var random = TestRandom(31)
        fillBatch(batch, config: config, patterns: [.full, .prePadded(2), .postPadded(1)], targets: .perStep, random: &random)
        let results = [first, second].map { model in
            let result = model.run(batch, backward: true)
            return (result, Array(model.gradients) + model.hidden.array + model.cell.array + Array(model.outputs))
        }
        XCTAssertEqual(results[0].0, results[1].0)
        XCTAssertEqual(results[0].1, results[1].1)
    }

    /// What generate and forecast rely on: a one-slot model, run a step at a time, computes what a slot
    /// gets among others, though its products and gate passes then run along the units instead of the
    /// slots. To float rounding: libxsmm's AVX-512 kernels sum in another order for one column (and
    /// did so for the head's single row before either change).
    func testOneSlotComputesWhatItGetsAmongOtherSlots() {
        let config = ModelConfig(input: .tokens(vocabSize: 9, embedding: 5), hidden: 20, layers: 2,
                                 head: .multiclass, outputs: 9)
        let many = LSTMModel(config: config, slots: 3, window: 1), one = LSTMModel(config: config, slots: 1, window: 1)
        randomize(many, seed: 8)
        _ = one.parameters.update(fromContentsOf: many.parameters)
        let H = config.hidden, slot = 1
        for layer in 0 ..< config.layers {
            let from = (layer * 3 + slot) * H
            for k in 0 ..< H {
                one.hidden[layer * H + k] = many.hidden[from + k]
                one.cell[layer * H + k] = many.cell[from + k]
            }
        }
        let manyBatch = WindowBatch(config: config, slots: 3, window: 1), oneBatch = WindowBatch(config: config, slots: 1, window: 1)
        var random = TestRandom(12)
        for step in 0 ..< 6 {
            fillBatch(manyBatch, config: config, patterns: [.full, step == 2 ? .idle : .full, .full], targets: .perStep,
                      random: &random)
            oneBatch.tokens[0] = manyBatch.tokens[slot]
            oneBatch.mask[0] = manyBatch.mask[slot]
            let stateBefore = (hidden: one.hidden.array, cell: one.cell.array)
            _ = many.run(manyBatch, backward: false)
            _ = one.run(oneBatch, backward: false)
            assertClose(Array(one.outputs), Array(many.outputs[9 * slot ..< 9 * (slot + 1)]), absolute: 1e-7,
                        relative: 1e-5, "outputs of step \(step)")
            for layer in 0 ..< config.layers {
                let rows = ((layer * 3 + slot) * H) ..< ((layer * 3 + slot + 1) * H)
                assertClose(Array(one.hidden[(layer * H) ..< ((layer + 1) * H)]), Array(many.hidden[rows]),
                            absolute: 1e-7, relative: 1e-5, "h of layer \(layer) after step \(step)")
                assertClose(Array(one.cell[(layer * H) ..< ((layer + 1) * H)]), Array(many.cell[rows]),
                            absolute: 1e-7, relative: 1e-5, "c of layer \(layer) after step \(step)")
            }
            if step == 2 {  // idle
                XCTAssertEqual(one.hidden.array, stateBefore.hidden, "an idle step keeps h")
                XCTAssertEqual(one.cell.array, stateBefore.cell, "an idle step keeps c")
            }
        }
    }

    /// A frozen one-step model (generate, forecast) reads its copies of the kernels, rows padded: the
    /// same products in the same order as from the kernels themselves, so the same bits, at one slot
    /// and at several, with a layer wide enough for several of libxsmm's row tiles.
    func testAFrozenModelComputesTheBitsOfTheModelItWasMadeFrom() {
        let config = ModelConfig(input: .tokens(vocabSize: 9, embedding: 5), hidden: 80, layers: 2,
                                 head: .multiclass, outputs: 9)
        for slots in [1, 3] {
            let models = (0 ..< 2).map { _ in
                let model = LSTMModel(config: config, slots: slots, window: 1)
                randomize(model, seed: 4)
                return model
            }
            let (plain, frozen) = (models[0], models[1])
            frozen.freezeKernels()
            let batch = WindowBatch(config: config, slots: slots, window: 1)
            var random = TestRandom(UInt64(slots))
            for step in 0 ..< 4 {
                fillBatch(batch, config: config, patterns: Array(repeating: .full, count: slots), targets: .perStep,
                          random: &random)
                let results = [plain, frozen].map { $0.run(batch, backward: false) }
                XCTAssertEqual(results[0], results[1], "\(slots) slots, step \(step): loss")
                XCTAssertEqual(Array(frozen.outputs), Array(plain.outputs), "\(slots) slots, step \(step): outputs")
                XCTAssertEqual(frozen.hidden.array + frozen.cell.array, plain.hidden.array + plain.cell.array,
                               "\(slots) slots, step \(step): state")
            }
        }
    }

    func testRunsAreBitIdentical() {
        let model = makeModel(slots: 3, window: 5)
        let batch = WindowBatch(config: config, slots: 3, window: 5)
        var random = TestRandom(6)
        fillBatch(batch, config: config, patterns: [.full, .prePadded(2), .postPadded(1)], targets: .perStep, random: &random)
        let startHidden = model.hidden.array, startCell = model.cell.array
        func gradientsAndState() -> [Float] {
            model.setState(hidden: startHidden, cell: startCell)
            _ = model.run(batch, backward: true)
            return Array(model.gradients) + model.hidden.array + model.cell.array + Array(model.outputs)
        }
        XCTAssertEqual(gradientsAndState(), gradientsAndState())
    }

    func testResetStateZeroesOneSlotInEveryLayer() {
        let model = makeModel(slots: 3, window: 2)
        model.resetState(slot: 1)
        let H = config.hidden
        for layer in 0 ..< config.layers {
            for slot in 0 ..< 3 {
                let range = ((layer * 3 + slot) * H) ..< ((layer * 3 + slot + 1) * H)
                XCTAssertEqual(model.hidden[range].allSatisfy { $0 == 0 }, slot == 1)
                XCTAssertEqual(model.cell[range].allSatisfy { $0 == 0 }, slot == 1)
            }
        }
    }

    /// Padding values never reach an output or a gradient, even NaN features.
    func testPaddingValuesAreIgnoredEvenNaN() {
        let config = ModelConfig(input: .features(3), hidden: 5, layers: 2, head: .regression, outputs: 2)
        let model = LSTMModel(config: config, slots: 2, window: 4)
        randomize(model, seed: 12)
        let batch = WindowBatch(config: config, slots: 2, window: 4)
        var random = TestRandom(13)
        fillBatch(batch, config: config, patterns: [.prePadded(2), .postPadded(1)], targets: .perStep, random: &random)
        let startHidden = model.hidden.array, startCell = model.cell.array
        func gradients(padding: Float) -> [Float] {
            for r in 0 ..< 8 where batch.mask[r] == 0 {
                for k in 0 ..< 3 { batch.features[r * 3 + k] = padding }
            }
            model.setState(hidden: startHidden, cell: startCell)
            _ = model.run(batch, backward: true)
            return Array(model.gradients) + model.hidden.array + model.cell.array
        }
        let withNaN = gradients(padding: .nan)
        XCTAssertTrue(withNaN.allSatisfy(\.isFinite))
        XCTAssertEqual(withNaN, gradients(padding: 0))
    }

    /// The gradient trailer is the caller's: a run overwrites the parameter gradients only.
    func testRunLeavesTheGradientTrailerAlone() {
        let model = LSTMModel(config: config, slots: 2, window: 3, gradientTrailer: 3)
        randomize(model, seed: 2)
        let batch = WindowBatch(config: config, slots: 2, window: 3)
        var random = TestRandom(3)
        fillBatch(batch, config: config, patterns: [.full, .full], targets: .perStep, random: &random)
        XCTAssertEqual(model.gradients.count, model.parameterLayout.count + 3)
        for k in model.parameterLayout.count ..< model.gradients.count { model.gradients[k] = Float(k) }
        let trailer = Array(model.gradients[model.parameterLayout.count...])
        _ = model.run(batch, backward: true)
        XCTAssertEqual(Array(model.gradients[model.parameterLayout.count...]), trailer)
        batch.targetMask.update(repeating: 0)
        _ = model.run(batch, backward: true)
        XCTAssertEqual(Array(model.gradients[model.parameterLayout.count...]), trailer)
    }
}
