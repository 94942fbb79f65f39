import Foundation
import Model
import Storage
import ZIPFoundation

/// A Keras 3 `.keras` file, as `keras.saving.save_model` writes it (keras/src/saving/saving_lib.py):
/// a zip, members stored uncompressed, of
/// - `config.json`: the functional model, layer by layer, with each layer's inbound tensors;
/// - `metadata.json`: the Keras version the layout follows and the date;
/// - `model.weights.h5`: `/layers/<layer>/vars/<i>` datasets, where `<layer>` is the snake-case
///   class name made unique in model order (`lstm`, `lstm_1`, ...; an LSTM's weights sit under
///   its cell, `/layers/lstm/cell/vars/0..2` = kernel, recurrent kernel, bias).
///
/// The model: inputs `x` ([B, T] int32 tokens or [B, T, F] float32 features) and `mask` ([B, T]
/// bool, true at valid timesteps); an Embedding, or for a normalised dataset the input
/// normalisation (Keras' Normalization layer with the dataset's statistics); the stacked LSTM
/// layers, stateful and returning sequences, each given `mask` so masked timesteps keep the state;
/// the Dense head with its activation; and, for normalised regression targets, the output
/// de-normalisation (an inverted Normalization). Inputs and outputs are in original units.
struct KerasExport {
    let network: ExportedNetwork
    let batch: Int

    /// The Keras version whose saving format this follows (and that the tests load it with).
    static let kerasVersion = "3.15.1"

