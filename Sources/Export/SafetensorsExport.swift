import Foundation
import Model
import Storage

/// A PyTorch `state_dict` in the safetensors layout, for a module with `embedding`
/// (nn.Embedding, token inputs), `lstm` (nn.LSTM(num_layers=n, batch_first as you like)) and
/// `head` (nn.Linear): `embedding.weight`, `lstm.weight_ih_l0`, `lstm.weight_hh_l0`,
/// `lstm.bias_ih_l0`, `lstm.bias_hh_l0`, ..., `head.weight`, `head.bias`.
/// PyTorch's gate order i, f, g, o is ours; its weights are our kernels transposed; our one bias
/// goes to `bias_ih` and `bias_hh` is zero. The head's activation (sigmoid, softmax or none) is
/// not a module: it is named in the metadata. A normalised dataset's statistics are folded into
/// the first layer's input weights and the head, so the module reads and predicts original units.
///
/// Written by hand rather than through a library: the format is an 8-byte little-endian header
/// length, a JSON header (`{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin,
/// end]}, "__metadata__": {...}}`, padded with spaces to a multiple of 8 bytes) and the tensors'
/// raw little-endian bytes back to back; no Swift package for it is on the package mirror, and
/// it is twenty lines.
struct SafetensorsExport {
    let network: ExportedNetwork

    /// The tensors in file order, under PyTorch's names.
    func tensors() -> [(name: String, tensor: Tensor)] {
        var named: [(String, Tensor)] = []
        if let embedding = network.embedding { named.append(("embedding.weight", embedding)) }
        for (l, layer) in network.layers.enumerated() {
            var kernel = layer.kernel, bias = layer.bias
            if l == 0, let scaling = network.inputScaling { (kernel, bias) = Self.foldInputs(kernel, bias, scaling) }
            named.append(("lstm.weight_ih_l\(l)", kernel.transposed()))
            named.append(("lstm.weight_hh_l\(l)", layer.recurrentKernel.transposed()))
            named.append(("lstm.bias_ih_l\(l)", bias))
            named.append(("lstm.bias_hh_l\(l)", Tensor(shape: bias.shape, values: [Float](repeating: 0, count: bias.values.count))))
        }
        var head = (kernel: network.denseKernel, bias: network.denseBias)
        if let scaling = network.outputScaling { head = Self.foldOutputs(head.kernel, head.bias, scaling) }
        named.append(("head.weight", head.kernel.transposed()))
        named.append(("head.bias", head.bias))
        return named
    }

    /// kernel [F, G], bias [G] reading z = (x - mean) / std -> the same layer reading x:
    /// kernel[f, g] / std_f and bias_g - sum_f kernel[f, g] mean_f / std_f (in float64).
    static func foldInputs(_ kernel: Tensor, _ bias: Tensor, _ scaling: (mean: [Double], std: [Double])) -> (Tensor, Tensor) {
        let F = kernel.shape[0], G = kernel.shape[1]
        var folded = kernel.values, shifts = bias.values.map(Double.init)
        for f in 0 ..< F {
            for g in 0 ..< G {
                let w = Double(kernel.values[f * G + g])
                folded[f * G + g] = Float(w / scaling.std[f])
                shifts[g] -= w * scaling.mean[f] / scaling.std[f]
            }
        }
        return (Tensor(shape: kernel.shape, values: folded), Tensor(shape: bias.shape, values: shifts.map { Float($0) }))
    }

    /// kernel [H, K], bias [K] predicting z units -> the same head predicting original units
    /// (z std_k + mean_k).
    static func foldOutputs(_ kernel: Tensor, _ bias: Tensor, _ scaling: (mean: [Double], std: [Double])) -> (kernel: Tensor, bias: Tensor) {
        let K = kernel.shape[1]
        let folded = kernel.values.enumerated().map { Float(Double($0.element) * scaling.std[$0.offset % K]) }
        let shifted = bias.values.enumerated().map { Float(Double($0.element) * scaling.std[$0.offset] + scaling.mean[$0.offset]) }
        return (Tensor(shape: kernel.shape, values: folded), Tensor(shape: bias.shape, values: shifted))
    }

    func write(to path: String) throws {
        let named = tensors()
        var header: [String: Any] = [:]
        var offset = 0
        for (name, tensor) in named {
            let size = tensor.values.count * 4
            header[name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + size]] as [String: Any]
            offset += size
        }
        let activation = switch network.config.head {
        case .binary: "sigmoid"
        case .multiclass: "softmax"
        case .regression: "none"
        }
        header["__metadata__"] = [
            "format": "pt", "producer": "lstm-dist", "head_activation": activation,
            "num_layers": "\(network.config.layers)", "hidden_size": "\(network.hidden)", "global_slots": "\(network.globalSlots)",
        ]
        var json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))

        var bytes = [UInt8]()
        bytes.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: json)
        for (_, tensor) in named { bytes.append(contentsOf: tensor.littleEndianBytes) }
        try AtomicOutput.writeBytes(bytes, to: path)
    }
}
