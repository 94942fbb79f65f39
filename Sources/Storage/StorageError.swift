import CHDF5

/// A failure reading or writing a file, with a message a user can act on, such as
/// `data.h5: dataset /inputs: not found`.
public struct StorageError: Error, CustomStringConvertible, Equatable {
    public let message: String
    /// HDF5 found stored bytes that disagree with their checksum: the file is damaged.
    public let isChecksumMismatch: Bool
    /// The operating system's reason when a system call failed ("No space left on device").
    public let systemReason: String?
    public init(_ message: String, isChecksumMismatch: Bool = false, systemReason: String? = nil) {
        self.message = message
        self.isChecksumMismatch = isChecksumMismatch
        self.systemReason = systemReason
    }
    public var description: String { message }
}

/// Runs an HDF5 call and returns its result, or throws when it is negative (HDF5's only error
/// signal). The message is `context` followed by the most specific entry of HDF5's error stack:
/// the operating system's reason when there is one ("No space left on device"), or
/// "checksum mismatch" when HDF5 found damaged bytes anywhere down the stack.
@discardableResult
func h5check<Result: BinaryInteger>(_ result: Result, _ context: @autoclosure () -> String) throws -> Result {
    guard result < 0 else { return result }
    let detail = innermostHDF5Error()
    if detail.checksum { throw StorageError("\(context()): checksum mismatch (the file is damaged)", isChecksumMismatch: true) }
    throw StorageError(detail.text.map { "\(context()): \($0)" } ?? context(), systemReason: detail.system ? detail.text : nil)
}

/// Turns off HDF5's printing of its error stack to stderr; errors become thrown messages instead.
/// HDF5's thread-safe build keeps this setting per thread, so every thread that calls HDF5 must
/// call this first. Wraps `H5Eset_auto2`.
///
/// The first call, before HDF5 starts, also keeps HDF5 from closing what is still open when the
/// process exits (`H5dont_atexit`): after a failed write (a full disk), that closing crashed
/// inside libhdf5. Every file written is closed explicitly before its output is renamed into place.
public func silenceHDF5Diagnostics() {
    _ = skipHDF5Cleanup
    H5Eset_auto2(hid_t(H5E_DEFAULT), nil, nil)
}

private let skipHDF5Cleanup: Void = { _ = H5dont_atexit() }()

/// The description of the deepest entry of the calling thread's HDF5 error stack (the place the
/// error was detected; for a failed system call, just its `error message = '...'`), whether any
/// entry is about a checksum, then clears the stack. Wraps `H5Ewalk2` and `H5Eclear2`.
private func innermostHDF5Error() -> (text: String?, checksum: Bool, system: Bool) {
    final class Box { var text: String?; var checksum = false }
    let box = Box()
    _ = withExtendedLifetime(box) {
        H5Ewalk2(hid_t(H5E_DEFAULT), H5E_WALK_UPWARD, { n, entry, data in
            let box = Unmanaged<Box>.fromOpaque(data!).takeUnretainedValue()
            guard let desc = entry?.pointee.desc else { return 0 }
            let text = String(cString: desc)
            if n == 0 { box.text = text }
            if text.lowercased().contains("checksum") { box.checksum = true }
            return 0
        }, Unmanaged.passUnretained(box).toOpaque())
    }
    H5Eclear2(hid_t(H5E_DEFAULT))
    if let text = box.text, let start = text.firstRange(of: "error message = '"),
       let end = text[start.upperBound...].firstIndex(of: "'") {
        return (String(text[start.upperBound..<end]), box.checksum, true)
    }
    return (box.text, box.checksum, false)
}
