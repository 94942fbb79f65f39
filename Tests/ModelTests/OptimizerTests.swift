import XCTest
@testable import Model

/// Two steps from p = [1, -2] with gradients [0.5, -0.1] then [0.2, 0.3], lr 0.1; expected values
/// computed by hand from Keras 3's update rules in float64 (numpy).
final class OptimizerTests: XCTestCase {
    let gradientSteps: [[Float]] = [[0.5, -0.1], [0.2, 0.3]]

    func runSteps(_ optimizer: Optimizer) -> [[Float]] {
        let parameters = UnsafeMutableBufferPointer<Float>.allocate(capacity: 2)
        defer { parameters.deallocate() }
        _ = parameters.initialize(from: [1, -2])
        return gradientSteps.map { gradients in
            gradients.withUnsafeBufferPointer { optimizer.step(parameters: parameters, gradients: $0) }
            return Array(parameters)
        }
    }

    func testAdamMatchesKerasSteps() {
        let adam = AdamOptimizer(count: 2, learningRate: 0.1)
        let steps = runSteps(adam)
        assertClose(steps[0], [0.900_000_63, -1.900_003_16], absolute: 1e-6, "step 1")
        assertClose(steps[1], [0.810_143_64, -1.949_421_65], absolute: 1e-6, "step 2")
        assertClose(Array(adam.m), [0.065, 0.021], absolute: 1e-7, "m")
        assertClose(Array(adam.v), [2.8975e-4, 9.999e-5], absolute: 0, relative: 1e-5, "v")
        XCTAssertEqual(adam.iterations, 2)
        XCTAssertEqual(adam.state.map(\.name), ["m", "v"])
    }

    func testSGDWithMomentumMatchesKerasSteps() {
        let sgd = SGDOptimizer(count: 2, learningRate: 0.1, momentum: 0.9)
        let steps = runSteps(sgd)
        assertClose(steps[0], [0.95, -1.99], absolute: 1e-6, "step 1")
        assertClose(steps[1], [0.885, -2.011], absolute: 1e-6, "step 2")
        assertClose(Array(sgd.velocity), [-0.065, -0.021], absolute: 1e-7, "velocity")
        XCTAssertEqual(sgd.state.map(\.name), ["velocity"])
    }

    func testPlainSGDSubtractsTheScaledGradient() {
        let steps = runSteps(SGDOptimizer(count: 2, learningRate: 0.1))
        assertClose(steps[1], [0.93, -2.02], absolute: 1e-6, "step 2")
    }

    func testClippingScalesToTheMaximumNormAndReportsTheNormBefore() {
        var gradients: [Float] = [3, 4] + [Float](repeating: 0, count: 20)
        let norm = gradients.withUnsafeMutableBufferPointer { clipByGlobalNorm($0, maxNorm: 1) }
        XCTAssertEqual(norm, 5)
        assertClose(Array(gradients.prefix(2)), [0.6, 0.8], absolute: 1e-7, "clipped")
        let unchanged = gradients.withUnsafeMutableBufferPointer { clipByGlobalNorm($0, maxNorm: 2) }
        XCTAssertEqual(unchanged, 1, accuracy: 1e-6)
        assertClose(Array(gradients.prefix(2)), [0.6, 0.8], absolute: 1e-7, "below the maximum: unchanged")
    }
}
