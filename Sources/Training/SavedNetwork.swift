import Model
import Storage

/// A checkpoint's network read by one process without a dataset (`generate`, `export`): its
/// weights, the kind of data it was trained on, and every global slot's saved state.
public struct SavedNetwork {
    public let path: String
    public let modelConfig: ModelConfig
    /// S of the run that wrote it: `/state/h` and `/state/c` are `[layers, S, H]`.
    public let globalSlots: Int
    public let inputKind: InputKind
    public let task: Task
    public let targetKind: TargetKind
    public let numClasses: Int
    /// Token id -> Unicode scalar, for text; empty otherwise.
    public let vocab: [Int32]
    private let checkpoint: Checkpoint

    /// Reads the checkpoint and checks that its weights and saved state have the shapes its
    /// configuration builds.
    public init(path: String) throws {
        let checkpoint = try Checkpoint(path: path)
        let data = try DataSignature(checkpoint, path)
        let config = try checkpoint.config(path)
        let modelConfig = config.modelConfig(for: data)
        try checkpoint.checkShapes(["model"], of: ParameterLayout(modelConfig), path)
        globalSlots = try checkpoint.int("ranks", path) * checkpoint.int("slots_per_rank", path)
        let stateShape = [modelConfig.layers, globalSlots, modelConfig.hidden]
        for name in ["state/h", "state/c"] where checkpoint.tensors[name]?.shape != stateShape {
            throw TrainingError("\(path): \(name) has shape \(checkpoint.tensors[name]?.shape.description ?? "none"), expected \(stateShape)")
        }
        self.path = path
        self.modelConfig = modelConfig
        self.checkpoint = checkpoint
        inputKind = data.inputKind
        task = data.task
        targetKind = data.targetKind
        numClasses = data.numClasses
        vocab = data.vocab
    }

    /// A weight by its name under `/model` (`lstm_0/kernel`), or the saved state (`state/h`,
    /// `state/c`): every name of the model's `ParameterLayout` and both states are present.
    public func tensor(_ name: String) -> Tensor {
        checkpoint.tensors[name.hasPrefix("state/") ? name : "model/" + name]!
    }
}
