import Foundation
import Storage

/// What a run's checkpoints record of where they come from: the run and its data.
struct RunIdentity: Codable {
    var folder: RunFolder
    /// The training data's `dataset_fingerprint`.
    var fingerprint: String
    /// The checkpoint a fine-tuned run started from (`--init-from`).
    var origin: WeightsOrigin?
}

/// One folder, one run (docs/checkpoints.md): which files of a checkpoint folder belong to the
/// run writing into it, so that pruning and `best.h5` touch nothing else.
struct RunFolder: Codable {
    let directory: String
    /// `run_id` of this run.
    let runID: String
    /// Resumed from a checkpoint written before run ids: files without one are this run's too.
    let adoptsUnlabeled: Bool

    /// A fresh run's: refuses a folder that already holds a run's checkpoints.
    static func fresh(_ directory: String) throws -> RunFolder {
        let existing = try Checkpoint.newestFirst(in: directory).first
            ?? [directory + "/best.h5"].first { FileManager.default.fileExists(atPath: $0) }
        if let existing {
            throw TrainingError("\(directory) already holds another run's checkpoints (\(existing)); continue that run with --resume latest, or give this run another --checkpoint-dir")
        }
        return RunFolder(directory: directory, runID: drawRunID(), adoptsUnlabeled: false)
    }

    /// A resumed run's: keeps the checkpoint's run id, or draws one for a checkpoint without.
    static func resumed(_ directory: String, runID: String?) -> RunFolder {
        RunFolder(directory: directory, runID: runID ?? drawRunID(), adoptsUnlabeled: runID == nil)
    }

    /// Whether the checkpoint at `path` was written by this run.
    /// A file it cannot read is not: it is left alone.
    func owns(_ path: String) -> Bool {
        do {
            switch try Checkpoint.attribute("run_id", of: path) {
            case .string(let id)?: return id == runID
            case nil: return adoptsUnlabeled
            default: return false
            }
        } catch {
            return false
        }
    }

    private static func drawRunID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let word = String(UInt32.random(in: .min ... .max, using: &generator), radix: 16)
            return String(repeating: "0", count: 8 - word.count) + word
        }.joined()
    }
}
