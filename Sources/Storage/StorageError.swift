import CHDF5

/// A failure reading or writing a file, with a message a user can act on, such as
/// `data.h5: dataset /inputs: not found`.
public struct StorageError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Runs an HDF5 call and returns its result, or throws when it is negative (HDF5's only error
/// signal). The message is `context` followed by the most specific entry of HDF5's error stack.
@discardableResult
func h5check<Result: BinaryInteger>(_ result: Result, _ context: @autoclosure () -> String) throws -> Result {
    guard result < 0 else { return result }
    let detail = innermostHDF5Error()
    throw StorageError(detail.map { "\(context()): \($0)" } ?? context())
}

/// Turns off HDF5's printing of its error stack to stderr; errors become thrown messages instead.
/// HDF5's thread-safe build keeps this setting per thread, so every thread that calls HDF5 must
/// call this first. Wraps `H5Eset_auto2`.
public func silenceHDF5Diagnostics() {
    H5Eset_auto2(hid_t(H5E_DEFAULT), nil, nil)
}

/// The description of the deepest entry of the calling thread's HDF5 error stack (the place the
/// error was detected), then clears the stack. Wraps `H5Ewalk2` and `H5Eclear2`.
private func innermostHDF5Error() -> String? {
    final class Box { var text: String? }
    let box = Box()
    _ = withExtendedLifetime(box) {
        H5Ewalk2(hid_t(H5E_DEFAULT), H5E_WALK_UPWARD, { n, entry, data in
            let box = Unmanaged<Box>.fromOpaque(data!).takeUnretainedValue()
            if n == 0, let desc = entry?.pointee.desc { box.text = String(cString: desc) }
            return 0
        }, Unmanaged.passUnretained(box).toOpaque())
    }
    H5Eclear2(hid_t(H5E_DEFAULT))
    return box.text
}
