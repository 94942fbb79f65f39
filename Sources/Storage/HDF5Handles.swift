import CHDF5

// HDF5's identifiers, one small type per kind, each closing itself with its own close function
// exactly once: a dataspace can never be passed where a datatype is expected, and no caller
// pairs an id with its close function. Every call goes through `h5check` (StorageError.swift),
// which turns HDF5's negative return code and its error stack into one thrown `StorageError`.
//
// Dataspaces, datatypes, property lists and attributes live for one operation, so they are
// non-copyable values closed by their `deinit`. Files, groups and datasets are shared by the
// public `H5Object` classes and a file is closed explicitly (its last writes can fail), so their
// id is an `ObjectHandle`, a final class.

/// Runs `close` without disturbing the calling thread's HDF5 error stack: Swift may end an id's
/// lifetime right after its last use, between a failed call and the `h5check` that reads why, and
/// closing would clear the stack. Wraps `H5Eget_current_stack` and `H5Eset_current_stack`.
private func closeKeepingErrorStack(_ close: () -> herr_t) {
    guard H5Eget_num(hid_t(H5E_DEFAULT)) > 0 else { _ = close(); return }
    let pending = H5Eget_current_stack()
    _ = close()
    H5Eset_current_stack(pending)  // also releases `pending`
}

/// The shape of a dataset or attribute, and a selection of its elements.
/// Closed when it goes away; the corresponding C function is `H5Sclose`.
struct Dataspace: ~Copyable {
    let raw: hid_t

    private init(checking raw: hid_t, _ context: @autoclosure () -> String) throws {
        self.raw = try h5check(raw, context())
    }

    /// A single element. The corresponding C function is `H5Screate` with `H5S_SCALAR`.
    init(scalar context: @autoclosure () -> String) throws {
        try self.init(checking: H5Screate(H5S_SCALAR), context())
    }

    /// An array of these extents (none: a scalar). The corresponding C function is `H5Screate_simple`.
    init(extents: [hsize_t], _ context: @autoclosure () -> String) throws {
        try self.init(checking: H5Screate_simple(Int32(extents.count), extents, nil), context())
    }

    /// A copy of the dataset's dataspace. The corresponding C function is `H5Dget_space`.
    init(of dataset: H5Dataset) throws {
        let id = guardingCrashes(reading: dataset.file) { H5Dget_space(dataset.handle.raw) }
        try self.init(checking: id, dataset.context)
    }

    /// A copy of the attribute's dataspace. The corresponding C function is `H5Aget_space`.
    init(of attribute: borrowing Attribute, _ context: @autoclosure () -> String) throws {
        try self.init(checking: H5Aget_space(attribute.raw), context())
    }

    deinit { closeKeepingErrorStack { H5Sclose(raw) } }

    /// How many elements it holds. The corresponding C function is `H5Sget_simple_extent_npoints`.
    func elementCount(_ context: @autoclosure () -> String) throws -> Int {
        Int(try h5check(H5Sget_simple_extent_npoints(raw), context()))
    }

    /// The extent of each dimension. The corresponding C functions are
    /// `H5Sget_simple_extent_ndims` and `H5Sget_simple_extent_dims`.
    func extents(_ context: @autoclosure () -> String) throws -> [hsize_t] {
        let rank = Int(try h5check(H5Sget_simple_extent_ndims(raw), context()))
        var extents = [hsize_t](repeating: 0, count: rank)
        try h5check(H5Sget_simple_extent_dims(raw, &extents, nil), context())
        return extents
    }

    /// Selects the block of `count` elements per dimension from `start`, replacing the selection.
    /// The corresponding C function is `H5Sselect_hyperslab` with `H5S_SELECT_SET`.
    func selectBlock(start: [hsize_t], count: [hsize_t], _ context: @autoclosure () -> String) throws {
        try h5check(H5Sselect_hyperslab(raw, H5S_SELECT_SET, start, nil, count, nil), context())
    }
}

/// An element type made or read here; the library's native types (`HDF5Scalar.nativeType`) are
/// HDF5's own and never closed. Closed when it goes away; the corresponding C function is `H5Tclose`.
struct Datatype: ~Copyable {
    let raw: hid_t

