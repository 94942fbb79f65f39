import Comm
import Model
import Storage

/// Which checkpoint a fine-tuned run started from: recorded in its checkpoints as
/// `init_from_run_id` and `init_from_step`, and kept by its resumes.
struct WeightsOrigin: Codable, Equatable {
    /// nil when that checkpoint was written before run ids.
    var runID: String?
    var globalStep: Int
}

/// `train --init-from CKPT`: a new run that starts from another run's weights (fine-tuning).
/// Its network's size comes from CKPT, everything else from this run's flags as for a fresh
/// run; optimizer, counters, cursor, slot states and run id start fresh.
struct InitialWeights {
    /// What rank 0 decides and every rank needs.
    struct Decision: Codable {
        var path: String
        var architecture: TrainingPlan.Architecture
        var origin: WeightsOrigin
    }

    let decision: Decision
    /// Rank 0 only.
    private let checkpoint: Checkpoint?

    /// Collective: rank 0 reads `path` and refuses a checkpoint whose data (inputs, vocabulary,
    /// task, classes, normalisation) differs from `dataset`'s.
    static func load(_ path: String, dataset: DatasetReader, comm: Communicator) throws -> InitialWeights {
        var checkpoint: Checkpoint?
        let decision = try comm.decidedByRoot { () -> Decision in
            var decision: Decision?
            checkpoint = try Checkpoint(path: path) { declared, shapes in
                let record = try CheckpointRecord(declared, shapes: shapes, path)
                try record.data.check(dataset.header, path: dataset.path)
                // The memory of this run's own slots and window is checked with its plan.
                _ = try record.network(shapes: shapes, path: path, slots: 1, window: 1, header: nil)
                decision = Decision(path: path, architecture: record.plan.architecture,
                                    origin: WeightsOrigin(runID: record.runID, globalStep: record.position.globalStep))
            }
            guard let decision else { throw TrainingError("\(path): not read") }
            return decision
        }
        return InitialWeights(decision: decision, checkpoint: checkpoint)
    }

    /// Collective: rank 0 sends the weights to every rank.
    func restore(into model: LSTMModel, comm: Communicator) throws {
        try Checkpoint.broadcast("model", of: checkpoint, into: model.parameters, layout: model.parameterLayout, comm: comm)
    }
}
