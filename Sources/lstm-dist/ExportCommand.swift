import ArgumentParser
import Export

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint as a Keras 3, ONNX or PyTorch (safetensors) model, with its slot states beside it.",
        discussion: """
        keras: NAME.keras for keras.saving.load_model, inputs x and mask (true at valid timesteps), \
        stateful LSTM layers of batch --batch (default: the checkpoint's global slots) returning \
        sequences, the Dense head with its activation. onnx: one timestep, free batch, inputs x, \
        h_0, c_0, ..., outputs y, h_0_out, c_0_out, ... (IR 8, opset 17). safetensors: a PyTorch \
        state_dict for embedding (nn.Embedding), lstm (nn.LSTM) and head (nn.Linear). Every \
        format also writes NAME.state.h5: /state/h and /state/c [layers, S, H], each global slot's \
        state where training stopped.
        """
    )

    @Argument(help: "A checkpoint written by train.") var checkpoint: String
    @Option(help: "keras, onnx or safetensors.") var format: ExportFormat
    @Option(help: "The model file to write (Keras: NAME.keras).") var out: String
    @Option(help: "Keras only: the stateful layers' batch. (default: the checkpoint's global slots)") var batch: Int?
    @Flag(help: "Replace an existing model or state file.") var force = false

    func run() throws {
        let result = try Exporter.export(checkpoint: checkpoint, format: format, to: out, batch: batch, force: force)
        let shape = "\(result.layers) x \(result.hidden) LSTM" + (result.batch.map { ", batch \($0)" } ?? "")
        print("wrote \(result.model) (\(format.rawValue), \(shape)) and \(result.state) (the state of \(result.globalSlots) global slots)")
    }
}

extension ExportFormat: ExpressibleByArgument {}
