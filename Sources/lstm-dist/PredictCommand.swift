import ArgumentParser
import Comm
import Storage
import Inference
import Training

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Write a checkpoint's predictions for every row of a dataset, in row order.",
        discussion: """
        HDF5: /predictions, float32 [N, K] for per-row targets (the output at the row's last valid \
        timestep) or [N, L, K] per timestep (zeros at padded timesteps); probabilities for \
        classification (K = 1 for binary), values for regression. CSV: row,p0,... or row,t,p0,... \
        with the valid timesteps only, t counted in the padded row. The rows come back in input \
        order whatever the layout and the rank count.
        """
    )

    @OptionGroup var input: CheckpointAndDataset
    @Option(help: "The file to write.") var out: String
    @Option(help: "h5 or csv. (default: csv when --out ends in .csv, else h5)") var format: RowOutputFile.Format?
    @Option(help: "train, independent or interleaved (see `evaluate --help`).") var layout: EvaluationLayout = .train
    @Flag(help: "Replace an existing output file.") var force = false

    func run() throws {
        let comm = try MPICommunicator()
        let model = try input.load(comm, for: "predict", needsTargets: false)
        do { try model.checkOutput(out, force: force) } catch { throw comm.failTogether(error) }
        do {
            try model.predict(layout, to: out, format: format ?? (out.hasSuffix(".csv") ? .csv : .h5), force: force)
        } catch {
            comm.failAlone(error)
        }
        if comm.isRoot { print("wrote \(out): predictions for \(model.header.rows) rows (layout \(layout.rawValue))") }
        try comm.finalize()
    }
}

extension RowOutputFile.Format: ExpressibleByArgument {}
