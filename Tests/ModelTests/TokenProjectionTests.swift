import XCTest
@testable import Model

/// The first layer's input projection through TokenProjection's table against the embedding and
/// the input product, on the same weights and window: a model made with dropout at rate 0 takes
/// the plain path whenever a run drops (its masks are all 1), the same model without dropout the table.
final class TokenProjectionTests: XCTestCase {
    func testTheTableGivesWhatTheEmbeddingAndTheInputProductGive() {
        // 17 slots (a full 16-lane vector and a tail in the scatter of dP), padded and idle slots, 4H = 84.
        let config = ModelConfig(input: .tokens(vocabSize: 23, embedding: 7), hidden: 21, layers: 2,
                                 head: .multiclass, outputs: 5)
        let slots = 17, window = 5
        XCTAssertTrue(TokenProjection.pays(vocabulary: 23, slots: slots, window: window))
        let cycle: [SlotPattern] = [.full, .prePadded(2), .postPadded(1), .idle]
        let batch = WindowBatch(config: config, slots: slots, window: window)
        var random = TestRandom(31)
        fillBatch(batch, config: config, patterns: (0 ..< slots).map { cycle[$0 % 4] }, targets: .perStep, random: &random)
        let table = LSTMModel(config: config, slots: slots, window: window)
        let plain = LSTMModel(config: config, slots: slots, window: window,
                              dropout: Dropout(rate: 0, seed: 1, firstGlobalSlot: 0))
        randomize(table, seed: 3)
        randomize(plain, seed: 3)
        let tableResult = table.run(batch, backward: true)
        let plainResult = plain.run(batch, backward: true, dropoutStep: 0)
        XCTAssertEqual(tableResult.targets, plainResult.targets)
        XCTAssertEqual(tableResult.lossSum, plainResult.lossSum, accuracy: 1e-5 * abs(plainResult.lossSum))
        assertClose(Array(table.outputs), Array(plain.outputs), absolute: 1e-6, relative: 1e-5, "outputs")
        assertClose(table.gradients.array, plain.gradients.array, absolute: 1e-6, relative: 1e-4, "gradients")
        assertClose(table.hidden.array, plain.hidden.array, absolute: 1e-6, relative: 1e-5, "h")
        assertClose(table.hiddenGradient.array, plain.hiddenGradient.array, absolute: 1e-6, relative: 1e-4, "dh")
        // Not trivially equal: the embedding's and the first kernel's gradients are not zero.
        let embedding = table.parameterLayout["embedding/embeddings"]!, kernel = table.parameterLayout["lstm_0/kernel"]!
        XCTAssertTrue(table.gradients[embedding.offset ..< embedding.offset + embedding.count].contains { $0 != 0 })
        XCTAssertTrue(table.gradients[kernel.offset ..< kernel.offset + kernel.count].contains { $0 != 0 })
    }
}
