/// One JSON value, parsed from the bytes of one line. Numbers keep whether they were written
/// as integers, which JSONSerialization would lose.
indirect enum JSONValue {
    case number(Number)
    case string(String)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses a whole line; the error's column counts bytes from 1.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONSyntaxError) -> JSONValue {
        var parser = Parser(bytes: bytes)
        let value = try parser.value()
        parser.skipSpaces()
        guard parser.index == bytes.count else { throw parser.error("unexpected text after the value") }
        return value
    }

    /// How messages show a value: numbers as written, strings quoted, containers by kind.
    var summary: String {
        switch self {
        case .number(let number): return number.description
        case .string(let text): return "\"\(text)\""
        case .bool(let value): return String(value)
        case .null: return "null"
        case .array: return "a list"
        case .object: return "an object"
        }
    }
}

struct JSONSyntaxError: Error {
    var column: Int
    var problem: String
}

private struct Parser {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    func error(_ problem: String) -> JSONSyntaxError { JSONSyntaxError(column: index + 1, problem: problem) }

    mutating func skipSpaces() {
        while index < bytes.count, [0x20, 0x09, 0x0D, 0x0A].contains(bytes[index]) { index += 1 }
    }

    mutating func value() throws(JSONSyntaxError) -> JSONValue {
        skipSpaces()
        guard index < bytes.count else { throw error("expected a value, found the end of the line") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return .number(try number())
        }
    }

    private mutating func object() throws(JSONSyntaxError) -> JSONValue {
        index += 1
        var members: [String: JSONValue] = [:]
        skipSpaces()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
        while true {
            skipSpaces()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a quoted key") }
            let key = try string()
            try expect(":")
            members[key] = try value()
            if try endOfContainer("}") { return .object(members) }
        }
    }

    private mutating func array() throws(JSONSyntaxError) -> JSONValue {
        index += 1
        var elements: [JSONValue] = []
        skipSpaces()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
        while true {
            elements.append(try value())
            if try endOfContainer("]") { return .array(elements) }
        }
    }

    /// After a member or element: true at the closing bracket, false after a comma.
    private mutating func endOfContainer(_ closing: Unicode.Scalar) throws(JSONSyntaxError) -> Bool {
        skipSpaces()
        guard index < bytes.count else { throw error("expected ',' or '\(closing)', found the end of the line") }
        let byte = bytes[index]
        index += 1
        if byte == UInt8(ascii: closing) { return true }
        guard byte == UInt8(ascii: ",") else { index -= 1; throw error("expected ',' or '\(closing)'") }
        return false
    }

    private mutating func expect(_ character: Unicode.Scalar) throws(JSONSyntaxError) {
        skipSpaces()
        guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { throw error("expected '\(character)'") }
        index += 1
    }

    private mutating func literal(_ word: String) throws(JSONSyntaxError) {
        for byte in word.utf8 {
            guard index < bytes.count, bytes[index] == byte else { throw error("expected \(word)") }
            index += 1
        }
    }

    private mutating func number() throws(JSONSyntaxError) -> Number {
        let start = index
        while index < bytes.count, case let byte = bytes[index],
              (0x30...0x39).contains(byte) || [UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(byte) {
            index += 1
        }
        let token = UnsafeBufferPointer(rebasing: bytes[start..<index])
        guard let number = parseNumber(token) else {
            index = start
            throw error(token.isEmpty ? "expected a value" : "'\(String(decoding: token, as: UTF8.self))' is not a finite number")
        }
        return number
    }

    private mutating func string() throws(JSONSyntaxError) -> String {
        index += 1
        var scalars = String.UnicodeScalarView()
        var utf8: [UInt8] = []
        func flush() {
            scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars)
            utf8.removeAll()
        }
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") { flush(); return String(scalars) }
            guard byte == UInt8(ascii: "\\") else { utf8.append(byte); continue }
            guard index < bytes.count else { break }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "u"):
                guard index + 4 <= bytes.count, let code = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16) else {
                    throw error("bad \\u escape")
                }
                index += 4
                flush()
                scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")  // lone surrogate halves: only shown in messages
            default: utf8.append(escape)
            }
        }
        throw error("unterminated string")
    }
}
