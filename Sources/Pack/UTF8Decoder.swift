/// Decodes UTF-8 block by block (a character may straddle two blocks), counting lines and
/// columns so that an invalid byte is reported where a text editor would show it.
struct UTF8Decoder {
    let file: String
    private(set) var line = 1
    /// Characters before the current one on its line.
    private(set) var column = 0
    private var pending = 0
    private var scalar: UInt32 = 0
    private var smallest: UInt32 = 0

    init(file: String) { self.file = file }

    /// Where the next character is, for messages.
    var location: Location { Self.location(file: file, line: line, column: column) }

    static func location(file: String, line: Int, column: Int) -> Location {
        Location(file: file, line: line, detail: "column \(column + 1)")
    }

    /// Calls `body` with every complete Unicode scalar in `bytes`, and its line and column
    /// (characters before it on its line).
    mutating func decode(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (UInt32, _ line: Int, _ column: Int) throws -> Void) throws {
        for byte in bytes {
            if pending == 0 {
                switch byte {
                case 0..<0x80: try emit(UInt32(byte), body); continue
                case 0xC2...0xDF: (pending, scalar, smallest) = (1, UInt32(byte & 0x1F), 0x80)
                case 0xE0...0xEF: (pending, scalar, smallest) = (2, UInt32(byte & 0x0F), 0x800)
                case 0xF0...0xF4: (pending, scalar, smallest) = (3, UInt32(byte & 0x07), 0x10000)
                default: throw invalid(byte)
                }
            } else {
                guard byte & 0xC0 == 0x80 else { throw invalid(byte) }
                scalar = scalar << 6 | UInt32(byte & 0x3F)
                pending -= 1
                if pending == 0 {
                    guard scalar >= smallest, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { throw invalid(byte) }
                    try emit(scalar, body)
                }
            }
        }
    }

    /// Throws if the input ended inside a character.
    func finish() throws {
        if pending > 0 { throw location.error("not UTF-8 (the file ends inside a character)") }
    }

    private mutating func emit(_ scalar: UInt32, _ body: (UInt32, Int, Int) throws -> Void) throws {
        try body(scalar, line, column)
        if scalar == 0x0A { (line, column) = (line + 1, 0) } else { column += 1 }
    }

    private func invalid(_ byte: UInt8) -> PackError {
        location.error("not UTF-8 (byte 0x\(String(byte, radix: 16, uppercase: true)))")
    }
}
