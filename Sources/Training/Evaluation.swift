import Comm
import Layout
import Model
import Storage

/// A forward-only stateful pass over a dataset: validation, `evaluate` and `predict`.
///
/// The model's slots are this rank's share of `globalSlots`; all state starts at zero, as at an
/// epoch start.
public struct Evaluation {
    public let model: LSTMModel
    public let batch: WindowBatch
    public let reader: DatasetReader
    public let globalSlots: Int
    public let comm: Communicator

    public init(model: LSTMModel, batch: WindowBatch, reader: DatasetReader, globalSlots: Int, comm: Communicator) {
        self.model = model
        self.batch = batch
        self.reader = reader
        self.globalSlots = globalSlots
        self.comm = comm
    }

    /// - Parameter visit: called after each step with the step and the layout (which says where
    ///   every global slot stands); the model's `outputs` and the batch's masks are that step's.
    public func run(assignment: StreamLayout.Assignment, reset: ResetPolicy, visit: (_ step: Int, _ layout: StreamLayout) throws -> Void = { _, _ in }) throws -> TargetSums {
        let header = reader.header
        let layout = try StreamLayout(rows: header.rows, length: header.length, window: batch.window, globalSlots: globalSlots, assignment: assignment)
        let slots = Layout.slots(ofRank: comm.rank, slotsPerRank: batch.slots)
        let feeder = StreamFeeder(reader: reader, layout: layout, slots: slots)
        for slot in 0..<batch.slots { model.resetState(slot: slot) }

        let targetStd = header.normalization?.targetsStd ?? []
        var local = TargetSums(originalSquares: targetStd.isEmpty ? nil : 0)
        for step in 0..<layout.stepsPerEpoch {
            try comm.together { try feeder.fill(batch, step: step) { slot in if reset == .row { model.resetState(slot: slot) } } }
            let result = model.run(batch, backward: false)
            local += TargetSums(loss: result.lossSum, targets: Double(result.targets), correct: Double(result.correct),
                                originalSquares: targetStd.isEmpty ? nil : originalSquares(std: targetStd))
            try visit(step, layout)
        }
        var totals = [local.loss, local.targets, local.correct, local.originalSquares ?? 0]
        try totals.withUnsafeMutableBufferPointer { try comm.allreduceSum($0) }
        return TargetSums(loss: totals[0], targets: totals[1], correct: totals[2], originalSquares: local.originalSquares.map { _ in totals[3] })
    }

    /// The window's sum over scored targets of the mean over k of (std_k * error_k)^2: the
    /// squared errors of normalised regression targets in original units.
    private func originalSquares(std: [Double]) -> Double {
        let K = std.count, outputs = model.outputs
        var sum = 0.0
        for r in 0..<batch.slots * batch.window where batch.targetMask[r] != 0 && batch.mask[r] != 0 {
            var squares = 0.0
            for k in 0..<K {
                let error = std[k] * Double(outputs[r * K + k] - batch.valueTargets[r * K + k])
                squares += error * error
            }
            sum += squares / Double(K)
        }
        return sum
    }
}

/// What a trained model is tied to in its data: the inputs it reads and the targets its head
/// predicts. Validation, `evaluate` and `predict` refuse a dataset that does not match it.
public struct DataSignature: Sendable, Codable {
    public var inputKind: InputKind
    public var features: Int
    public var vocab: [Int32]
    public var vocabSize: Int
    public var task: Task
    public var numClasses: Int
    public var targetKind: TargetKind
    public var targetWidth: Int
    /// nil when unknown (h5py-made data, older checkpoints): then it is not compared.
    public var targetOrigin: TargetOrigin?
    public var normalization: Normalization?
}

extension DataSignature {
    public init(_ header: DatasetHeader) {
        inputKind = header.inputKind
        features = header.features
        vocab = header.vocab
        vocabSize = header.vocabSize
        task = header.task
        numClasses = header.numClasses
        targetKind = header.targetKind
        targetWidth = header.targetWidth
        targetOrigin = header.targetOrigin
        normalization = header.normalization
    }

    /// Refuses a dataset without targets (task "none") for a use that scores or learns from
    /// targets (`use`: "train", "evaluate", ...), in one line saying what it is good for.
    public static func requireTargets(_ header: DatasetHeader, path: String, for use: String) throws {
        guard !header.task.hasTargets else { return }
        throw TrainingError("\(path): no targets (task \(Task.unlabelled.rawValue)), so \(use) cannot use it; predict and forecast can, or pack its input with y (JSON Lines), --label or --target (CSV)")
    }

    /// Refuses a dataset this model cannot read or score the way it was trained. A dataset
    /// without targets is refused (in `use`'s words) unless `acceptingNoTargets`, when only its
    /// inputs, vocabulary and input normalisation must match (predict, forecast).
    public func check(_ header: DatasetHeader, path: String, for use: String = "evaluate", acceptingNoTargets: Bool = false) throws {
        func refuse(_ difference: String) throws -> Never {
            throw TrainingError("\(path): \(difference); pack it with --like the training file")
        }
        func refuse(_ what: String, _ theirs: Any, _ mine: Any) throws -> Never {
            try refuse("\(what) is \(theirs) but the model's is \(mine)")
        }
        if header.inputKind != inputKind { try refuse("the input kind", header.inputKind.rawValue, inputKind.rawValue) }
        if header.features != features { try refuse("the feature count", header.features, features) }
        if header.vocabSize != vocabSize { try refuse("the vocabulary size", header.vocabSize, vocabSize) }
        if header.vocab != vocab { try refuse("the vocabulary gives token ids to other characters than the model's") }
        if !header.task.hasTargets {
            if !acceptingNoTargets { try Self.requireTargets(header, path: path, for: use) }
            // Only the inputs' statistics: the file has no targets to normalise.
            let theirs = header.normalization.map { [$0.inputsMean, $0.inputsStd] } ?? [[], []]
            let mine = normalization.map { [$0.inputsMean, $0.inputsStd] } ?? [[], []]
            if theirs != mine {
                try refuse(mine[0].isEmpty ? "it was packed with --normalize but the model was trained on inputs that were not normalised"
                    : theirs[0].isEmpty ? "it was not packed with --normalize but the model was trained on normalised inputs"
                    : "its /normalization input statistics differ from the model's")
            }
            return
        }
        if header.task != task { try refuse("the task", header.task.rawValue, task.rawValue) }
        if header.numClasses != numClasses { try refuse("the class count", header.numClasses, numClasses) }
        if header.targetKind != targetKind { try refuse("the target kind", header.targetKind.rawValue, targetKind.rawValue) }
        if header.targetWidth != targetWidth { try refuse("the target width", header.targetWidth, targetWidth) }
        if let theirs = header.targetOrigin, let mine = targetOrigin, theirs != mine {
            try refuse("the targets are later values of other features or at another horizon (horizon \(theirs.horizon), target_features \(theirs.features)) than the model's (horizon \(mine.horizon), target_features \(mine.features))")
        }
        if header.normalization != normalization {
            try refuse(normalization == nil ? "it was packed with --normalize but the model was trained on values that were not normalised"
                : header.normalization == nil ? "it was not packed with --normalize but the model was trained on normalised values"
                : "its /normalization statistics differ from the model's")
        }
    }
}
