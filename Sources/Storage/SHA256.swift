import CCrypto

/// SHA-256 (FIPS 180-4) for the dataset fingerprint, from OpenSSL's libcrypto (its EVP digest
/// interface, which uses the CPU's SHA extensions where there are any): the thin wrapper of
/// that C library, turning its failure codes into thrown errors. Streaming: feed any number of
/// byte runs, then take the digest.
public final class SHA256 {
    private let context: OpaquePointer

    public init() throws {
        guard let context = EVP_MD_CTX_new() else { throw StorageError("SHA-256: OpenSSL could not allocate a digest context") }
        self.context = context
        try Self.check(EVP_DigestInit_ex(context, EVP_sha256(), nil), "EVP_DigestInit_ex")
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        try Self.check(EVP_DigestUpdate(context, base, bytes.count), "EVP_DigestUpdate")
    }

    public func update<T>(_ values: [T]) throws {
        try values.withUnsafeBytes { try update($0) }
    }

    public func update(_ text: String) throws {
        try update(Array(text.utf8))
    }

    /// The digest of everything fed so far, as 64 lowercase hex characters (the hash can still be fed).
    public func hexDigest() throws -> String {
        guard let copy = EVP_MD_CTX_new() else { throw StorageError("SHA-256: OpenSSL could not allocate a digest context") }
        defer { EVP_MD_CTX_free(copy) }
        try Self.check(EVP_MD_CTX_copy_ex(copy, context), "EVP_MD_CTX_copy_ex")
        var digest = [UInt8](repeating: 0, count: 32)
        var size: UInt32 = 0
        try Self.check(EVP_DigestFinal_ex(copy, &digest, &size), "EVP_DigestFinal_ex")
        guard size == 32 else { throw StorageError("SHA-256: OpenSSL returned a digest of \(size) bytes, not 32") }
        let hex = Array("0123456789abcdef")
        return String(digest.flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] })
    }

    private static func check(_ status: Int32, _ function: String) throws {
        guard status == 1 else { throw StorageError("SHA-256: OpenSSL's \(function) failed") }
    }
}
