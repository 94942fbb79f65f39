#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// What this machine can hold, checked before allocating what a file or a flag asks for, so an
/// absurd shape is refused with its name instead of ending in a failed allocation.
public enum MemoryBudget {
    /// Physical memory in bytes. Wraps `sysconf(_SC_PHYS_PAGES)`.
    public static var physicalBytes: Double {
        Double(sysconf(Int32(_SC_PHYS_PAGES))) * Double(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Throws "WHAT would need about X GB of memory, more than this machine's Y GB" when `bytes`
    /// (a Double, so that products of huge extents cannot overflow) exceeds physical memory.
    public static func check(_ bytes: Double, _ what: @autoclosure () -> String) throws {
        let available = physicalBytes
        guard bytes > available else { return }
        throw StorageError("\(what()) would need about \(gigabytes(bytes)) of memory, more than this machine's \(gigabytes(available))")
    }

    static func gigabytes(_ bytes: Double) -> String {
        let value = bytes / 1e9
        if value < 10 { return "\((value * 10).rounded() / 10) GB" }
        return value < 1e15 ? "\(Int(value)) GB" : "\(value) GB"
    }
}
