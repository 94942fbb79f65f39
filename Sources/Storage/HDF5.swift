import CCrashGuard
import CHDF5
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// An HDF5 identifier, closed by the close function of its kind exactly once, when released.
final class H5ID {
    let raw: hid_t
    private let closeFunction: (hid_t) -> herr_t
    private var isOpen = true

    /// Wraps the result of an HDF5 call that returns a new identifier; throws when it failed.
    init(_ raw: hid_t, close: @escaping (hid_t) -> herr_t, _ context: @autoclosure () -> String) throws {
        self.raw = try h5check(raw, context())
        self.closeFunction = close
    }

    /// Closes now, throwing what closing reports (a file's last writes happen here).
    func close(_ context: @autoclosure () -> String) throws {
        guard isOpen else { return }
        isOpen = false
        try h5check(closeFunction(raw), context())
    }

    /// Keeps the thread's HDF5 error stack: Swift may release an id right after its last use,
    /// between a failed call and the `h5check` that reads why, and closing would clear it.
    /// Wraps `H5Eget_current_stack` and `H5Eset_current_stack`.
    deinit {
        guard isOpen else { return }
        guard H5Eget_num(hid_t(H5E_DEFAULT)) > 0 else { _ = closeFunction(raw); return }
        let pending = H5Eget_current_stack()
        _ = closeFunction(raw)
        H5Eset_current_stack(pending)
    }
}

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
    let handle: H5ID
    /// The file as the caller named it, for messages.
    public let file: String
    /// The absolute path inside the file ("/" for the root group).
    public let path: String
    /// How messages name this object, e.g. "data.h5: dataset /inputs".
    let context: String

    init(handle: H5ID, file: String, path: String, kind: String) {
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
        let space = try H5ID(H5Screate(H5S_SCALAR), close: H5Sclose, context)
        func create(_ type: hid_t) throws -> H5ID {
            try H5ID(H5Acreate2(handle.raw, name, type, space.raw, hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT)), close: H5Aclose, context)
        }
        switch value {
        case .int(var number):
            let attribute = try create(lstm_h5t_native_int64())
            try h5check(H5Awrite(attribute.raw, lstm_h5t_native_int64(), &number), context)
        case .double(var number):
            let attribute = try create(lstm_h5t_native_double())
            try h5check(H5Awrite(attribute.raw, lstm_h5t_native_double(), &number), context)
        case .string(let text):
            let type = try variableStringType(cset: H5T_CSET_UTF8, context)
            let attribute = try create(type.raw)
            try text.withCString { chars in
                var pointer: UnsafePointer<CChar>? = chars
                try h5check(H5Awrite(attribute.raw, type.raw, &pointer), context)
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
        let attribute = try H5ID(H5Aopen(handle.raw, name, hid_t(H5P_DEFAULT)), close: H5Aclose, context)
        let space = try H5ID(H5Aget_space(attribute.raw), close: H5Sclose, context)
        guard try h5check(H5Sget_simple_extent_npoints(space.raw), context) == 1 else {
            throw StorageError("\(context): expected a single value")
        }
        let type = try H5ID(H5Aget_type(attribute.raw), close: H5Tclose, context)
        switch try kind(of: type.raw, context) {
        case .integer:
            var number: Int64 = 0
            try h5check(H5Aread(attribute.raw, lstm_h5t_native_int64(), &number), context)
            return .int(number)
        case .float:
            var number: Double = 0
            try h5check(H5Aread(attribute.raw, lstm_h5t_native_double(), &number), context)
            return .double(number)
        case .string:
            return .string(try readString(attribute.raw, fileType: type.raw, context))
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
        return H5Group(handle: try H5ID(id, close: H5Gclose, "\(file): group \(full)"), file: file, path: full, kind: "group")
    }

    /// Creates a group and any missing groups above it (`/model/lstm_0`). Wraps `H5Gcreate2`.
    public func createGroup(_ path: String) throws -> H5Group {
        let full = absolute(path)
        let context = "\(file): group \(full)"
        try createParents(of: full, context)
        let properties = try untimedProperties(lstm_h5p_group_create(), context)
        return H5Group(handle: try H5ID(H5Gcreate2(handle.raw, full, hid_t(H5P_DEFAULT), properties.raw, hid_t(H5P_DEFAULT)), close: H5Gclose, context),
                       file: file, path: full, kind: "group")
    }

    /// Opens a dataset. Wraps `H5Dopen2`.
    public func dataset(_ path: String) throws -> H5Dataset {
        let full = try existingPath(path, kind: "dataset")
        let id = guardingCrashes(reading: file) { H5Dopen2(handle.raw, full, hid_t(H5P_DEFAULT)) }
        return H5Dataset(handle: try H5ID(id, close: H5Dclose, "\(file): dataset \(full)"), file: file, path: full, kind: "dataset")
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
        let space = try H5ID(H5Screate_simple(Int32(dims.count), dims, nil), close: H5Sclose, context)
        let properties = try untimedProperties(lstm_h5p_dataset_create(), context)
        if !shape.isEmpty, !shape.contains(0) {
            let chunks = chunks ?? Self.rowChunks(shape, elementSize: MemoryLayout<Element>.size)
            precondition(chunks.count == shape.count && chunks.allSatisfy { $0 > 0 }, "one positive chunk extent per dimension")
            try h5check(H5Pset_chunk(properties.raw, Int32(chunks.count), chunks.map { hsize_t($0) }), context)
            if compression > 0 {
                try h5check(H5Pset_shuffle(properties.raw), context)
                try h5check(H5Pset_deflate(properties.raw, UInt32(min(compression, 9))), context)
            }
            // Last, so the checksum covers the bytes as stored and is checked first on reading.
            try h5check(H5Pset_fletcher32(properties.raw), context)
        }
        try createParents(of: full, context)
        let id = H5Dcreate2(handle.raw, full, Element.nativeType, space.raw, hid_t(H5P_DEFAULT), properties.raw, hid_t(H5P_DEFAULT))
        return H5Dataset(handle: try H5ID(id, close: H5Dclose, context), file: file, path: full, kind: "dataset")
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
            let properties = try untimedProperties(lstm_h5p_group_create(), context)
            _ = try H5ID(H5Gcreate2(handle.raw, prefix, hid_t(H5P_DEFAULT), properties.raw, hid_t(H5P_DEFAULT)), close: H5Gclose, context)
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
            let creation = try untimedProperties(lstm_h5p_file_create(), path)
            let access = try H5ID(H5Pcreate(lstm_h5p_file_access()), close: H5Pclose, path)
            try h5check(H5Pset_libver_bounds(access.raw, H5F_LIBVER_V110, H5F_LIBVER_V110), path)
            id = H5Fcreate(path, lstm_h5f_acc_trunc(), creation.raw, access.raw)
        }
        super.init(handle: try H5ID(id, close: H5Fclose, path), file: path, path: "/", kind: "file")
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
            let space = try H5ID(guardingCrashes(reading: file) { H5Dget_space(handle.raw) }, close: H5Sclose, context)
            let rank = Int(try h5check(H5Sget_simple_extent_ndims(space.raw), context))
            var dims = [hsize_t](repeating: 0, count: rank)
            try h5check(H5Sget_simple_extent_dims(space.raw, &dims, nil), context)
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
            let type = try H5ID(guardingCrashes(reading: file) { H5Dget_type(handle.raw) }, close: H5Tclose, context)
            return try kind(of: type.raw, context)
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
    private func rowSelection(start: Int, elements: Int) throws -> (file: H5ID, memory: H5ID, rows: Int) {
        let shape = try shape
        let rowSize = shape.dropFirst().reduce(1, *)
        guard !shape.isEmpty, rowSize > 0 || elements == 0, elements % max(rowSize, 1) == 0 else {
            throw StorageError("\(context): \(elements) values are not whole rows of \(shape.dropFirst())")
        }
        let rows = rowSize == 0 ? 0 : elements / rowSize
        guard start >= 0, start + rows <= shape[0] else {
            throw StorageError("\(context): rows \(start)..<\(start + rows) outside 0..<\(shape[0])")
        }
        let fileSpace = try H5ID(H5Dget_space(handle.raw), close: H5Sclose, context)
        var offset = [hsize_t](repeating: 0, count: shape.count)
        offset[0] = hsize_t(start)
        var count = shape.map { hsize_t($0) }
        count[0] = hsize_t(rows)
        if rows > 0 {
            try h5check(H5Sselect_hyperslab(fileSpace.raw, H5S_SELECT_SET, offset, nil, count, nil), context)
        }
        let memorySpace = try H5ID(H5Screate_simple(Int32(count.count), count, nil), close: H5Sclose, context)
        return (fileSpace, memorySpace, rows)
    }
}

private func kind(of type: hid_t, _ context: String) throws -> H5ElementKind {
    switch H5Tget_class(type) {
    case H5T_INTEGER: return .integer
    case H5T_FLOAT: return .float
    case H5T_STRING: return .string
    case H5T_NO_CLASS: throw StorageError("\(context): cannot read its type")
    default: return .other
    }
}

/// A variable-length C string type of the given character set. Wraps `H5Tcopy` and `H5Tset_size`.
private func variableStringType(cset: H5T_cset_t, _ context: String) throws -> H5ID {
    let type = try H5ID(H5Tcopy(lstm_h5t_c_s1()), close: H5Tclose, context)
    try h5check(H5Tset_size(type.raw, lstm_h5t_variable()), context)
    try h5check(H5Tset_cset(type.raw, cset), context)
    return type
}

/// Reads a scalar string attribute, variable-length (h5py's default) or fixed-length (NUL- or
/// space-padded). Wraps `H5Aread` and `H5free_memory`.
private func readString(_ attribute: hid_t, fileType: hid_t, _ context: String) throws -> String {
    let cset = H5Tget_cset(fileType)
    try h5check(cset.rawValue, context)
    if try h5check(H5Tis_variable_str(fileType), context) > 0 {
        let type = try variableStringType(cset: cset, context)
        var pointer: UnsafeMutablePointer<CChar>? = nil
        try h5check(H5Aread(attribute, type.raw, &pointer), context)
        defer { H5free_memory(pointer) }
        return pointer.map { String(cString: $0) } ?? ""
    }
    let size = H5Tget_size(fileType)
    guard size > 0 else { throw StorageError("\(context): cannot read the string's size") }
    let type = try H5ID(H5Tcopy(lstm_h5t_c_s1()), close: H5Tclose, context)
    try h5check(H5Tset_size(type.raw, size), context)
    try h5check(H5Tset_cset(type.raw, cset), context)
    var bytes = [UInt8](repeating: 0, count: size)
    try h5check(H5Aread(attribute, type.raw, &bytes), context)
    while let last = bytes.last, last == 0 || last == 0x20 { bytes.removeLast() }
    if let nul = bytes.firstIndex(of: 0) { bytes.removeSubrange(nul...) }
    return String(decoding: bytes, as: UTF8.self)
}

/// Creation properties of `kind` (file, group or dataset) that record no access, modification or
/// creation times, so writing the same content gives the same bytes: a resumed run's checkpoint
/// is byte-identical to an uninterrupted run's. Wraps `H5Pcreate` and `H5Pset_obj_track_times`.
func untimedProperties(_ kind: hid_t, _ context: @autoclosure () -> String) throws -> H5ID {
    let properties = try H5ID(H5Pcreate(kind), close: H5Pclose, context())
    try h5check(H5Pset_obj_track_times(properties.raw, false), context())
    return properties
}
