#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A number as written in the input: whether it was written as an integer (no `.`, no
/// exponent) decides between tokens and features, and between classes and regression.
struct Number: Equatable {
    var value: Double
    var isInteger: Bool
}

/// Exact powers of ten: up to 1e22 every one is a Double without rounding.
private let exactPowersOfTen: [Double] = (0...22).map { exponent in
    (0..<exponent).reduce(1.0) { power, _ in power * 10 }
}

/// Parses a decimal number (`-12`, `0.25`, `1.5e-3`, surrounding spaces allowed) from bytes,
/// or returns nil for anything else: NaN, infinity, and numbers beyond float32's range, which
/// every value packed ends up in. Most numbers take
/// Clinger's exact fast path (at most 19 digits, a power of ten up to 1e22, both exact as
/// Doubles, so one rounding); the rest go to `strtod`. Either way the result is correctly rounded.
func parseNumber(_ field: UnsafeBufferPointer<UInt8>) -> Number? {
    var start = 0, end = field.count
    while start < end, field[start] == 0x20 { start += 1 }
    while end > start, field[end - 1] == 0x20 { end -= 1 }
    var index = start
    var negative = false
    if index < end, field[index] == UInt8(ascii: "-") || field[index] == UInt8(ascii: "+") {
        negative = field[index] == UInt8(ascii: "-")
        index += 1
    }
    var mantissa: UInt64 = 0
    var significantDigits = 0, digits = 0, decimalExponent = 0
    var isInteger = true
    func digitsRun(afterPoint: Bool) {
        while index < end, case let digit = field[index] &- 0x30, digit < 10 {
            digits += 1
            if mantissa != 0 || digit != 0 { significantDigits += 1 }
            if significantDigits <= 19 {
                mantissa = mantissa &* 10 &+ UInt64(digit)
                if afterPoint { decimalExponent -= 1 }
            } else if !afterPoint {
                decimalExponent += 1  // digits beyond 19 are dropped here; strtod redoes these
            }
            index += 1
        }
    }
    digitsRun(afterPoint: false)
    if index < end, field[index] == UInt8(ascii: ".") {
        isInteger = false
        index += 1
        digitsRun(afterPoint: true)
    }
    guard digits > 0 else { return nil }
    if index < end, field[index] | 0x20 == UInt8(ascii: "e") {
        isInteger = false
        index += 1
        var exponentNegative = false
        if index < end, field[index] == UInt8(ascii: "-") || field[index] == UInt8(ascii: "+") {
            exponentNegative = field[index] == UInt8(ascii: "-")
            index += 1
        }
        var exponent = 0, exponentDigits = 0
        while index < end, case let digit = field[index] &- 0x30, digit < 10 {
            exponent = min(exponent * 10 + Int(digit), 100_000)
            exponentDigits += 1
            index += 1
        }
        guard exponentDigits > 0 else { return nil }
        decimalExponent += exponentNegative ? -exponent : exponent
    }
    guard index == end else { return nil }
    if significantDigits <= 19, mantissa < 1 << 53, abs(decimalExponent) <= 22 {
        let magnitude = decimalExponent < 0
            ? Double(mantissa) / exactPowersOfTen[-decimalExponent]
            : Double(mantissa) * exactPowersOfTen[decimalExponent]
        let value = roundingOnceToFloat32(negative ? -magnitude : magnitude, UnsafeBufferPointer(rebasing: field[start..<end]))
        return withinFloat32(Number(value: value, isInteger: isInteger))
    }
    let text = UnsafeBufferPointer(rebasing: field[start..<end])
    return withinFloat32(Number(value: roundingOnceToFloat32(slowParse(text), text), isInteger: isInteger))
}

/// `value` (the Double nearest to decimal `text`), moved by one Double ulp when it lies exactly
/// halfway between two Floats but the decimal does not: there `Float(value)` would round a
/// second time, to even, and could miss the Float nearest to the decimal (`strtof`'s). Every
/// value packed is stored as `Float(value)`, so this keeps that one correct rounding; the
/// Double moves by 1e-16 of itself, far below what its statistics can tell.
@inline(__always)
private func roundingOnceToFloat32(_ value: Double, _ text: UnsafeBufferPointer<UInt8>) -> Double {
    let single = Float(value)
    guard Double(single) != value, single.isFinite else { return value }
    let other = value > Double(single) ? single.nextUp : single.nextDown
    guard other.isFinite, (Double(single) + Double(other)) / 2 == value else { return value }
    var copy = [CChar](repeating: 0, count: text.count + 1)
    for (index, byte) in text.enumerated() { copy[index] = CChar(bitPattern: byte) }
    let nearest = strtof(copy, nil)
    if nearest == single { return value }
    return nearest > single ? value.nextUp : value.nextDown
}

@inline(__always)
private func withinFloat32(_ number: Number) -> Number? {
    abs(number.value) <= Double(Float.greatestFiniteMagnitude) ? number : nil
}

/// `strtod` over a NUL-terminated copy, for the numbers the fast path cannot round exactly.
private func slowParse(_ text: UnsafeBufferPointer<UInt8>) -> Double {
    var copy = [CChar](repeating: 0, count: text.count + 1)
    for (index, byte) in text.enumerated() { copy[index] = CChar(bitPattern: byte) }
    return strtod(copy, nil)
}