    private init(checking raw: hid_t, _ context: @autoclosure () -> String) throws {
        self.raw = try h5check(raw, context())
    }

    /// A C string type of `size` bytes, or variable-length (`H5T_VARIABLE`), in `cset`.
    /// The corresponding C functions are `H5Tcopy` of `H5T_C_S1`, `H5Tset_size` and `H5Tset_cset`.
    init(string cset: H5T_cset_t, size: Int, _ context: @autoclosure () -> String) throws {
        let type = try Datatype(checking: H5Tcopy(lstm_h5t_c_s1()), context())
        try h5check(H5Tset_size(type.raw, size), context())
        try h5check(H5Tset_cset(type.raw, cset), context())
        self = type
    }

    /// A variable-length C string type in `cset`, as h5py writes strings.
    init(variableString cset: H5T_cset_t, _ context: @autoclosure () -> String) throws {
        try self.init(string: cset, size: lstm_h5t_variable(), context())
    }

    /// The dataset's element type as stored. The corresponding C function is `H5Dget_type`.
    init(of dataset: H5Dataset) throws {
        let id = guardingCrashes(reading: dataset.file) { H5Dget_type(dataset.handle.raw) }
        try self.init(checking: id, dataset.context)
    }

    /// The attribute's element type as stored. The corresponding C function is `H5Aget_type`.
    init(of attribute: borrowing Attribute, _ context: @autoclosure () -> String) throws {
        try self.init(checking: H5Aget_type(attribute.raw), context())
    }

    deinit { closeKeepingErrorStack { H5Tclose(raw) } }

    /// Integer, float, string or other. The corresponding C function is `H5Tget_class`.
    func elementKind(_ context: @autoclosure () -> String) throws -> H5ElementKind {
        switch H5Tget_class(raw) {
        case H5T_INTEGER: return .integer
        case H5T_FLOAT: return .float
        case H5T_STRING: return .string
        case H5T_NO_CLASS: throw StorageError("\(context()): cannot read its type")
        default: return .other
        }
    }

    /// A string type's character set. The corresponding C function is `H5Tget_cset`.
    func characterSet(_ context: @autoclosure () -> String) throws -> H5T_cset_t {
        let cset = H5Tget_cset(raw)
        try h5check(cset.rawValue, context())
        return cset
    }

    /// Whether a string type is variable-length. The corresponding C function is `H5Tis_variable_str`.
    func isVariableString(_ context: @autoclosure () -> String) throws -> Bool {
        try h5check(H5Tis_variable_str(raw), context()) > 0
    }

    /// Bytes per element of a string type. The corresponding C function is `H5Tget_size` (0 on failure).
    func size(_ context: @autoclosure () -> String) throws -> Int {
        let size = H5Tget_size(raw)
        guard size > 0 else { throw StorageError("\(context()): cannot read the string's size") }
        return size
    }
}

/// Properties for creating or opening a file, group or dataset.
/// Closed when it goes away; the corresponding C function is `H5Pclose`.
struct PropertyList: ~Copyable {
    let raw: hid_t

    /// An empty list of the class `propertyClass` (`lstm_h5p_dataset_create()`, ...).
    /// The corresponding C function is `H5Pcreate`.
    init(_ propertyClass: hid_t, _ context: @autoclosure () -> String) throws {
        raw = try h5check(H5Pcreate(propertyClass), context())
    }

    /// Creation properties of `propertyClass` (file, group or dataset) that record no access,
    /// modification or creation times, so writing the same content gives the same bytes: a
    /// resumed run's checkpoint is byte-identical to an uninterrupted run's.
    /// The corresponding C functions are `H5Pcreate` and `H5Pset_obj_track_times`.
    init(untimed propertyClass: hid_t, _ context: @autoclosure () -> String) throws {
        let properties = try PropertyList(propertyClass, context())
        try h5check(H5Pset_obj_track_times(properties.raw, false), context())
        self = properties
    }

    deinit { closeKeepingErrorStack { H5Pclose(raw) } }

