import ArgumentParser
import Comm
import Inference
import Storage
import Training

struct ForecastCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "Forecast the next values of every row from the state the model carries at its end.",
        discussion: """
        For regression data packed with --target COL,... --horizon 1, each target column among \
        the features. The dataset runs in the training layout (alone or under mpirun -n R, R \
        dividing the checkpoint's global slots); at the end of every row each slot's state is \
        forked, the row's last targets (the values after its last input) are fed into their \
        feature columns, and the model rolls --steps timesteps, each prediction fed back the same \
        way; features that are not targets are held at their last value. Step 1 predicts the \
        value after the last known one. HDF5: /forecast, float32 [N, steps, K] in row order (zeros \
        for an empty row). CSV: row,h,p0,... with h from 1 (empty rows left out). For one long \
        series cut into rows, the last row's forecast continues the series past its end and the \
        others are a rolling-origin backtest against the rows that follow.
        """
    )

    @OptionGroup var input: CheckpointAndDataset
    @Option(parsing: .unconditional, help: "Timesteps to forecast after each row.") var steps: Int
    @Option(help: "The file to write.") var out: String
    @Option(help: "h5 or csv. (default: csv when --out ends in .csv, else h5)") var format: RowOutputFile.Format?
    @Flag(help: "Replace an existing output file.") var force = false

    func run() throws {
        let comm = try MPICommunicator()
        let model = try input.load(comm, for: "forecast", needsTargets: false)
        let forecaster: Forecaster
        do {
            forecaster = try Forecaster(model, steps: steps)
            try model.checkOutput(out, force: force)
        } catch {
            throw comm.failTogether(error)
        }
        if comm.isRoot, !forecaster.heldFeatures.isEmpty {
            let held = forecaster.heldFeatures
            print("feature\(held.count == 1 ? "" : "s") \(held.map(String.init).joined(separator: ", ")) \(held.count == 1 ? "is" : "are") not forecast (no target continues \(held.count == 1 ? "it" : "them")): held at the row's last value")
        }
        do {
            try forecaster.forecast(to: out, format: format ?? (out.hasSuffix(".csv") ? .csv : .h5), force: force)
        } catch {
            comm.failAlone(error)
        }
        let width = model.signature.targetWidth
        if comm.isRoot { print("wrote \(out): \(steps)-step forecasts of \(width) value\(width == 1 ? "" : "s") for \(model.header.rows) rows") }
        try comm.finalize()
    }
}
