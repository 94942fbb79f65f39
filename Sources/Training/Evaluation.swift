import Comm
import Layout
import Model
import Storage

/// A forward-only stateful pass over a dataset: validation, `evaluate` and `predict`.
///
/// The model's slots are this rank's share of `globalSlots`; all state starts at zero, as at an
/// epoch start.
struct Evaluation {
    let model: LSTMModel
    let batch: WindowBatch
    let reader: DatasetReader
    let globalSlots: Int
    let comm: Communicator

    /// - Parameter visit: called after each step with the step's layout position of every local
    ///   slot (nil when idle); the model's `outputs` hold that step's predictions.
    func run(assignment: StreamLayout.Assignment, reset: ResetPolicy, visit: ((_ positions: [SlotPosition?]) throws -> Void)? = nil) throws -> TargetSums {
        let header = reader.header
        let layout = try StreamLayout(rows: header.rows, length: header.length, window: batch.window, globalSlots: globalSlots, assignment: assignment)
        let slots = Layout.slots(ofRank: comm.rank, slotsPerRank: batch.slots)
        let feeder = StreamFeeder(reader: reader, layout: layout, slots: slots)
        for slot in 0..<batch.slots { model.resetState(slot: slot) }

        var local = TargetSums()
        for step in 0..<layout.stepsPerEpoch {
            let startingRow = try feeder.fill(batch, step: step)
            if reset == .row { for slot in startingRow { model.resetState(slot: slot) } }
            let result = model.run(batch, backward: false)
            local += TargetSums(loss: result.lossSum, targets: Double(result.targets), correct: Double(result.correct))
            try visit?(slots.map { layout.position(slot: $0, step: step) })
        }
        var totals = [local.loss, local.targets, local.correct]
        try totals.withUnsafeMutableBufferPointer { try comm.allreduceSum($0) }
        return TargetSums(loss: totals[0], targets: totals[1], correct: totals[2])
    }
}

extension DatasetHeader {
    /// Refuses a dataset the model trained on `training` cannot read or score the same way.
    func checkCompatible(withTraining training: DatasetHeader, path: String) throws {
        func refuse(_ what: String, _ mine: Any, _ theirs: Any) throws -> Never {
            throw TrainingError("\(path): \(what) is \(mine) but the model's is \(theirs); pack it with --like the training file")
        }
        if inputKind != training.inputKind { try refuse("the input kind", inputKind.rawValue, training.inputKind.rawValue) }
        if features != training.features { try refuse("the feature count", features, training.features) }
        if vocab != training.vocab || vocabSize != training.vocabSize { try refuse("the vocabulary", "\(vocabSize) symbols", "\(training.vocabSize) symbols or differs") }
        if task != training.task { try refuse("the task", task.rawValue, training.task.rawValue) }
        if numClasses != training.numClasses { try refuse("the class count", numClasses, training.numClasses) }
        if targetKind != training.targetKind { try refuse("the target kind", targetKind.rawValue, training.targetKind.rawValue) }
        if targetWidth != training.targetWidth { try refuse("the target width", targetWidth, training.targetWidth) }
    }
}
