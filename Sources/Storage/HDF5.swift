import CCrashGuard
import CHDF5
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Runs `body`, in which libhdf5 reads `file`, with the library's crashes on a damaged file (1.10.8
/// reads some metadata out of bounds) turned into one `Error:` line and exit status 1 (CCrashGuard).
func guardingCrashes<T>(reading file: String, _ body: () throws -> T) rethrows -> T {
    try "Error: \(file): damaged: libhdf5 crashed reading it\n".withCString { line in
        let previous = lstm_guard_begin(line)
        defer { lstm_guard_end(previous) }
        return try body()
    }
}

/// The Swift types that map to HDF5 native types. Reading converts from what is on disk
/// (float64 into `Float`, int64 into `Int32`, ...), as `H5Dread` does.
public protocol HDF5Scalar: Numeric, Sendable {
    static var nativeType: hid_t { get }
}
extension Float: HDF5Scalar { public static var nativeType: hid_t { lstm_h5t_native_float() } }
extension Double: HDF5Scalar { public static var nativeType: hid_t { lstm_h5t_native_double() } }
extension Int32: HDF5Scalar { public static var nativeType: hid_t { lstm_h5t_native_int32() } }
extension Int64: HDF5Scalar { public static var nativeType: hid_t { lstm_h5t_native_int64() } }

/// What a dataset or attribute holds, as far as the schemas care.
public enum H5ElementKind: Sendable { case integer, float, string, other }

/// A scalar attribute: integers are written as int64 and strings as variable-length UTF-8,
/// as h5py writes them.
public enum AttributeValue: Sendable, Equatable {
    case int(Int64), double(Double), string(String)
}

/// A file, group or dataset: anything that carries attributes.
public class H5Object {
    let handle: ObjectHandle
    /// The file as the caller named it, for messages.
    public let file: String
    /// The absolute path inside the file ("/" for the root group).
    public let path: String
    /// How messages name this object, e.g. "data.h5: dataset /inputs".
    let context: String

    init(handle: ObjectHandle, file: String, path: String, kind: String) {
        self.handle = handle
        self.file = file
        self.path = path
        self.context = path == "/" ? file : "\(file): \(kind) \(path)"
    }

    /// Whether the attribute exists. Wraps `H5Aexists`.
    public func hasAttribute(_ name: String) throws -> Bool {
        try guardingCrashes(reading: file) { try h5check(H5Aexists(handle.raw, name), "\(context): attribute \(name)") > 0 }
    }

    /// Writes a scalar attribute, replacing one of the same name. Wraps `H5Acreate2` and `H5Awrite`.
    public func setAttribute(_ name: String, _ value: AttributeValue) throws {
        let context = "\(self.context): attribute \(name)"
        if try hasAttribute(name) { try h5check(H5Adelete(handle.raw, name), context) }
        let space = try Dataspace(scalar: context)
        switch value {
        case .int(var number):
            let type = lstm_h5t_native_int64()
            let attribute = try Attribute(creating: name, on: handle, type: type, space: space, context)
            try attribute.write(type, &number, context)
        case .double(var number):
            let type = lstm_h5t_native_double()
            let attribute = try Attribute(creating: name, on: handle, type: type, space: space, context)
            try attribute.write(type, &number, context)
        case .string(let text):
            let type = try Datatype(variableString: H5T_CSET_UTF8, context)
            let attribute = try Attribute(creating: name, on: handle, type: type.raw, space: space, context)
            try text.withCString { chars in
                var pointer: UnsafePointer<CChar>? = chars
                try attribute.write(type.raw, &pointer, context)
            }
        }
    }

    /// Reads a scalar attribute, or nil when there is none: any integer type as `.int`, any float
    /// as `.double`, variable- or fixed-length strings as `.string`. Wraps `H5Aopen` and `H5Aread`.
    public func attribute(_ name: String) throws -> AttributeValue? {
        try guardingCrashes(reading: file) { try readAttribute(name) }
    }

    private func readAttribute(_ name: String) throws -> AttributeValue? {
        guard try hasAttribute(name) else { return nil }
        let context = "\(self.context): attribute \(name)"
        let attribute = try Attribute(opening: name, on: handle, context)
        guard try Dataspace(of: attribute, context).elementCount(context) == 1 else {
            throw StorageError("\(context): expected a single value")
        }
        let type = try Datatype(of: attribute, context)
        switch try type.elementKind(context) {
        case .integer:
            var number: Int64 = 0
            try attribute.read(lstm_h5t_native_int64(), into: &number, context)
            return .int(number)
        case .float:
            var number: Double = 0
            try attribute.read(lstm_h5t_native_double(), into: &number, context)
            return .double(number)
        case .string:
            return .string(try readString(attribute, storedAs: type, context))
        case .other:
            throw StorageError("\(context): not an integer, float or string")
        }
    }
}