    func write(to path: String) throws {
        let weights = path + ".weights.h5"
        defer { try? FileManager.default.removeItem(atPath: weights) }
        try writeWeights(to: weights)
        let members: [(String, Data)] = [
            ("metadata.json", try json(["keras_version": Self.kerasVersion, "date_saved": Self.dateSaved(), "producer": "lstm-dist"])),
            ("config.json", try json(modelConfig())),
            ("model.weights.h5", try Data(contentsOf: URL(fileURLWithPath: weights))),
        ]
        let archive: Archive
        do { archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .create) } catch {
            throw Self.writeFailure(path, error)
        }
        for (name, data) in members {
            do {
                try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .none) { position, size in
                    data.subdata(in: Int(position) ..< Int(position) + size)
                }
            } catch {
                throw Self.writeFailure(path, error)
            }
        }
    }

    /// ZIPFoundation's errors print Foundation's dump; a person needs the system's reason, and
    /// `AtomicOutput` names the output rather than its temporary file when it has one.
    private static func writeFailure(_ path: String, _ error: Error) -> Error {
        var error = error as NSError
        while error.domain != NSPOSIXErrorDomain, let underlying = error.userInfo[NSUnderlyingErrorKey] as? any Error { error = underlying as NSError }
        let reason = error.domain == NSPOSIXErrorDomain ? String(cString: strerror(Int32(error.code))) : error.localizedDescription
        return StorageError("\(path): cannot write the zip archive", systemReason: reason)
    }

    // MARK: model.weights.h5

    private func writeWeights(to path: String) throws {
        let file = try H5File(path: path, mode: .truncate)
        func store(_ group: String, _ tensors: [Tensor]) throws {
            for (index, tensor) in tensors.enumerated() {
                try file.createDataset("layers/\(group)/vars/\(index)", of: Float.self, shape: tensor.shape).write(tensor.values)
            }
        }
        if let embedding = network.embedding { try store("embedding", [embedding]) }
        for (index, layer) in network.layers.enumerated() {
            try store((index == 0 ? "lstm" : "lstm_\(index)") + "/cell", [layer.kernel, layer.recurrentKernel, layer.bias])
        }
        try store("dense", [network.denseKernel, network.denseBias])
    }

    // MARK: config.json

    /// The functional model's configuration, the layers in model order.
    private func modelConfig() -> [String: Any] {
        let config = network.config
        let time = NSNull()
        var layers: [[String: Any]] = []
        let xShape: [Any], xType: String
        switch config.input {
        case .tokens: (xShape, xType) = ([batch, time], "int32")
        case .features(let F): (xShape, xType) = ([batch, time, F], "float32")
        }
        layers.append(inputLayer("x", shape: xShape, dtype: xType))

        var previous = (name: "x", shape: xShape)
        func add(_ className: String, _ name: String, _ settings: [String: Any], width: Int, masked: Bool = false) {
            var layerConfig = settings
            layerConfig["name"] = name
            layerConfig["trainable"] = true
            layerConfig["dtype"] = "float32"
            var kwargs: [String: Any] = [:]
            if masked { kwargs["mask"] = kerasTensor(from: "mask", shape: [batch, time], dtype: "bool") }
            layers.append([
                "module": "keras.layers", "class_name": className, "registered_name": NSNull(), "name": name,
                "config": layerConfig,
                "build_config": ["input_shape": previous.shape],
                "inbound_nodes": [["args": [kerasTensor(from: previous.name, shape: previous.shape, dtype: previous.name == "x" ? xType : "float32")],
                                   "kwargs": kwargs]],
            ])
            previous = (name, [batch, time, width])
        }

        switch config.input {
        case .tokens(let vocabulary, let width):
            add("Embedding", "embedding", ["input_dim": vocabulary, "output_dim": width, "mask_zero": false], width: width)
        case .features(let F):
            if let scaling = network.inputScaling {
                add("Normalization", "normalize_inputs", normalization(scaling, invert: false), width: F)
            }
        }
        layers.append(inputLayer("mask", shape: [batch, time], dtype: "bool"))
        for layer in 0 ..< config.layers {
            add("LSTM", "lstm_\(layer)", [
                "units": config.hidden, "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": true,
                "return_sequences": true, "return_state": false, "go_backwards": false, "stateful": true, "unroll": false,
                "zero_output_for_mask": false, "unit_forget_bias": true, "dropout": 0.0, "recurrent_dropout": 0.0,
            ], width: config.hidden, masked: true)
        }
        let activation = switch config.head {
        case .binary: "sigmoid"
        case .multiclass: "softmax"
        case .regression: "linear"
        }
        add("Dense", "dense", ["units": config.outputs, "activation": activation, "use_bias": true], width: config.outputs)
        if let scaling = network.outputScaling {
            add("Normalization", "denormalize_outputs", normalization(scaling, invert: true), width: config.outputs)
        }

        return [
            "module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional",
            "config": [
                "name": "lstm_dist", "trainable": true, "layers": layers,
                "input_layers": [["x", 0, 0], ["mask", 0, 0]],
                "output_layers": [previous.name, 0, 0],
            ] as [String: Any],
            "build_config": ["input_shape": NSNull()],
            "compile_config": NSNull(),
        ]
    }

    /// Keras' Normalization with fixed statistics (no weights): (x - mean) / sqrt(variance), or
    /// inverted, y * sqrt(variance) + mean.
    private func normalization(_ scaling: (mean: [Double], std: [Double]), invert: Bool) -> [String: Any] {
        ["axis": [-1], "invert": invert, "mean": scaling.mean, "variance": scaling.std.map { $0 * $0 }]
    }

    private func inputLayer(_ name: String, shape: [Any], dtype: String) -> [String: Any] {
        [
            "module": "keras.layers", "class_name": "InputLayer", "registered_name": NSNull(), "name": name,
            "config": ["batch_shape": shape, "dtype": dtype, "sparse": false, "ragged": false, "name": name, "optional": false] as [String: Any],
            "inbound_nodes": [Any](),
        ]
    }

    private func kerasTensor(from layer: String, shape: [Any], dtype: String) -> [String: Any] {
        ["class_name": "__keras_tensor__", "config": ["shape": shape, "dtype": dtype, "keras_history": [layer, 0, 0]] as [String: Any]]
    }

    private func json(_ object: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    /// As Keras writes it: `2026-12-02@16:09:19`.
    private static func dateSaved() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd@HH:mm:ss"
        return formatter.string(from: Date())
    }
}
