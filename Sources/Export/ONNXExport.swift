import Foundation
import Model
import Storage
import SwiftProtobuf

/// An ONNX model (IR version 8, opset 17) of ONE timestep, for serving a stream event by event,
/// built from plain operators. Batch B is free (`batch`):
/// - inputs `x` (int64 [B] tokens, or float32 [B, F]) and `h_0`, `c_0`, ..., `h_{n-1}`, `c_{n-1}`
///   (float32 [B, H]);
/// - outputs `y` (float32 [B, K]: probabilities, one sigmoid for binary, or values) and
///   `h_0_out`, `c_0_out`, ... in the same order.
/// Layer l: z = x W + h U + b, split into the gates i, f, g, o (our order, Keras'), then
/// c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c'). A normalised dataset's
/// statistics are applied to `x` ((x - mean) / std) and, for regression, undone on `y`, so both
/// are in original units.
struct ONNXExport {
    let network: ExportedNetwork

    static let irVersion: Int64 = 8
    static let opset: Int64 = 17

    func write(to path: String) throws {
        let bytes: [UInt8] = try model().serializedBytes()
        try AtomicOutput.writeBytes(bytes, to: path)
    }

    func model() -> Onnx_ModelProto {
        var graph = GraphBuilder(name: "lstm_dist")
        let config = network.config, H = network.hidden
        let batch = Onnx_TensorShapeProto.Dimension.with { $0.dimParam = "batch" }

        var input: String
        switch config.input {
        case .tokens:
            graph.input("x", .int64, [batch], doc: "token ids, one per stream")
            graph.constant("embedding", network.embedding!)
            input = graph.node("Gather", ["embedding", "x"], "embedded")
        case .features(let F):
            graph.input("x", .float, [batch, .with { $0.dimValue = Int64(F) }], doc: "one timestep's features per stream, in original units")
            input = "x"
            if let scaling = network.inputScaling {
                graph.constant("inputs_mean", Tensor(scaling.mean))
                graph.constant("inputs_std", Tensor(scaling.std))
                input = graph.node("Div", [graph.node("Sub", ["x", "inputs_mean"], "centred_inputs"), "inputs_std"], "normalized_inputs")
            }
        }
        for (l, layer) in network.layers.enumerated() {
            let width = Onnx_TensorShapeProto.Dimension.with { $0.dimValue = Int64(H) }
            graph.input("h_\(l)", .float, [batch, width], doc: "layer \(l)'s h before this timestep (zeros to start a stream)")
            graph.input("c_\(l)", .float, [batch, width], doc: "layer \(l)'s c before this timestep (zeros to start a stream)")
            graph.constant("kernel_\(l)", layer.kernel)
            graph.constant("recurrent_kernel_\(l)", layer.recurrentKernel)
            graph.constant("bias_\(l)", layer.bias)
            let inputPart = graph.node("MatMul", [input, "kernel_\(l)"], "input_projection_\(l)")
            let recurrentPart = graph.node("MatMul", ["h_\(l)", "recurrent_kernel_\(l)"], "recurrent_projection_\(l)")
            let sum = graph.node("Add", [inputPart, recurrentPart], "projections_\(l)")
            let z = graph.node("Add", [sum, "bias_\(l)"], "preactivations_\(l)")
            let gates = ["i", "f", "g", "o"].map { "\($0)_preactivation_\(l)" }
            graph.node("Split", [z], gates, attributes: [.with { $0.name = "axis"; $0.type = .int; $0.i = 1 }])
            let i = graph.node("Sigmoid", [gates[0]], "input_gate_\(l)")
            let f = graph.node("Sigmoid", [gates[1]], "forget_gate_\(l)")
            let g = graph.node("Tanh", [gates[2]], "candidate_\(l)")
            let o = graph.node("Sigmoid", [gates[3]], "output_gate_\(l)")
            let kept = graph.node("Mul", [f, "c_\(l)"], "kept_\(l)")
            let added = graph.node("Mul", [i, g], "added_\(l)")
            graph.node("Add", [kept, added], ["c_\(l)_out"])
            let squashed = graph.node("Tanh", ["c_\(l)_out"], "squashed_cell_\(l)")
            graph.node("Mul", [o, squashed], ["h_\(l)_out"])
            input = "h_\(l)_out"
        }
        graph.constant("dense_kernel", network.denseKernel)
        graph.constant("dense_bias", network.denseBias)
        let logits = graph.node("Add", [graph.node("MatMul", [input, "dense_kernel"], "dense_product"), "dense_bias"], "logits")
        switch config.head {
        case .binary: graph.node("Sigmoid", [logits], ["y"])
        case .multiclass: graph.node("Softmax", [logits], ["y"])
        case .regression:
            if let scaling = network.outputScaling {
                graph.constant("targets_mean", Tensor(scaling.mean))
                graph.constant("targets_std", Tensor(scaling.std))
                graph.node("Add", [graph.node("Mul", [logits, "targets_std"], "scaled_outputs"), "targets_mean"], ["y"])
            } else {
                graph.node("Identity", [logits], ["y"])
            }
        }

        let outputs = Onnx_TensorShapeProto.Dimension.with { $0.dimValue = Int64(network.outputs) }
        graph.output("y", [batch, outputs], doc: config.head == .regression ? "predicted values" : "class probabilities (binary: of class 1)")
        for l in 0 ..< config.layers {
            let width = Onnx_TensorShapeProto.Dimension.with { $0.dimValue = Int64(H) }
            graph.output("h_\(l)_out", [batch, width], doc: "layer \(l)'s h after this timestep: feed it back as h_\(l)")
            graph.output("c_\(l)_out", [batch, width], doc: "layer \(l)'s c after this timestep: feed it back as c_\(l)")
        }

        return .with {
            $0.irVersion = Self.irVersion
            $0.opsetImport = [.with { $0.domain = ""; $0.version = Self.opset }]
            $0.producerName = "lstm-dist"
            $0.docString = "One timestep of a stateful LSTM exported by lstm-dist: feed each stream's valid timesteps in order, "
                + "passing h_l_out and c_l_out back as h_l and c_l; start from zeros or from NAME.state.h5 (/state/h[l], /state/c[l])."
            $0.graph = graph.proto
        }
    }
}