/// A file or group: something that holds groups and datasets.
public class H5Container: H5Object {
    /// Whether every component of `path` (relative to this object, or absolute) exists.
    /// Wraps `H5Lexists`, one component at a time as it requires.
    public func exists(_ path: String) throws -> Bool {
        try guardingCrashes(reading: file) { try linksExist(path) }
    }

    private func linksExist(_ path: String) throws -> Bool {
        var prefix = self.path == "/" || path.hasPrefix("/") ? "" : self.path
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if try h5check(H5Lexists(handle.raw, prefix, hid_t(H5P_DEFAULT)), "\(file): \(prefix)") <= 0 { return false }
        }
        return true
    }

    /// Opens a group. Wraps `H5Gopen2`.
    public func group(_ path: String) throws -> H5Group {
        let full = try existingPath(path, kind: "group")
        let id = guardingCrashes(reading: file) { H5Gopen2(handle.raw, full, hid_t(H5P_DEFAULT)) }
        return H5Group(handle: try ObjectHandle(id, .group, "\(file): group \(full)"), file: file, path: full, kind: "group")
    }

    /// Creates a group and any missing groups above it (`/model/lstm_0`). Wraps `H5Gcreate2`.
    public func createGroup(_ path: String) throws -> H5Group {
        let full = absolute(path)
        let context = "\(file): group \(full)"
        try createParents(of: full, context)
        let properties = try PropertyList(untimed: lstm_h5p_group_create(), context)
        return H5Group(handle: try ObjectHandle(H5Gcreate2(handle.raw, full, hid_t(H5P_DEFAULT), properties.raw, hid_t(H5P_DEFAULT)), .group, context),
                       file: file, path: full, kind: "group")
    }

    /// Opens a dataset. Wraps `H5Dopen2`.
    public func dataset(_ path: String) throws -> H5Dataset {
        let full = try existingPath(path, kind: "dataset")
        let id = guardingCrashes(reading: file) { H5Dopen2(handle.raw, full, hid_t(H5P_DEFAULT)) }
        return H5Dataset(handle: try ObjectHandle(id, .dataset, "\(file): dataset \(full)"), file: file, path: full, kind: "dataset")
    }

    /// Creates a dataset of `Element` with the given shape, and any missing groups above it.
    /// It is chunked (by `chunks`, one extent per dimension; by default whole rows up to about
    /// 1 MiB per chunk), compressed with shuffle + deflate when `compression` (0-9) is above 0,
    /// and every chunk carries a Fletcher32 checksum, so a damaged chunk fails to read. An empty
    /// or scalar array is contiguous: it has no chunk to damage. Wraps `H5Dcreate2`,
    /// `H5Pset_chunk`, `H5Pset_shuffle`, `H5Pset_deflate` and `H5Pset_fletcher32`.
    public func createDataset<Element: HDF5Scalar>(
        _ path: String, of _: Element.Type, shape: [Int], chunks: [Int]? = nil, compression: Int = 0
    ) throws -> H5Dataset {
        let full = absolute(path)
        let context = "\(file): dataset \(full)"
        let dims = shape.map { hsize_t($0) }
        let space = try Dataspace(extents: dims, context)
        let properties = try PropertyList(untimed: lstm_h5p_dataset_create(), context)
        if !shape.isEmpty, !shape.contains(0) {
            let chunks = chunks ?? Self.rowChunks(shape, elementSize: MemoryLayout<Element>.size)
            precondition(chunks.count == shape.count && chunks.allSatisfy { $0 > 0 }, "one positive chunk extent per dimension")
            try properties.setChunk(chunks, context)
            if compression > 0 {
                try properties.setShuffle(context)
                try properties.setDeflate(level: min(compression, 9), context)
            }
            // Last, so the checksum covers the bytes as stored and is checked first on reading.
            try properties.setFletcher32(context)
        }
        try createParents(of: full, context)
        let id = H5Dcreate2(handle.raw, full, Element.nativeType, space.raw, hid_t(H5P_DEFAULT), properties.raw, hid_t(H5P_DEFAULT))
        return H5Dataset(handle: try ObjectHandle(id, .dataset, context), file: file, path: full, kind: "dataset")
    }

    /// Chunks of whole rows, as many as fit in about 1 MiB (at least one).
    private static func rowChunks(_ shape: [Int], elementSize: Int) -> [Int] {
        let rowBytes = shape.dropFirst().reduce(elementSize, *)
        return [min(shape[0], max(1, (1 << 20) / rowBytes))] + shape.dropFirst()
    }

    private func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return self.path == "/" ? "/" + path : self.path + "/" + path
    }

    private func existingPath(_ path: String, kind: String) throws -> String {
        let full = absolute(path)
        guard try exists(full) else { throw StorageError("\(file): \(kind) \(full): not found") }
        return full
    }

    /// Creates the missing groups above the absolute path `full`, without timestamps: groups
    /// that HDF5 makes on its own (`H5Pset_create_intermediate_group`) record their creation time
    /// in the 1.10 object headers. Wraps `H5Gcreate2`.
    private func createParents(of full: String, _ context: String) throws {
        var prefix = ""
        for component in full.split(separator: "/").dropLast() {
            prefix += "/" + component
            guard try !exists(prefix) else { continue }
            let properties = try PropertyList(untimed: lstm_h5p_group_create(), context)
            _ = try ObjectHandle(H5Gcreate2(handle.raw, prefix, hid_t(H5P_DEFAULT), properties.raw, hid_t(H5P_DEFAULT)), .group, context)
        }
    }
}

