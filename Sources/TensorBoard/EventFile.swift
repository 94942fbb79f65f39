#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SwiftProtobuf
import Training

/// One TensorBoard event file: `Event` protos in TFRecord framing (each record: the data's
/// length as a little-endian UInt64, the masked CRC32C of those 8 bytes, the data, the masked
/// CRC32C of the data), named as TensorFlow names them, `events.out.tfevents.<unix time>.<host>`.
struct EventFile {
    let path: String
    private let file: UnsafeMutablePointer<FILE>

    /// A new file in `directory` (created if missing), named to sort after every event file
    /// already there: TensorBoard reads a folder's files in name order, and a resumed run's file
    /// must come after the run's earlier ones even within the same second or on a host whose
    /// clock is behind.
    init(in directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingError("cannot create --tensorboard \(directory): \((error as NSError).localizedDescription)")
        }
        var name = "events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(Self.hostName)"
        if let last = try Self.names(in: directory).max(), last >= name { name = last + ".1" }
        path = (directory as NSString).appendingPathComponent(name)
        // "x": never write into another writer's file.
        guard let file = fopen(path, "wbx") else {
            throw TrainingError("cannot create \(path) for --tensorboard: \(String(cString: strerror(errno)))")
        }
        self.file = file
    }

    /// The event files in `directory` (as TensorBoard tells them: "tfevents" in the name).
    static func names(in directory: String) throws -> [String] {
        guard FileManager.default.fileExists(atPath: directory) else { return [] }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains("tfevents") }
        } catch {
            throw TrainingError("cannot list --tensorboard \(directory): \((error as NSError).localizedDescription)")
        }
    }

    private static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Appends one record (buffered: `flush` hands it to the system).
    func write(_ event: Tensorflow_Event) {
        // Serializing a message with no required fields cannot fail.
        let data = (try? event.serializedBytes() as [UInt8]) ?? []
        var header = [UInt8](repeating: 0, count: 12)
        withUnsafeBytes(of: UInt64(data.count).littleEndian) { header.replaceSubrange(0..<8, with: $0) }
        withUnsafeBytes(of: maskedCRC32C(header[0..<8]).littleEndian) { header.replaceSubrange(8..<12, with: $0) }
        var footer = [UInt8](repeating: 0, count: 4)
        withUnsafeBytes(of: maskedCRC32C(data).littleEndian) { footer.replaceSubrange(0..<4, with: $0) }
        fwrite(header, 1, header.count, file)
        fwrite(data, 1, data.count, file)
        fwrite(footer, 1, footer.count, file)
    }

    func flush() { fflush(file) }

    func close() { fclose(file) }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of `bytes`.
func crc32c<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes { crc = crc32cTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    return ~crc
}

/// The CRC as TFRecord stores it: rotated right by 15 bits plus a constant, so that a CRC of
/// data holding CRCs does not degenerate.
func maskedCRC32C<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> UInt32 {
    let crc = crc32c(bytes)
    return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
}

private let crc32cTable: [UInt32] = (0..<256).map { index in
    var crc = UInt32(index)
    for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    return crc
}