/// Accumulates a graph's nodes, constants, inputs and outputs in order.
private struct GraphBuilder {
    var proto = Onnx_GraphProto()

    init(name: String) { proto.name = name }

    mutating func input(_ name: String, _ type: Onnx_TensorProto.DataType, _ shape: [Onnx_TensorShapeProto.Dimension], doc: String) {
        proto.input.append(valueInfo(name, type, shape, doc: doc))
    }

    mutating func output(_ name: String, _ shape: [Onnx_TensorShapeProto.Dimension], doc: String) {
        proto.output.append(valueInfo(name, .float, shape, doc: doc))
    }

    /// A float32 initializer, raw little-endian bytes.
    mutating func constant(_ name: String, _ tensor: Tensor) {
        proto.initializer.append(.with {
            $0.name = name
            $0.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            $0.dims = tensor.shape.map { Int64($0) }
            $0.rawData = Data(tensor.littleEndianBytes)
        })
    }

    /// A node with one output named `output`; returns that name.
    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], _ output: String) -> String {
        node(op, inputs, [output])
        return output
    }

    mutating func node(_ op: String, _ inputs: [String], _ outputs: [String], attributes: [Onnx_AttributeProto] = []) {
        proto.node.append(.with {
            $0.opType = op
            $0.name = "\(op.lowercased())_\(proto.node.count)"
            $0.input = inputs
            $0.output = outputs
            $0.attribute = attributes
        })
    }

    private func valueInfo(_ name: String, _ type: Onnx_TensorProto.DataType, _ shape: [Onnx_TensorShapeProto.Dimension], doc: String) -> Onnx_ValueInfoProto {
        .with {
            $0.name = name
            $0.docString = doc
            $0.type = .with {
                $0.tensorType = .with {
                    $0.elemType = Int32(type.rawValue)
                    $0.shape = .with { $0.dim = shape }
                }
            }
        }
    }
}
