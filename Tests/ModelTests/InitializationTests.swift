import XCTest
@testable import Model

final class InitializationTests: XCTestCase {
    let config = ModelConfig(input: .tokens(vocabSize: 50, embedding: 24), hidden: 16, layers: 2, head: .multiclass, outputs: 5)

    func values(_ model: LSTMModel, _ name: String) -> [Float] {
        let spec = model.parameterLayout[name]!
        return Array(model.parameters[spec.offset ..< spec.offset + spec.count])
    }

    func testLayoutNamesShapesAndOffsets() {
        let layout = ParameterLayout(config)
        XCTAssertEqual(layout.tensors.map(\.name), [
            "embedding/embeddings", "lstm_0/kernel", "lstm_0/recurrent_kernel", "lstm_0/bias",
            "lstm_1/kernel", "lstm_1/recurrent_kernel", "lstm_1/bias", "dense/kernel", "dense/bias",
        ])
        XCTAssertEqual(layout.tensors.map(\.shape), [[50, 24], [24, 64], [16, 64], [64], [16, 64], [16, 64], [64], [16, 5], [5]])
        var offset = 0
        for spec in layout.tensors {
            XCTAssertEqual(spec.offset, offset, spec.name)
            offset += spec.count
        }
        XCTAssertEqual(layout.count, offset)
    }

    /// One orthogonal [H, 4H] matrix per layer: its rows are orthonormal, W W^T = I.
    func testRecurrentKernelsHaveOrthonormalRows() {
        let model = LSTMModel(config: config, slots: 1, window: 1)
        model.initialize(seed: 42)
        let H = config.hidden, G = 4 * H
        for layer in 0 ..< config.layers {
            let w = values(model, "lstm_\(layer)/recurrent_kernel")
            for i in 0 ..< H {
                for j in 0 ..< H {
                    var dot = 0.0
                    for k in 0 ..< G { dot += Double(w[i * G + k]) * Double(w[j * G + k]) }
                    XCTAssertEqual(dot, i == j ? 1 : 0, accuracy: 1e-5, "layer \(layer) (W W^T)[\(i), \(j)]")
                }
            }
        }
    }

    /// The rows are the Q of the Gaussian draws (QR of the transpose with diag(R) > 0), not merely some
    /// orthonormal rows: against plain modified Gram-Schmidt, row by row, at one block of
    /// `orthogonalBlockRows` (16), less than one, and several with a partial last one.
    func testOrthogonalRowsAreTheGramSchmidtBasisOfTheDraws() {
        for (rows, columns) in [(1, 4), (5, 20), (16, 64), (37, 148)] {
            var random = SplitMix64(seed: 3), reference = random
            var matrix = [Float](repeating: 0, count: rows * columns)
            matrix.withUnsafeMutableBufferPointer { fillOrthogonalRows($0, rows: rows, columns: columns, random: &random) }
            var q = (0 ..< (rows * columns + 1) / 2).flatMap { _ in
                let (a, b) = reference.normalPair()
                return [a, b]
            }
            for i in 0 ..< rows {
                for j in 0 ..< i {
                    var dot = 0.0
                    for k in 0 ..< columns { dot += q[j * columns + k] * q[i * columns + k] }
                    for k in 0 ..< columns { q[i * columns + k] -= dot * q[j * columns + k] }
                }
                var norm = 0.0
                for k in 0 ..< columns { norm += q[i * columns + k] * q[i * columns + k] }
                for k in 0 ..< columns { q[i * columns + k] /= norm.squareRoot() }
            }
            for k in 0 ..< rows * columns {
                XCTAssertEqual(Double(matrix[k]), q[k], accuracy: 1e-6, "[\(rows), \(columns)] element \(k)")
            }
        }
    }

    /// Integer terms make every partial sum exact, so any order gives the exact dot product: this checks
    /// the sixteen lanes and the tail of every length up to 40.
    func testFixedOrderDotSumsEveryTerm() {
        for count in 0 ... 40 {
            let u = (0 ..< count).map { Double($0 % 7) - 3 }, v = (0 ..< count).map { Double($0 * $0 % 11) }
            let exact = zip(u, v).map { $0 * $1 }.reduce(0, +)
            XCTAssertEqual(fixedOrderDot(u, v, count: count), exact, "count \(count)")
        }
    }

    func testBiasesAreZeroWithForgetQuarterOne() {
        let model = LSTMModel(config: config, slots: 1, window: 1)
        model.initialize(seed: 1)
        let H = config.hidden
        for layer in 0 ..< config.layers {
            let bias = values(model, "lstm_\(layer)/bias")
            XCTAssertEqual(bias, [Float](repeating: 0, count: H) + [Float](repeating: 1, count: H) + [Float](repeating: 0, count: 2 * H))
        }
        XCTAssertEqual(values(model, "dense/bias"), [Float](repeating: 0, count: config.outputs))
    }

    /// Glorot-uniform: within +-sqrt(6 / (fanIn + fanOut)), filling the range (standard deviation limit / sqrt 3).
    func testKernelsAndEmbeddingsAreUniformWithinTheirBounds() {
        let model = LSTMModel(config: config, slots: 1, window: 1)
        model.initialize(seed: 9)
        let bounds: [(String, Double)] = [
            ("embedding/embeddings", 0.05), ("lstm_0/kernel", (6.0 / (24 + 64)).squareRoot()),
            ("lstm_1/kernel", (6.0 / (16 + 64)).squareRoot()), ("dense/kernel", (6.0 / (16 + 5)).squareRoot()),
        ]
        for (name, limit) in bounds {
            let w = values(model, name).map(Double.init)
            XCTAssertLessThanOrEqual(w.map(abs).max()!, limit, name)
            XCTAssertGreaterThan(w.map(abs).max()!, 0.8 * limit, name)
            let deviation = (w.map { $0 * $0 }.reduce(0, +) / Double(w.count)).squareRoot()
            XCTAssertEqual(deviation, limit / 3.0.squareRoot(), accuracy: 0.15 * limit, name)
        }
    }

    /// The same seed gives the same weights, here and on any platform: the first values are pinned,
    /// so a change to the random stream (which would break reproducing old runs) is noticed.
    func testInitializationIsDeterministicInTheSeed() {
        let first = LSTMModel(config: config, slots: 1, window: 1), second = LSTMModel(config: config, slots: 1, window: 1)
        first.initialize(seed: 5)
        second.initialize(seed: 5)
        XCTAssertEqual(Array(first.parameters), Array(second.parameters))
        second.initialize(seed: 6)
        XCTAssertNotEqual(Array(first.parameters), Array(second.parameters))
        first.initialize(seed: 0)
        XCTAssertEqual(Array(values(first, "lstm_0/kernel").prefix(2)), [-0.13798979, -0.077277355])
        XCTAssertEqual(Array(values(first, "lstm_0/recurrent_kernel").prefix(2)), [-0.078339115, 0.03204815])
    }

    func testNaturalLogMatchesFoundation() {
        for x in [1e-300, 1e-9, 0.1, 0.5, 0.7071, 0.99999, 1, 1.5, 2, 1e6] {
            XCTAssertEqual(naturalLog(x), Foundation.log(x), accuracy: 4e-16 * max(1, abs(Foundation.log(x))), "ln \(x)")
        }
    }
}
