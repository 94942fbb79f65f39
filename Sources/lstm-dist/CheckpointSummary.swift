import Foundation
import Storage

/// What `inspect` says about a checkpoint: where the run stands, its configuration, the
/// parameter shapes and the size of every layer's carried state.
struct CheckpointSummary: CustomStringConvertible {
    let file: String
    let checkpoint: Checkpoint

    init(path: String) throws {
        file = path
        checkpoint = try Checkpoint(path: path)
    }

    /// `model/...` tensors, in file order.
    private var parameters: [(name: String, shape: [Int])] {
        checkpoint.tensors.filter { $0.key.hasPrefix("model/") }.sorted { $0.key < $1.key }
            .map { (String($0.key.dropFirst("model/".count)), $0.value.shape) }
    }

    /// Root-mean-square of h and c per layer over every global slot: zero means reset state.
    private var stateNorms: [(layer: Int, h: Double, c: Double)] {
        guard let h = checkpoint.tensors["state/h"], let c = checkpoint.tensors["state/c"], h.shape.count == 3 else { return [] }
        let perLayer = h.shape[1] * h.shape[2]
        func rms(_ values: ArraySlice<Float>) -> Double {
            (values.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(values.count, 1))).squareRoot()
        }
        return (0..<h.shape[0]).map { layer in
            let range = layer * perLayer ..< (layer + 1) * perLayer
            return (layer, rms(h.values[range]), rms(c.values[range]))
        }
    }

    /// Every root attribute (the configuration as a nested object) plus shapes and state norms.
    func json() throws -> String {
        var object: [String: Any] = ["file": file, "format": Checkpoint.format]
        for (name, value) in checkpoint.attributes {
            switch value {
            case .int(let number): object[name] = number
            case .double(let number): object[name] = number.isFinite ? number : NSNull()
            case .string(let text):
                object[name] = name == "config" ? (try? JSONSerialization.jsonObject(with: Data(text.utf8))) ?? text : text
            }
        }
        object["parameters"] = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.shape) })
        object["parameter_count"] = parameters.reduce(0) { $0 + $1.shape.reduce(1, *) }
        object["state_rms"] = stateNorms.map { ["layer": $0.layer, "h": $0.h, "c": $0.c] }
        if let statistics = checkpoint.normalization { object["normalization"] = NormalizationSummary(statistics).jsonObject }
        if let origin = checkpoint.targetOrigin {
            object["horizon"] = origin.horizon
            object["target_features"] = origin.features
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    var description: String {
        func attribute(_ name: String) -> String {
            switch checkpoint.attributes[name] {
            case .int(let value)?: return "\(value)"
            case .double(let value)?: return String(format: "%.4f", value)
            case .string(let value)?: return value
            case nil: return "-"
            }
        }
        var lines = [
            "\(file): \(Checkpoint.format)",
            "  position    epoch \(attribute("epoch")), step \(attribute("step")) next; global step \(attribute("global_step")), \(attribute("iterations")) optimizer updates",
            "  run         \(attribute("ranks")) ranks x \(attribute("slots_per_rank")) slots; \(attribute("task")), per-\(attribute("target_kind")) targets",
            "  loss        \(attribute("loss"))" + (checkpoint.attributes["val_loss"] != nil ? "  (validation \(attribute("val_loss")))" : ""),
            "  dataset     \(attribute("dataset_fingerprint"))",
            // Checkpoints written before bf16 have no precision attribute: they trained in fp32.
            "  precision   " + (checkpoint.attributes["precision"] == nil ? "fp32 (no precision attribute)" : attribute("precision"))
                + "; weights and optimizer state fp32",
            "  config      \(attribute("config"))",
            "  parameters  \(parameters.reduce(0) { $0 + $1.shape.reduce(1, *) })",
        ]
        if checkpoint.attributes["lr"] != nil {
            lines.append("  schedule    lr \(attribute("lr")) next; best monitored loss \(attribute("best_monitored_loss")), "
                + "\(attribute("epochs_without_improvement")) epochs without improvement"
                + (checkpoint.attributes["early_stopped"] == .int(1) ? "; stopped early" : ""))
        }
        lines += parameters.map { "    \($0.name.padding(toLength: 28, withPad: " ", startingAt: 0)) \($0.shape)" }
        lines += (checkpoint.normalization.map { NormalizationSummary($0).lines } ?? []).map { "  \($0.0.padding(toLength: 12, withPad: " ", startingAt: 0))\($0.1)" }
        if let origin = checkpoint.targetOrigin {
            lines.append("  horizon     \(origin.horizon); targets continue features \(origin.features.map { $0 < 0 ? "-" : "\($0)" }.joined(separator: ", "))")
        }
        lines += stateNorms.map { "  state rms   layer \($0.layer): h \(String(format: "%.4f", $0.h)), c \(String(format: "%.4f", $0.c))" }
        return lines.joined(separator: "\n")
    }
}
