import ArgumentParser
import Comm
import Inference
import Training

/// The checkpoint and dataset that `evaluate`, `predict` and `forecast` read, and the precision of
/// the model's products.
struct CheckpointAndDataset: ParsableArguments {
    @Argument(help: "A checkpoint written by `lstm-dist train`.") var checkpoint: String
    @Argument(help: "A dataset packed like the training file (`pack --like`).") var dataset: String
    @OptionGroup var precision: PrecisionOption

    /// Collective: a refusal (`--precision` on a CPU without it, a dataset the model does not fit, a
    /// rank count that does not divide the checkpoint's global slots, a dataset without targets for a
    /// `use` that `needsTargets`) ends every rank with one line.
    func load(_ comm: MPICommunicator, for use: String, needsTargets: Bool) throws -> CheckpointModel {
        let precision = try precision.checked(comm)
        do {
            return try CheckpointModel(checkpoint: checkpoint, dataset: dataset, comm: comm, use: use, needsTargets: needsTargets,
                                       precision: precision)
        } catch {
            throw comm.failTogether(error)
        }
    }
}

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score a checkpoint on a dataset in the training layout, and in the wrong ones beside it.",
        discussion: """
        The checkpoint's global slots are shared by the current ranks (alone or under mpirun -n R, \
        R dividing them), each pass from zero state like an epoch start. \
        train: the rows dealt to slots as in training, with its reset policy; \
        independent: every row from zero state; \
        interleaved: slot j reads rows j, j+S, j+2S, ... carrying its state, as Keras' \
        predict(x, batch_size=S) does with a stateful model.
        """
    )

    @OptionGroup var input: CheckpointAndDataset
    @Option(help: "Layouts to score, comma-separated: train, independent, interleaved. (default: train)", transform: parseLayouts)
    var layout: [EvaluationLayout] = [.train]
    @Flag(help: "Print one JSON object keyed by layout instead of a table.") var json = false

    func run() throws {
        let comm = try MPICommunicator()
        let model = try input.load(comm, for: "evaluate", needsTargets: true)
        let results: [(layout: EvaluationLayout, sums: TargetSums)]
        do {
            results = try layout.map { ($0, try model.evaluate($0)) }
        } catch {
            comm.failAlone(error)
        }
        if comm.isRoot { print(json ? jsonObject(results, model) : table(results, model)) }
        try comm.finalize()
    }

    /// `{"train": {"loss": ..., "accuracy": ..., "targets": N}, ...}` in the order asked.
    private func jsonObject(_ results: [(layout: EvaluationLayout, sums: TargetSums)], _ model: CheckpointModel) -> String {
        let entries = results.map { result in
            let fields = model.metricKind.values(result.sums).map { "\"\($0)\": \(jsonNumber($1))" } + ["\"targets\": \(Int(result.sums.targets))"]
            return "\"\(result.layout.rawValue)\": {" + fields.joined(separator: ", ") + "}"
        }
        return "{" + entries.joined(separator: ", ") + "}"
    }

    /// One line per layout, its metrics in columns, and what the layout does.
    private func table(_ results: [(layout: EvaluationLayout, sums: TargetSums)], _ model: CheckpointModel) -> String {
        let header = model.header, comm = model.comm
        let names = model.metricKind.values(results[0].sums).map(\.0) + ["targets"]
        let widths = names.map { max($0.count, 9) }
        func row(_ first: String, _ cells: [String], _ last: String) -> String {
            first.padding(toLength: 13, withPad: " ", startingAt: 0)
                + zip(cells, widths).map { String(repeating: " ", count: max(0, $1 - $0.count)) + $0 }.joined(separator: "  ")
                + "  " + last
        }
        var lines = ["\(input.checkpoint) on \(input.dataset): \(header.rows) rows, \(model.globalSlots) global slots on \(comm.size) rank\(comm.size == 1 ? "" : "s")"]
        lines.append(row("layout", names, "rows per slot, state"))
        for (layout, sums) in results {
            let cells = model.metricKind.values(sums).map { format($1, 4) } + ["\(Int(sums.targets))"]
            lines.append(row(layout.rawValue, cells, describe(layout, model)))
        }
        return lines.joined(separator: "\n")
    }

    private func describe(_ layout: EvaluationLayout, _ model: CheckpointModel) -> String {
        switch layout {
        case .train: "contiguous (as trained), reset per \(model.trainingReset.rawValue)"
        case .independent: "contiguous, reset per row"
        case .interleaved: "rows j, j+\(model.globalSlots), j+\(2 * model.globalSlots), ..., carried across rows"
        }
    }
}

/// "train,interleaved" into layouts, refusing unknown names and repeats.
private func parseLayouts(_ text: String) throws -> [EvaluationLayout] {
    let layouts = try text.split(separator: ",").map { name in
        guard let layout = EvaluationLayout(rawValue: String(name)) else {
            throw ValidationError("unknown layout '\(name)'; use train, independent or interleaved")
        }
        return layout
    }
    guard !layouts.isEmpty, Set(layouts).count == layouts.count else { throw ValidationError("--layout needs distinct layouts, e.g. train,interleaved") }
    return layouts
}

extension EvaluationLayout: ExpressibleByArgument {}
