@testable import Export
import Storage
import XCTest

final class ExportTests: XCTestCase {
    func testTheStateFileTakesTheModelsNameWithoutTheFormatsExtension() {
        XCTAssertEqual(Exporter.statePath(for: "out/model.keras", format: .keras), "out/model.state.h5")
        XCTAssertEqual(Exporter.statePath(for: "model.onnx", format: .onnx), "model.state.h5")
        XCTAssertEqual(Exporter.statePath(for: "a.b.safetensors", format: .safetensors), "a.b.state.h5")
        XCTAssertEqual(Exporter.statePath(for: "model", format: .onnx), "model.state.h5")
        XCTAssertEqual(Exporter.statePath(for: "model.keras", format: .onnx), "model.keras.state.h5")
    }

    /// x W' + b' with the folded weights equals ((x - mean) / std) W + b, for inputs far from zero.
    func testInputStatisticsFoldedIntoTheKernelEqualNormalisingTheInputs() {
        let F = 3, G = 8
        let kernel = Tensor(shape: [F, G], values: (0 ..< F * G).map { Float(($0 * 37 % 17) - 8) / 10 })
        let bias = Tensor(shape: [G], values: (0 ..< G).map { Float($0) / 7 - 0.5 })
        let scaling = (mean: [1013.2, -20.5, 0.25], std: [8.5, 0.5, 2.0])
        let (folded, shifted) = SafetensorsExport.foldInputs(kernel, bias, scaling)
        let x = [1021.7, -20.1, -1.75]
        for g in 0 ..< G {
            var expected = Double(bias.values[g]), ours = Double(shifted.values[g])
            for f in 0 ..< F {
                expected += (x[f] - scaling.mean[f]) / scaling.std[f] * Double(kernel.values[f * G + g])
                ours += x[f] * Double(folded.values[f * G + g])
            }
            XCTAssertEqual(ours, expected, accuracy: 1e-4, "gate column \(g)")
        }
    }

    /// h W' + b' equals (h W + b) std + mean for every output k.
    func testTargetStatisticsFoldedIntoTheHeadGiveOriginalUnits() {
        let H = 4, K = 2
        let kernel = Tensor(shape: [H, K], values: [0.5, -1, 0.25, 2, -0.75, 0.1, 1.5, -0.3])
        let bias = Tensor(shape: [K], values: [0.2, -0.4])
        let scaling = (mean: [50.0, -3.0], std: [4.0, 0.5])
        let (folded, shifted) = SafetensorsExport.foldOutputs(kernel, bias, scaling)
        let h = [0.3, -0.8, 0.5, 0.1]
        for k in 0 ..< K {
            var z = Double(bias.values[k]), ours = Double(shifted.values[k])
            for j in 0 ..< H {
                z += h[j] * Double(kernel.values[j * K + k])
                ours += h[j] * Double(folded.values[j * K + k])
            }
            XCTAssertEqual(ours, z * scaling.std[k] + scaling.mean[k], accuracy: 1e-5, "output \(k)")
        }
    }

    func testTransposeAndLittleEndianBytes() {
        let matrix = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(matrix.transposed(), Tensor(shape: [3, 2], values: [1, 4, 2, 5, 3, 6]))
        XCTAssertEqual(Tensor(shape: [1], values: [1]).littleEndianBytes, [0x00, 0x00, 0x80, 0x3F])
    }
}
