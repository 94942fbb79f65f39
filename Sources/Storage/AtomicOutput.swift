#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Writes a file so that readers only ever see the old file or the complete new one: the body
/// writes a temporary file beside the output (`.NAME.PID.tmp`, so checkpoints match
/// `.ckpt-*.tmp`), which is then fsynced, renamed into place, and its folder fsynced.
/// On any error the temporary file is removed and an existing output is left untouched; a
/// system call that failed on the temporary file (a full disk, a read-only folder) is reported
/// as `PATH: cannot write: REASON`.
public enum AtomicOutput {
    /// Runs `body` with the temporary path to write; `body` must have closed the file when it
    /// returns. Refuses an existing output unless `force`, and an output folder that does not exist.
    public static func write<Result>(to path: String, force: Bool, _ body: (_ temporaryPath: String) throws -> Result) throws -> Result {
        try checkDestination(path, force: force)
        let (folder, name) = split(path)
        let temporary = (folder == "." && !path.hasPrefix("./") ? "" : folder + "/") + ".\(name).\(getpid()).tmp"
        do {
            let result = try body(temporary)
            try sync(temporary)
            guard rename(temporary, path) == 0 else { throw systemError("\(path): cannot rename \(temporary) into place") }
            try sync(folder)
            return result
        } catch let error as StorageError where error.systemReason != nil && error.message.contains(temporary) {
            unlink(temporary)
            throw StorageError("\(path): cannot write: \(error.systemReason!)", systemReason: error.systemReason)
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Writes `bytes` as the file at `path` (a `write` body's temporary file), so that a failure
    /// carries the system's reason. Wraps `open` and `write`.
    public static func writeBytes(_ bytes: [UInt8], to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw systemError("\(path): cannot create") }
        defer { close(descriptor) }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + written, $0.count - written) }
            guard count > 0 else { throw systemError("\(path): cannot write") }
            written += count
        }
    }

    /// The error for a failed system call on `path`, with the system's reason from `errno`.
    public static func systemError(_ message: String) -> StorageError {
        let reason = String(cString: strerror(errno))
        return StorageError("\(message): \(reason)", systemReason: reason)
    }

    /// Throws unless `write` could create `path`: its folder exists, and it does not unless
    /// `force`. Lets a long job refuse before it starts.
    public static func checkDestination(_ path: String, force: Bool) throws {
        let folder = split(path).folder
        var status = stat()
        guard stat(folder, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
            throw StorageError("\(path): output folder \(folder) does not exist")
        }
        if !force && access(path, F_OK) == 0 {
            throw StorageError("\(path): already exists (pass --force to replace it)")
        }
    }

    /// The folder and file name of a path ("." for a bare name).
    private static func split(_ path: String) -> (folder: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let folder = String(path[..<slash])
        return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
    }

    /// Flushes a file's or folder's contents to disk. Wraps `fsync`.
    private static func sync(_ path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw systemError("\(path): cannot open to sync") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw systemError("\(path): fsync failed") }
    }
}
