import Foundation

/// The learning rate of every step (docs/commands.md): a linear warm-up over the first `warmup`
/// global steps, then the schedule. Computed in double, handed to the optimizer as float.
struct LearningRatePlan {
    let schedule: LearningRateSchedule
    let base: Double
    let minimum: Double
    let warmup: Int
    /// N = epochs x steps per epoch: where the cosine reaches `minimum`.
    let totalSteps: Int

    init(_ plan: TrainingPlan, stepsPerEpoch: Int) {
        schedule = plan.recipe.lrSchedule
        // The decimal the user wrote (float 0.01 is 0.00999999977...), so the logged rates read as typed.
        base = Double("\(plan.learningRate)")!
        minimum = Double("\(plan.recipe.minLearningRate)")!
        warmup = plan.recipe.warmup
        totalSteps = plan.epochs * stepsPerEpoch
    }

    /// The rate of global step `step` (from 0); `plateauRate` is the plateau schedule's current rate.
    func rate(at step: Int, plateauRate: Double) -> Double {
        if step < warmup { return base * Double(step + 1) / Double(warmup) }
        switch schedule {
        case .constant:
            return base
        case .cosine:
            let progress = Double(step - warmup) / Double(max(totalSteps - warmup, 1))
            return minimum + (base - minimum) * (1 + cos(Double.pi * progress)) / 2
        case .plateau:
            return plateauRate
        }
    }

    /// The plateau rate after an epoch without improvement: halved, not below the minimum.
    func halved(_ rate: Double) -> Double { max(minimum, rate / 2) }
}

/// What the plateau schedule and early stopping carry from epoch to epoch; checkpoints record
/// it (`best_monitored_loss`, `epochs_without_improvement`, `early_stopped`, `lr`), so a resume
/// continues both exactly.
public struct MonitorState: Codable, Sendable, Equatable {
    /// The lowest monitored loss so far (`val_loss` with validation, else the epoch's training
    /// loss); nil before an epoch has ended.
    public var best: Double?
    public var epochsWithoutImprovement = 0
    /// Set when `--patience` ran out: the run is over.
    public var earlyStopped = false
    /// The plateau schedule's rate after warm-up (the base rate until an epoch fails to improve).
    public var plateauRate: Double?

    public init() {}

    /// Records an epoch's monitored loss; returns whether it improved on the best so far.
    mutating func record(_ loss: Double) -> Bool {
        guard loss < (best ?? .infinity) else {
            epochsWithoutImprovement += 1
            return false
        }
        best = loss
        epochsWithoutImprovement = 0
        return true
    }
}