    /// Stores a dataset in chunks of these extents. The corresponding C function is `H5Pset_chunk`.
    func setChunk(_ extents: [Int], _ context: @autoclosure () -> String) throws {
        try h5check(H5Pset_chunk(raw, Int32(extents.count), extents.map { hsize_t($0) }), context())
    }

    /// Adds the byte-shuffle filter. The corresponding C function is `H5Pset_shuffle`.
    func setShuffle(_ context: @autoclosure () -> String) throws {
        try h5check(H5Pset_shuffle(raw), context())
    }

    /// Adds the deflate filter at `level` (1-9). The corresponding C function is `H5Pset_deflate`.
    func setDeflate(level: Int, _ context: @autoclosure () -> String) throws {
        try h5check(H5Pset_deflate(raw, UInt32(level)), context())
    }

    /// Adds the Fletcher32 checksum filter. The corresponding C function is `H5Pset_fletcher32`.
    func setFletcher32(_ context: @autoclosure () -> String) throws {
        try h5check(H5Pset_fletcher32(raw), context())
    }

    /// Writes objects in HDF5 1.10's formats, no older and no newer.
    /// The corresponding C function is `H5Pset_libver_bounds`.
    func setFormat110(_ context: @autoclosure () -> String) throws {
        try h5check(H5Pset_libver_bounds(raw, H5F_LIBVER_V110, H5F_LIBVER_V110), context())
    }
}

/// An attribute of a file, group or dataset, open for one read or write.
/// Closed when it goes away; the corresponding C function is `H5Aclose`.
struct Attribute: ~Copyable {
    let raw: hid_t

    /// A new attribute `name` of `object`. The corresponding C function is `H5Acreate2`.
    init(creating name: String, on object: ObjectHandle, type: hid_t, space: borrowing Dataspace,
         _ context: @autoclosure () -> String) throws {
        raw = try h5check(H5Acreate2(object.raw, name, type, space.raw, hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT)), context())
    }

    /// The existing attribute `name` of `object`. The corresponding C function is `H5Aopen`.
    init(opening name: String, on object: ObjectHandle, _ context: @autoclosure () -> String) throws {
        raw = try h5check(H5Aopen(object.raw, name, hid_t(H5P_DEFAULT)), context())
    }

    deinit { closeKeepingErrorStack { H5Aclose(raw) } }

    /// Writes the value at `buffer`, laid out as `memoryType`. The corresponding C function is `H5Awrite`.
    func write(_ memoryType: hid_t, _ buffer: UnsafeRawPointer, _ context: @autoclosure () -> String) throws {
        try h5check(H5Awrite(raw, memoryType, buffer), context())
    }

    /// Reads the value into `buffer`, converted to `memoryType`. The corresponding C function is `H5Aread`.
    func read(_ memoryType: hid_t, into buffer: UnsafeMutableRawPointer, _ context: @autoclosure () -> String) throws {
        try h5check(H5Aread(raw, memoryType, buffer), context())
    }
}

/// The id of an open file, group or dataset, held by the `H5Object` that stands for it. Closed
/// explicitly with `close` (a file's last writes can fail there), or else when the object goes.
final class ObjectHandle {
    enum Kind { case file, group, dataset }

    let raw: hid_t
    let kind: Kind
    private var isOpen = true

    /// Wraps the id that `H5Fopen`, `H5Fcreate`, `H5Gopen2`, `H5Gcreate2`, `H5Dopen2` or
    /// `H5Dcreate2` returned; throws when it is negative.
    init(_ raw: hid_t, _ kind: Kind, _ context: @autoclosure () -> String) throws {
        self.raw = try h5check(raw, context())
        self.kind = kind
    }

    /// Closes now, throwing what closing reports. The corresponding C functions are
    /// `H5Fclose`, `H5Gclose` and `H5Dclose`.
    func close(_ context: @autoclosure () -> String) throws {
        guard isOpen else { return }
        isOpen = false
        try h5check(closeID(), context())
    }

    deinit {
        guard isOpen else { return }
        closeKeepingErrorStack { closeID() }
    }

    private func closeID() -> herr_t {
        switch kind {
        case .file: return H5Fclose(raw)
        case .group: return H5Gclose(raw)
        case .dataset: return H5Dclose(raw)
        }
    }
}
