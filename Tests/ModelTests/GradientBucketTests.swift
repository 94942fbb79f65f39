import XCTest
@testable import Model

/// The gradient buckets backward announces (`GradientReadiness`) and the update applied bucket by
/// bucket as they land: what lets the exchange overlap backward without changing any result.
final class GradientBucketTests: XCTestCase {
    /// Records every call, and a copy of each range's gradient when it is announced.
    private final class Recorder: GradientReadiness {
        let model: () -> LSTMModel
        var calls: [String] = []
        var copies: [(Range<Int>, [Float])] = []
        var progressCalls = 0
        init(_ model: @escaping () -> LSTMModel) { self.model = model }
        func forwardEnded(_ result: WindowResult) { calls.append("forward \(result.targets)") }
        func ready(_ range: Range<Int>) {
            calls.append("ready \(range)")
            copies.append((range, Array(model().gradients[range])))
        }
        func progress() { progressCalls += 1 }
    }

    private func configs() -> [(String, ModelConfig, Dropout?)] {
        [("tokens, no table", ModelConfig(input: .tokens(vocabSize: 40, embedding: 5), hidden: 6, layers: 2, head: .multiclass, outputs: 40), nil),
         ("tokens, table, 3 layers", ModelConfig(input: .tokens(vocabSize: 11, embedding: 5), hidden: 6, layers: 3, head: .multiclass, outputs: 11), nil),
         ("tokens, dropout", ModelConfig(input: .tokens(vocabSize: 11, embedding: 5), hidden: 6, layers: 2, head: .multiclass, outputs: 11),
          Dropout(rate: 0.3, seed: 4, firstGlobalSlot: 0)),
         ("features, 1 layer", ModelConfig(input: .features(3), hidden: 7, layers: 1, head: .regression, outputs: 2), nil)]
    }

    func testBackwardAnnouncesEveryBucketOnceInOrderWhenItsGradientIsFinal() {
        for (name, config, dropout) in configs() {
            let slots = 3, window = 5
            let model = LSTMModel(config: config, slots: slots, window: window, gradientTrailer: 2, dropout: dropout)
            randomize(model, seed: 5)
            let batch = WindowBatch(config: config, slots: slots, window: window)
            var random = TestRandom(8)
            fillBatch(batch, config: config, patterns: [.full, .prePadded(2), .postPadded(1)], targets: .perStep, random: &random)
            let recorder = Recorder { model }
            let result = model.run(batch, backward: true, dropoutStep: dropout == nil ? nil : 3, readiness: recorder)

            // The layout's order is embedding, lstm_0 ... lstm_{L-1}, dense: the buckets, head first,
            // tile it from the top down, each a contiguous range, together every parameter once.
            let buckets = model.gradientBuckets
            XCTAssertEqual(buckets.count, config.layers + 1, name)
            XCTAssertEqual(buckets.first?.upperBound, model.parameterLayout.count, name)
            XCTAssertEqual(buckets.last?.lowerBound, 0, name)
            for (upper, lower) in zip(buckets, buckets.dropFirst()) { XCTAssertEqual(lower.upperBound, upper.lowerBound, name) }
            XCTAssertEqual(model.parameterLayout["dense/kernel"]!.offset, buckets[0].lowerBound, name)

            XCTAssertEqual(recorder.calls, ["forward \(result.targets)"] + buckets.map { "ready \($0)" }, name)
            // Nothing written after the announcement: each copy is the final gradient.
            for (range, copy) in recorder.copies { XCTAssertEqual(copy, Array(model.gradients[range]), "\(name): \(range)") }
            // Between timesteps of every layer's backward.
            XCTAssertEqual(recorder.progressCalls, config.layers * window, name)

            // The same gradients without a readiness.
            let again = LSTMModel(config: config, slots: slots, window: window, gradientTrailer: 2, dropout: dropout)
            randomize(again, seed: 5)
            _ = again.run(batch, backward: true, dropoutStep: dropout == nil ? nil : 3)
            XCTAssertEqual(Array(again.gradients[..<again.parameterLayout.count]), Array(model.gradients[..<model.parameterLayout.count]), name)
        }
    }

    func testAWindowWithoutTargetsStillAnnouncesEveryBucket() {
        let config = ModelConfig(input: .features(2), hidden: 4, layers: 2, head: .binary, outputs: 1)
        let model = LSTMModel(config: config, slots: 2, window: 3)
        let batch = WindowBatch(config: config, slots: 2, window: 3)
        var random = TestRandom(3)
        fillBatch(batch, config: config, patterns: [.idle, .idle], targets: .perRow, random: &random)
        let recorder = Recorder { model }
        _ = model.run(batch, backward: true, readiness: recorder)
        XCTAssertEqual(recorder.calls, ["forward 0"] + model.gradientBuckets.map { "ready \($0)" })
    }

    /// Every update rule, bucket by bucket in any order of landing, equals the whole update bit for bit.
    func testTheUpdateBucketByBucketIsBitIdenticalToTheWholeUpdate() {
        let config = ModelConfig(input: .tokens(vocabSize: 9, embedding: 4), hidden: 5, layers: 2, head: .multiclass, outputs: 9)
        let layout = ParameterLayout(config)
        let buckets = LSTMModel(config: config, slots: 1, window: 1).gradientBuckets
        let makers: [(String, () -> any Optimizer)] = [
            ("adam", { AdamOptimizer(count: layout.count, learningRate: 0.01) }),
            ("sgd", { SGDOptimizer(count: layout.count, learningRate: 0.1) }),
            ("sgd momentum", { SGDOptimizer(count: layout.count, learningRate: 0.1, momentum: 0.9) }),
        ]
        for (name, make) in makers {
            for decay in [Float(0), 0.01] {
                let whole = ParameterUpdate(optimizer: make(), weightDecay: decay > 0 ? WeightDecay(decay: decay, parameterLayout: layout) : nil)
                let pieces = ParameterUpdate(optimizer: make(), weightDecay: decay > 0 ? WeightDecay(decay: decay, parameterLayout: layout) : nil)
                var random = TestRandom(17)
                let start = (0 ..< layout.count).map { _ in random.float() }
                let p1 = UnsafeMutableBufferPointer<Float>.allocate(capacity: layout.count), p2 = UnsafeMutableBufferPointer<Float>.allocate(capacity: layout.count)
                let g1 = UnsafeMutableBufferPointer<Float>.allocate(capacity: layout.count), g2 = UnsafeMutableBufferPointer<Float>.allocate(capacity: layout.count)
                defer { [p1, p2, g1, g2].forEach { $0.deallocate() } }
                _ = p1.initialize(from: start)
                _ = p2.initialize(from: start)
                for step in 0 ..< 3 {
                    let gradient = (0 ..< layout.count).map { _ in random.float(3) }
                    _ = g1.initialize(from: gradient)
                    _ = g2.initialize(from: gradient)
                    whole.apply(parameters: p1, gradients: g1, targets: 7, learningRate: 0.05)
                    var landed: [Int] = []
                    pieces.apply(parameters: p2, gradients: g2, targets: 7, learningRate: 0.05, buckets: buckets) { landed.append($0) }
                    XCTAssertEqual(landed, Array(buckets.indices), name)
                    XCTAssertEqual(Array(p2), Array(p1), "\(name), decay \(decay), step \(step)")
                    XCTAssertEqual(Array(g2), Array(g1), "\(name): the mean gradient")
                }
                XCTAssertEqual(pieces.optimizer.iterations, whole.optimizer.iterations, name)
            }
        }
    }
}
