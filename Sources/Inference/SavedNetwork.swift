import Model
import Storage
import Training

/// A checkpoint's network read by one process without a dataset (`generate`, `forecast`,
/// `export`): its weights, the kind of data it was trained on, and every global slot's saved state.
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
    /// The dataset's statistics when it was packed with `--normalize`: the model reads and
    /// predicts z units.
    public var normalization: Normalization? { checkpoint.normalization }
    private let checkpoint: Checkpoint

    /// Reads the checkpoint, checking before its tensors are read that its weights and saved
    /// state have the shapes its configuration builds, and that the model fits in memory.
    public init(path: String) throws {
        var saved: (data: DataSignature, network: ModelConfig, globalSlots: Int)?
        let checkpoint = try Checkpoint(path: path) { declared, shapes in
            let record = try CheckpointRecord(declared, shapes: shapes, path)
            saved = (record.data, try record.network(shapes: shapes, path: path, slots: 1, window: 1, header: nil), record.globalSlots)
        }
        guard let saved else { throw TrainingError("\(path): not read") }
        self.path = path
        self.checkpoint = checkpoint
        modelConfig = saved.network
        globalSlots = saved.globalSlots
        inputKind = saved.data.inputKind
        task = saved.data.task
        targetKind = saved.data.targetKind
        numClasses = saved.data.numClasses
        vocab = saved.data.vocab
    }

    /// A model of `slots` x `window` holding the checkpoint's weights, every slot at zero state, its
    /// products in `precision` (checked to run here).
    public func makeModel(slots: Int, window: Int, precision: Precision = .fp32) -> LSTMModel {
        let model = LSTMModel(config: modelConfig, slots: slots, window: window, precision: precision)
        for spec in model.parameterLayout.tensors {
            _ = UnsafeMutableBufferPointer(rebasing: model.parameters[spec.offset ..< spec.offset + spec.count])
                .update(fromContentsOf: checkpoint.tensors["model/" + spec.name]!.values)
        }
        return model
    }

    /// Sets `model`'s slot `local` to global slot `slot`'s saved h and c, in every layer.
    public func restoreState(slot: Int, into model: LSTMModel, local: Int) {
        precondition((0 ..< globalSlots).contains(slot) && (0 ..< model.slots).contains(local))
        let H = modelConfig.hidden
        for layer in 0 ..< modelConfig.layers {
            let from = (layer * globalSlots + slot) * H, to = (layer * model.slots + local) * H
            for (name, state) in [("state/h", model.hidden), ("state/c", model.cell)] {
                _ = UnsafeMutableBufferPointer(rebasing: state[to ..< to + H])
                    .update(fromContentsOf: checkpoint.tensors[name]!.values[from ..< from + H])
            }
        }
    }

    /// A weight by its name under `/model` (`lstm_0/kernel`), or the saved state (`state/h`,
    /// `state/c`): every name of the model's `ParameterLayout` and both states are present.
    public func tensor(_ name: String) -> Tensor {
        checkpoint.tensors[name.hasPrefix("state/") ? name : "model/" + name]!
    }
}
