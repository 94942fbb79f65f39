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
    /// older file of that name. Every tensor carries a Fletcher32 checksum.
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
            try file.close()
        }
    }

    /// Reads a whole checkpoint, refusing any HDF5 file that is not one, a damaged one
    /// ("checksum mismatch in /model/lstm_0/kernel of FILE"), and tensors larger than memory.
    /// `check` sees the attributes, the vocabulary and every tensor's declared shape (by path
    /// without the leading "/") before any tensor is read, and may refuse them.
    public init(path: String, check: (_ declared: Checkpoint, _ shapes: [String: [Int]]) throws -> Void = { _, _ in }) throws {
        let file = try H5File(path: path, mode: .readOnly)
        guard case .string(Self.format)? = try file.attribute("format") else {
            throw StorageError("\(path): not an lstm-dist checkpoint (no format attribute '\(Self.format)')")
        }
        let version = try file.intAttribute("version")
        guard version == Self.version else {
            throw StorageError("\(path): checkpoint version \(version) is not supported (expected \(Self.version))")
        }
        var attributes: [String: AttributeValue] = [:]
        for name in try file.attributeNames() where !["format", "version", DatasetPaths.horizon].contains(name) {
            attributes[name] = try file.attribute(name)
        }
        var datasets: [String: H5Dataset] = [:], shapes: [String: [Int]] = [:]
        var bytes = 0.0
        for datasetPath in try file.datasetPaths()
        where datasetPath != DatasetPaths.targetFeatures && !datasetPath.hasPrefix(Normalization.group + "/") {
            let dataset = try file.dataset(datasetPath)
            guard try dataset.elementKind == .float || datasetPath == "/vocab" else {
                throw StorageError("\(path): dataset \(datasetPath) does not hold numbers")
            }
            datasets[datasetPath] = dataset
            shapes[String(datasetPath.dropFirst())] = try dataset.shape
            bytes += Double(try dataset.shape.reduce(1, *)) * 4
        }
        try MemoryBudget.check(bytes, "\(path): its tensors")
        let vocab = try datasets["/vocab"]?.read(as: Int32.self) ?? []
        shapes["vocab"] = nil
        let targetOrigin = try file.exists(DatasetPaths.targetFeatures)
            ? TargetOrigin(horizon: Int(try file.intAttribute(DatasetPaths.horizon)),
                           features: try file.dataset(DatasetPaths.targetFeatures).read(as: Int32.self))
            : nil
        let normalization = try Normalization.read(from: file)
        try check(Checkpoint(attributes: attributes, vocab: vocab, targetOrigin: targetOrigin, normalization: normalization), shapes)
        self.init(attributes: attributes, vocab: vocab, targetOrigin: targetOrigin, normalization: normalization)
        for (name, shape) in shapes {
            tensors[name] = Tensor(shape: shape, values: try datasets["/" + name]!.read(as: Float.self))
        }
    }

    /// The checkpoint with the highest global step in `directory`, or nil when there is none.
    public static func latest(in directory: String) throws -> String? {
        try newestFirst(in: directory).first
    }

    /// The paths of every `ckpt-NNNNNNNN.h5` in `directory`, highest global step first.
    public static func newestFirst(in directory: String) throws -> [String] {
        try checkpoints(in: directory).sorted { $0.step > $1.step }.map { directory + "/" + $0.name }
    }

    /// One root attribute of the checkpoint at `path`, without reading its tensors (nil when absent).
    public static func attribute(_ name: String, of path: String) throws -> AttributeValue? {
        try H5File(path: path, mode: .readOnly).attribute(name)
    }

    /// Deletes all but the `keep` checkpoints with the highest global steps among those in
    /// `directory` that `belongsToRun` (given each path), and the temporary files of writers
    /// that were killed mid-write (the writer's PID is in the name, and no such process is left
    /// on this host).
    public static func prune(_ directory: String, keep: Int, belongsToRun: (String) -> Bool = { _ in true }) throws {
        let own = try newestFirst(in: directory).filter(belongsToRun)
        for old in own.dropFirst(max(keep, 1)) {
            unlink(old)
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
