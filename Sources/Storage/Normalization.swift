/// The z-score statistics of a dataset packed with `--normalize` (docs/datasets.md): its
/// feature inputs and regression targets hold `(x - mean) / std`. Datasets and checkpoints keep
/// them in `/normalization`; predictions, forecasts and exported models turn outputs back into
/// original units with `originalTarget` / `denormalizeTargets`, and values fed in as inputs go
/// through `normalizedInput` / `normalizeInputs`.
public struct Normalization: Sendable, Equatable, Codable {
    /// [F] per feature; empty when the inputs are tokens.
    public var inputsMean: [Double]
    public var inputsStd: [Double]
    /// [K] per regression target value; empty when the targets are classes.
    public var targetsMean: [Double]
    public var targetsStd: [Double]

    public init(inputsMean: [Double], inputsStd: [Double], targetsMean: [Double], targetsStd: [Double]) {
        self.inputsMean = inputsMean
        self.inputsStd = inputsStd
        self.targetsMean = targetsMean
        self.targetsStd = targetsStd
    }

    /// Feature `feature`'s value `value` in z units.
    @inline(__always)
    public func normalizedInput(_ value: Double, feature: Int) -> Double {
        (value - inputsMean[feature]) / inputsStd[feature]
    }

    /// Target value `column`'s value `value` in z units.
    @inline(__always)
    public func normalizedTarget(_ value: Double, column: Int) -> Double {
        (value - targetsMean[column]) / targetsStd[column]
    }

    /// Target value `column` in original units from its z units.
    @inline(__always)
    public func originalTarget(_ value: Float, column: Int) -> Float {
        Float(Double(value) * targetsStd[column] + targetsMean[column])
    }

    /// The group holding the four arrays, in datasets and checkpoints.
    public static let group = "/normalization"
    private static let names = (inputsMean: "inputs_mean", inputsStd: "inputs_std", targetsMean: "targets_mean", targetsStd: "targets_std")

    /// Writes the non-empty arrays as float64 datasets under `/normalization`.
    public func write(to file: H5File) throws {
        for (name, values) in [(Self.names.inputsMean, inputsMean), (Self.names.inputsStd, inputsStd),
                               (Self.names.targetsMean, targetsMean), (Self.names.targetsStd, targetsStd)] where !values.isEmpty {
            try file.createDataset("\(Self.group)/\(name)", of: Double.self, shape: [values.count]).write(values)
        }
    }

    /// The statistics in `file`, or nil when it has no `/normalization`. Each array that is
    /// present must be one-dimensional, finite, and (standard deviations) above zero; a mean
    /// comes with its standard deviation.
    public static func read(from file: H5File) throws -> Normalization? {
        guard try file.exists(group) else { return nil }
        func array(_ name: String) throws -> [Double] {
            let path = "\(group)/\(name)"
            guard try file.exists(path) else { return [] }
            let dataset = try file.dataset(path)
            let shape = try dataset.shape
            guard shape.count == 1, try dataset.elementKind == .float || dataset.elementKind == .integer else {
                throw StorageError("\(file.file): dataset \(path): expected a 1-dimensional float64 array, found shape \(shape)")
            }
            let values: [Double] = try dataset.read()
            if let bad = values.firstIndex(where: { !$0.isFinite || (name.hasSuffix("std") && $0 <= 0) }) {
                throw StorageError("\(file.file): dataset \(path)[\(bad)]: \(values[bad]) is not \(name.hasSuffix("std") ? "a finite number above 0" : "finite")")
            }
            return values
        }
        let statistics = Normalization(inputsMean: try array(names.inputsMean), inputsStd: try array(names.inputsStd),
                                       targetsMean: try array(names.targetsMean), targetsStd: try array(names.targetsStd))
        if statistics.inputsMean.count != statistics.inputsStd.count || statistics.targetsMean.count != statistics.targetsStd.count {
            throw StorageError("\(file.file): \(group): each mean needs a standard deviation of the same length")
        }
        return statistics
    }

    /// Throws unless the arrays fit `header`: F values for feature inputs (none for tokens), K
    /// for regression targets (none for classes), and at least one of them.
    func validate(for header: DatasetHeader, _ context: String) throws {
        let features = header.inputKind == .features ? header.features : 0
        let targets = header.task == .regression ? header.targetWidth : 0
        guard inputsMean.count == features, targetsMean.count == targets, features + targets > 0 else {
            throw StorageError("\(context): \(Self.group) holds \(inputsMean.count) input and \(targetsMean.count) target statistics, expected \(features) and \(targets)")
        }
    }
}