/// How to open a file.
public enum FileMode: Sendable {
    case readOnly, readWrite
    /// Create the file, replacing any file of that name.
    case truncate
}

/// An open HDF5 file; its root group holds the groups, datasets and root attributes.
public final class H5File: H5Container {
    /// Opens or creates a file. Wraps `H5Fopen` and `H5Fcreate`.
    public init(path: String, mode: FileMode) throws {
        silenceHDF5Diagnostics()
        let id: hid_t
        switch mode {
        case .readOnly, .readWrite:
            guard access(path, F_OK) == 0 else { throw StorageError("\(path): no such file") }
            guard guardingCrashes(reading: path, { H5Fis_hdf5(path) }) > 0 else { throw StorageError("\(path): not an HDF5 file") }
            id = guardingCrashes(reading: path) {
                H5Fopen(path, mode == .readOnly ? lstm_h5f_acc_rdonly() : lstm_h5f_acc_rdwr(), hid_t(H5P_DEFAULT))
            }
        case .truncate:
            // The root group (and the groups made on the way to a dataset) without timestamps,
            // in HDF5 1.10's newest object formats, whose metadata (superblock, object headers,
            // chunk indexes) carries checksums of its own.
            let creation = try PropertyList(untimed: lstm_h5p_file_create(), path)
            let access = try PropertyList(lstm_h5p_file_access(), path)
            try access.setFormat110(path)
            id = H5Fcreate(path, lstm_h5f_acc_trunc(), creation.raw, access.raw)
        }
        super.init(handle: try ObjectHandle(id, .file, path), file: path, path: "/", kind: "file")
    }

    /// Writes buffered data to disk; closing happens when the last reference goes. Wraps `H5Fflush`.
    public func flush() throws {
        try h5check(H5Fflush(handle.raw, H5F_SCOPE_LOCAL), "\(file): write")
    }

    /// Flushes and closes the file, throwing what the last writes met (a full disk). Objects
    /// opened from it must be released first. Wraps `H5Fclose`.
    public func close() throws {
        try flush()
        try handle.close("\(file): write")
    }
}

/// A group inside a file.
public final class H5Group: H5Container {}

/// A dataset: an n-dimensional array, read and written whole or by ranges of rows (the first
/// dimension), row-major as on disk.
public final class H5Dataset: H5Object {
    /// The extent of each dimension; throws when their product does not fit in an `Int`, so
    /// element counts computed from it never overflow. Wraps `H5Sget_simple_extent_dims`.
    public var shape: [Int] {
        get throws {
            let dims = try Dataspace(of: self).extents(context)
            var bytes = 8  // the widest element read
            for extent in dims {
                let (product, overflow) = bytes.multipliedReportingOverflow(by: Int(clamping: extent))
                guard !overflow, extent <= hsize_t(Int.max) else { throw StorageError("\(context): shape \(dims) is too large to read") }
                bytes = product
            }
            return dims.map { Int($0) }
        }
    }

    /// Integer, float or string elements. Wraps `H5Dget_type` and `H5Tget_class`.
    public var elementKind: H5ElementKind {
        get throws {
            try Datatype(of: self).elementKind(context)
        }
    }

    /// Writes rows `[start, start + values.count / rowSize)`. Wraps `H5Dwrite` on a hyperslab.
    public func write<Element: HDF5Scalar>(_ values: UnsafeBufferPointer<Element>, rowsFrom start: Int) throws {
        let selection = try rowSelection(start: start, elements: values.count)
        guard selection.rows > 0 else { return }
        try h5check(H5Dwrite(handle.raw, Element.nativeType, selection.memory.raw, selection.file.raw, hid_t(H5P_DEFAULT), values.baseAddress),
                    "\(context): write rows \(start)..<\(start + selection.rows)")
    }

