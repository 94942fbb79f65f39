#if canImport(Glibc)
import Glibc
#endif

/// A float32 array with its shape, row-major.
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "\(values.count) values for shape \(shape)")
        self.shape = shape
        self.values = values
    }
}

/// The checkpoint file of docs/checkpoints.md, as plain data: training gathers the model, the
/// optimizer and every slot's state into one of these and writes it in one go.
public struct Checkpoint: Sendable {
    /// Root attributes besides `format` and `version`.
    public var attributes: [String: AttributeValue]
    /// Float arrays by path inside the file: "model/lstm_0/kernel", "optimizer/m/...", "state/h".
    public var tensors: [String: Tensor]
    /// The dataset's vocabulary (text), copied so the checkpoint alone can decode predictions.
    public var vocab: [Int32]
    /// The dataset's `horizon` and `/target_features` (regression per timestep), copied so a
    /// forecast can refuse data whose targets continue other inputs.
    public var targetOrigin: TargetOrigin?
    /// The dataset's `/normalization` (float64), copied so outputs can be given in original units.
    public var normalization: Normalization?

    public init(attributes: [String: AttributeValue] = [:], tensors: [String: Tensor] = [:], vocab: [Int32] = [],
                targetOrigin: TargetOrigin? = nil, normalization: Normalization? = nil) {
        self.attributes = attributes
        self.tensors = tensors
        self.vocab = vocab
        self.targetOrigin = targetOrigin
        self.normalization = normalization
    }

    public static let format = "lstm-dist checkpoint"
    public static let version: Int64 = 1

    /// `DIR/ckpt-<global step, 8 digits>.h5`.
    public static func fileName(globalStep: Int) -> String {
        let digits = String(globalStep)
        return "ckpt-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits + ".h5"
    }

    /// The global step a checkpoint file name stands for, or nil for any other name.
    public static func globalStep(fileName: String) -> Int? {
        guard fileName.hasPrefix("ckpt-"), fileName.hasSuffix(".h5") else { return nil }
        let digits = fileName.dropFirst(5).dropLast(3)
        guard digits.count >= 8, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    /// Writes `path` atomically (temporary file in the same folder, fsync, rename), replacing an
    /// older file of that name.
    public func write(to path: String) throws {
        try AtomicOutput.write(to: path, force: true) { temporary in
            let file = try H5File(path: temporary, mode: .truncate)
            try file.setAttribute("format", .string(Self.format))
            try file.setAttribute("version", .int(Self.version))
            for (name, value) in attributes.sorted(by: { $0.key < $1.key }) {
                try file.setAttribute(name, value)
            }
            for (path, tensor) in tensors.sorted(by: { $0.key < $1.key }) {
                try file.createDataset(path, of: Float.self, shape: tensor.shape).write(tensor.values)
            }
            if !vocab.isEmpty {
                try file.createDataset("vocab", of: Int32.self, shape: [vocab.count]).write(vocab)
            }
            if let targetOrigin {
                try file.setAttribute(DatasetPaths.horizon, .int(Int64(targetOrigin.horizon)))
                try file.createDataset(DatasetPaths.targetFeatures, of: Int32.self, shape: [targetOrigin.features.count])
                    .write(targetOrigin.features)
            }
            try normalization?.write(to: file)
        }
    }

    /// Reads a whole checkpoint, refusing any HDF5 file that is not one.
    public init(path: String) throws {
        let file = try H5File(path: path, mode: .readOnly)
        guard case .string(Self.format)? = try file.attribute("format") else {
            throw StorageError("\(path): not an lstm-dist checkpoint (no format attribute '\(Self.format)')")
        }
        let version = try file.intAttribute("version")
        guard version == Self.version else {
            throw StorageError("\(path): checkpoint version \(version) is not supported (expected \(Self.version))")
        }
        attributes = [:]
        for name in try file.attributeNames() where !["format", "version", DatasetPaths.horizon].contains(name) {
            attributes[name] = try file.attribute(name)
        }
        tensors = [:]
        for datasetPath in try file.datasetPaths()
        where ![DatasetPaths.vocab, DatasetPaths.targetFeatures].contains(datasetPath) && !datasetPath.hasPrefix(Normalization.group + "/") {
            let dataset = try file.dataset(datasetPath)
            tensors[String(datasetPath.dropFirst())] = Tensor(shape: try dataset.shape, values: try dataset.read(as: Float.self))
        }
        vocab = try file.exists("vocab") ? try file.dataset("vocab").read(as: Int32.self) : []
        targetOrigin = try file.exists(DatasetPaths.targetFeatures)
            ? TargetOrigin(horizon: Int(try file.intAttribute(DatasetPaths.horizon)),
                           features: try file.dataset(DatasetPaths.targetFeatures).read(as: Int32.self))
            : nil
        normalization = try Normalization.read(from: file)
    }

    /// The checkpoint with the highest global step in `directory`, or nil when there is none.
    public static func latest(in directory: String) throws -> String? {
        try checkpoints(in: directory).max { $0.step < $1.step }.map { directory + "/" + $0.name }
    }

    /// Deletes all but the `keep` checkpoints with the highest global steps in `directory`, and
    /// the temporary files of writers that were killed mid-write (the writer's PID is in the
    /// name, and no such process is left on this host).
    public static func prune(_ directory: String, keep: Int) throws {
        for old in try checkpoints(in: directory).sorted(by: { $0.step > $1.step }).dropFirst(max(keep, 1)) {
            unlink(directory + "/" + old.name)
        }
        for name in try fileNames(in: directory) where isAbandonedTemporary(name) {
            unlink(directory + "/" + name)
        }
    }

    /// `.ckpt-NNNNNNNN.h5.PID.tmp` (AtomicOutput's name) whose writer no longer runs.
    static func isAbandonedTemporary(_ name: String) -> Bool {
        let parts = name.split(separator: ".")
        guard name.hasPrefix(".ckpt-"), parts.count == 4, parts[3] == "tmp", let pid = Int32(parts[2]) else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    /// Every `ckpt-NNNNNNNN.h5` in `directory`.
    private static func checkpoints(in directory: String) throws -> [(step: Int, name: String)] {
        try fileNames(in: directory).compactMap { name in globalStep(fileName: name).map { (step: $0, name: name) } }
    }

    /// The names in `directory` (none when it does not exist). Wraps `readdir`.
    private static func fileNames(in directory: String) throws -> [String] {
        guard let folder = opendir(directory) else {
            if errno == ENOENT { return [] }
            throw StorageError("\(directory): cannot list checkpoints: \(String(cString: strerror(errno)))")
        }
        defer { closedir(folder) }
        var names: [String] = []
        while let entry = readdir(folder) {
            names.append(withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
        }
        return names
    }
}
