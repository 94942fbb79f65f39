import Storage

/// `pack --normalize`'s statistics, gathered in the first pass over exactly the timesteps the
/// dataset keeps: a sequence longer than `--maxlen` counts only the steps truncation leaves, so
/// with `--truncating pre` a sequence's steps wait here until its end. Inputs, per-timestep
/// targets and per-row targets are gathered side by side: JSON Lines decides which targets it
/// has only after the pass.
final class StatisticsSurvey {
    private var inputs = Moments(), stepTargets = Moments(), rowTargets = Moments()
    private let maxlen: Int?
    private let truncating: Padding
    /// The current sequence's steps, kept only when it may lose its first steps.
    private var pending: [(features: [Double], targets: [Double])] = []
    private var steps = 0

    init(maxlen: Int?, truncating: Padding) {
        self.maxlen = maxlen
        self.truncating = truncating
    }

    func beginSequence() {
        steps = 0
        pending.removeAll(keepingCapacity: true)
    }

    /// One timestep: its features (or nothing) and its per-timestep targets (or nothing).
    func addStep(features: some Collection<Double>, targets: some Collection<Double>) {
        steps += 1
        guard let maxlen else { return add(features, targets) }
        switch truncating {
        case .post: if steps <= maxlen { add(features, targets) }
        case .pre: pending.append((Array(features), Array(targets)))
        }
    }

    func endSequence() {
        for step in pending.suffix(maxlen ?? 0) { add(step.features, step.targets) }
        pending.removeAll(keepingCapacity: true)
    }

    func addRowTargets(_ values: some Collection<Double>) { rowTargets.add(values) }

    private func add(_ features: some Collection<Double>, _ targets: some Collection<Double>) {
        if !features.isEmpty { inputs.add(features) }
        if !targets.isEmpty { stepTargets.add(targets) }
    }

    /// The statistics for `header`: feature inputs and regression targets; a target that is a
    /// later value of feature f (`targetFeatures[k] == f`) takes f's statistics.
    func normalization(for header: DatasetHeader, targetFeatures: [Int]) -> Normalization {
        let features = header.inputKind == .features ? header.features : 0
        let (inputsMean, inputsStd) = inputs.statistics(width: features)
        let K = header.task == .regression ? header.targetWidth : 0
        var (targetsMean, targetsStd) = (header.targetKind == .row ? rowTargets : stepTargets).statistics(width: K)
        for (k, feature) in targetFeatures.enumerated() where k < K && feature >= 0 && feature < features {
            (targetsMean[k], targetsStd[k]) = (inputsMean[feature], inputsStd[feature])
        }
        return Normalization(inputsMean: inputsMean, inputsStd: inputsStd, targetsMean: targetsMean, targetsStd: targetsStd)
    }
}

/// Running mean and sum of squared deviations per column (Welford's method, float64), so a
/// column near 1013 with a tiny spread loses nothing to cancellation.
struct Moments {
    private(set) var count = 0
    private var mean: [Double] = []
    private var squares: [Double] = []

    /// Adds one row; its width is fixed by the first row, and a row of another width is left
    /// out (the second pass rejects such input, naming its line).
    mutating func add(_ values: some Collection<Double>) {
        if count == 0 {
            mean = Array(repeating: 0, count: values.count)
            squares = mean
        }
        guard values.count == mean.count else { return }
        count += 1
        for (column, value) in values.enumerated() {
            let delta = value - mean[column]
            mean[column] += delta / Double(count)
            squares[column] += delta * (value - mean[column])
        }
    }

    /// Means and population standard deviations of `width` columns (numpy's `std`, ddof 0); a
    /// constant column gets std 1, so it becomes zeros rather than a division by zero.
    func statistics(width: Int) -> (mean: [Double], std: [Double]) {
        guard count > 0, mean.count == width else { return (Array(repeating: 0, count: width), Array(repeating: 1, count: width)) }
        return (mean, squares.map { $0 > 0 ? ($0 / Double(count)).squareRoot() : 1 })
    }
}
