import Foundation
import Model
import Storage

/// A PyTorch `state_dict` in the safetensors layout, for a module with `embedding`
/// (nn.Embedding, token inputs), `lstm` (nn.LSTM(num_layers=n, batch_first as you like)) and
/// `head` (nn.Linear): `embedding.weight`, `lstm.weight_ih_l0`, `lstm.weight_hh_l0`,
/// `lstm.bias_ih_l0`, `lstm.bias_hh_l0`, ..., `head.weight`, `head.bias`.
/// PyTorch's gate order i, f, g, o is ours; its weights are our kernels transposed; our one bias
/// goes to `bias_ih` and `bias_hh` is zero. The head's activation (sigmoid, softmax or none) is
/// not a module: it is named in the metadata.
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
            named.append(("lstm.weight_ih_l\(l)", layer.kernel.transposed()))
            named.append(("lstm.weight_hh_l\(l)", layer.recurrentKernel.transposed()))
            named.append(("lstm.bias_ih_l\(l)", layer.bias))
            named.append(("lstm.bias_hh_l\(l)", Tensor(shape: layer.bias.shape, values: [Float](repeating: 0, count: layer.bias.values.count))))
        }
        named.append(("head.weight", network.denseKernel.transposed()))
        named.append(("head.bias", network.denseBias))
        return named
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
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw ExportError("\(path): cannot write")
        }
    }
}
