import CHDF5

extension H5Object {
    /// The names of this object's attributes, in creation order or by name as HDF5 keeps them.
    /// Wraps `H5Aiterate2`.
    public func attributeNames() throws -> [String] {
        let names = NameCollector()
        var index: hsize_t = 0
        try withExtendedLifetime(names) {
            _ = try h5check(H5Aiterate2(handle.raw, H5_INDEX_NAME, H5_ITER_INC, &index, { _, name, _, data in
                Unmanaged<NameCollector>.fromOpaque(data!).takeUnretainedValue().names.append(String(cString: name!))
                return 0
            }, Unmanaged.passUnretained(names).toOpaque()), "\(context): list attributes")
        }
        return names.names
    }
}

extension H5Container {
    /// The absolute paths of every dataset below this group, sorted. Wraps `H5Ovisit`.
    public func datasetPaths() throws -> [String] {
        let names = NameCollector()
        try withExtendedLifetime(names) {
            _ = try h5check(H5Ovisit2(handle.raw, H5_INDEX_NAME, H5_ITER_INC, { _, name, info, data in
                if info!.pointee.type == H5O_TYPE_DATASET {
                    Unmanaged<NameCollector>.fromOpaque(data!).takeUnretainedValue().names.append(String(cString: name!))
                }
                return 0
            }, Unmanaged.passUnretained(names).toOpaque(), UInt32(H5O_INFO_BASIC)), "\(context): list datasets")
        }
        let prefix = path == "/" ? "/" : path + "/"
        return names.names.map { prefix + $0 }.sorted()
    }
}

/// Where HDF5's C iteration callbacks, which cannot capture, collect names.
private final class NameCollector { var names: [String] = [] }