    /// Writes the whole dataset.
    public func write<Element: HDF5Scalar>(_ values: [Element]) throws {
        let total = try shape.reduce(1, *)
        guard values.count == total else { throw StorageError("\(context): \(values.count) values for \(total) elements") }
        try values.withUnsafeBufferPointer { try write($0, rowsFrom: 0) }
    }

    /// Stores one chunk's bytes, already passed through every filter of the dataset's pipeline,
    /// at the chunk whose first element is `offset`. Wraps `H5Dwrite_chunk`.
    func writeChunk(at offset: [Int], _ bytes: [UInt8]) throws {
        try h5check(H5Dwrite_chunk(handle.raw, hid_t(H5P_DEFAULT), 0, offset.map { hsize_t($0) }, bytes.count, bytes),
                    "\(context): write chunk at \(offset)")
    }

    /// Reads a range of rows, converting to `Element`. Wraps `H5Dread` on a hyperslab.
    public func read<Element: HDF5Scalar>(rows: Range<Int>, as _: Element.Type = Element.self) throws -> [Element] {
        let rowSize = try shape.dropFirst().reduce(1, *)
        let selection = try rowSelection(start: rows.lowerBound, elements: rows.count * rowSize)
        guard selection.rows > 0 else { return [] }
        return try [Element](unsafeUninitializedCapacity: rows.count * rowSize) { buffer, count in
            do {
                let status = guardingCrashes(reading: file) {
                    H5Dread(handle.raw, Element.nativeType, selection.memory.raw, selection.file.raw, hid_t(H5P_DEFAULT),
                            buffer.baseAddress)
                }
                try h5check(status, "\(context): read rows \(rows)")
            } catch let error as StorageError where error.isChecksumMismatch {
                throw StorageError("checksum mismatch in \(path) of \(file)", isChecksumMismatch: true)
            }
            count = rows.count * rowSize
        }
    }

    /// Reads the whole dataset.
    public func read<Element: HDF5Scalar>(as _: Element.Type = Element.self) throws -> [Element] {
        let shape = try shape
        guard !shape.isEmpty else { throw StorageError("\(context): a scalar, expected an array") }
        return try read(rows: 0..<shape[0])
    }

    /// The file and memory dataspaces selecting whole rows from `start` that hold `elements`.
    private func rowSelection(start: Int, elements: Int) throws -> RowSelection {
        let shape = try shape
        let rowSize = shape.dropFirst().reduce(1, *)
        guard !shape.isEmpty, rowSize > 0 || elements == 0, elements % max(rowSize, 1) == 0 else {
            throw StorageError("\(context): \(elements) values are not whole rows of \(shape.dropFirst())")
        }
        let rows = rowSize == 0 ? 0 : elements / rowSize
        guard start >= 0, start + rows <= shape[0] else {
            throw StorageError("\(context): rows \(start)..<\(start + rows) outside 0..<\(shape[0])")
        }
        let fileSpace = try Dataspace(of: self)
        var offset = [hsize_t](repeating: 0, count: shape.count)
        offset[0] = hsize_t(start)
        var count = shape.map { hsize_t($0) }
        count[0] = hsize_t(rows)
        if rows > 0 { try fileSpace.selectBlock(start: offset, count: count, context) }
        return RowSelection(file: fileSpace, memory: try Dataspace(extents: count, context), rows: rows)
    }
}

/// Whole rows of a dataset: where they are in the file and their shape in memory.
private struct RowSelection: ~Copyable {
    let file: Dataspace
    let memory: Dataspace
    let rows: Int
}

/// Reads a scalar string attribute, variable-length (h5py's default) or fixed-length (NUL- or
/// space-padded), whose type as stored is `stored`. Wraps `H5Aread` and `H5free_memory`.
private func readString(_ attribute: borrowing Attribute, storedAs stored: borrowing Datatype, _ context: String) throws -> String {
    let cset = try stored.characterSet(context)
    if try stored.isVariableString(context) {
        let type = try Datatype(variableString: cset, context)
        var pointer: UnsafeMutablePointer<CChar>? = nil
        try attribute.read(type.raw, into: &pointer, context)
        defer { H5free_memory(pointer) }
        return pointer.map { String(cString: $0) } ?? ""
    }
    let size = try stored.size(context)
    let type = try Datatype(string: cset, size: size, context)
    var bytes = [UInt8](repeating: 0, count: size)
    try attribute.read(type.raw, into: &bytes, context)
    while let last = bytes.last, last == 0 || last == 0x20 { bytes.removeLast() }
    if let nul = bytes.firstIndex(of: 0) { bytes.removeSubrange(nul...) }
    return String(decoding: bytes, as: UTF8.self)
}
