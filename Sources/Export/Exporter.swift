import Storage
import Inference

/// The model formats `export` writes (docs/commands.md).
public enum ExportFormat: String, CaseIterable, Sendable {
    /// Keras 3: a zip of config.json, metadata.json and model.weights.h5.
    case keras
    /// ONNX, IR version 8, opset 17: one timestep, the state as inputs and outputs.
    case onnx
    /// A PyTorch `state_dict` for nn.LSTM, nn.Linear and nn.Embedding.
    case safetensors

    /// The file name ending the format's tools expect.
    public var fileExtension: String { "." + rawValue }
}

public struct ExportError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// What `export` wrote, for the command to print.
public struct ExportResult: Sendable {
    public let model: String
    public let state: String
    /// The batch of a Keras model's stateful layers; nil for the other formats (free batch).
    public let batch: Int?
    public let globalSlots: Int
    public let layers: Int
    public let hidden: Int
}

/// Writes a checkpoint as a model of another framework, with `NAME.state.h5` beside it holding
/// every global slot's saved state, so serving continues each slot's stream.
public enum Exporter {
    /// `NAME.state.h5` for `NAME.keras` (or `.onnx`, `.safetensors`); a name without the
    /// format's extension gets `.state.h5` appended.
    public static func statePath(for model: String, format: ExportFormat) -> String {
        let stem = model.hasSuffix(format.fileExtension) ? String(model.dropLast(format.fileExtension.count)) : model
        return stem + ".state.h5"
    }

    /// Refuses, before reading anything, what could not be written: a Keras name without
    /// `.keras`, a `--batch` below 1 or for a format without one, an existing model or state
    /// file without `force`, a missing folder. Then reads and checks the checkpoint and writes
    /// both files, each through a temporary file renamed into place.
    public static func export(checkpoint: String, format: ExportFormat, to out: String, batch: Int?, force: Bool) throws -> ExportResult {
        if format == .keras && !out.hasSuffix(".keras") {
            throw ExportError("\(out): a Keras model's name must end in .keras (keras.saving.load_model refuses any other)")
        }
        if let batch {
            guard format == .keras else { throw ExportError("--batch applies to --format keras only (ONNX models have a free batch dimension)") }
            guard batch >= 1 else { throw ExportError("--batch \(batch): must be 1 or more") }
        }
        let state = statePath(for: out, format: format)
        try AtomicOutput.checkDestination(out, force: force)
        try AtomicOutput.checkDestination(state, force: force)

        let network = try ExportedNetwork(try SavedNetwork(path: checkpoint))
        let kerasBatch = format == .keras ? batch ?? network.globalSlots : nil
        try AtomicOutput.write(to: out, force: force) { temporary in
            switch format {
            case .keras: try KerasExport(network: network, batch: kerasBatch!).write(to: temporary)
            case .onnx: try ONNXExport(network: network).write(to: temporary)
            case .safetensors: try SafetensorsExport(network: network).write(to: temporary)
            }
            // The state goes into place just before the model: a model that fails to write leaves none.
            try AtomicOutput.write(to: state, force: force) { try writeState(network, to: $0) }
        }
        return ExportResult(model: out, state: state, batch: kerasBatch, globalSlots: network.globalSlots,
                            layers: network.config.layers, hidden: network.hidden)
    }

    /// `/state/h` and `/state/c`, float32 `[layers, S, H]` as in the checkpoint.
    static func writeState(_ network: ExportedNetwork, to path: String) throws {
        let file = try H5File(path: path, mode: .truncate)
        try file.setAttribute("format", .string("lstm-dist state"))
        try file.setAttribute("version", .int(1))
        for (name, tensor) in [("state/h", network.stateH), ("state/c", network.stateC)] {
            try file.createDataset(name, of: Float.self, shape: tensor.shape).write(tensor.values)
        }
    }
}
