import Glibc

// The XCTest calls BF16Tests.swift and TestSupport.swift make, as plain functions, so their bodies
// compile unchanged into a static executable (XCTest cannot be linked statically). Each records
// into the running check's tally; main.swift prints it.

struct XCTSkip: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

final class Tally {
    var failures = 0
    /// The largest value/bound of the XCTAssertLessThan calls, with its message.
    var worstRatio = -1.0, worstWhat = ""
    /// Products checkProduct ran (the line bf16-emulated-check.sh inserts counts them).
    var products = 0

    func fail(_ message: String) {
        failures += 1
        if failures <= 25 { print("    FAIL: \(message)") } else if failures == 26 { print("    (further failures not printed)") }
    }
}
nonisolated(unsafe) var tally = Tally()

func XCTFail(_ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    tally.fail(message)
}
func XCTAssertTrue(_ value: Bool, _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line) {
    if !value { tally.fail(message()) }
}
func XCTAssertEqual<T: Equatable>(_ a: T, _ b: T, _ message: @autoclosure () -> String = "",
                                  file: StaticString = #filePath, line: UInt = #line) {
    if a != b { tally.fail("\(a) != \(b): \(message())") }
}
func XCTAssertLessThan<T: BinaryFloatingPoint>(_ a: T, _ b: T, _ message: @autoclosure () -> String = "",
                                               file: StaticString = #filePath, line: UInt = #line) {
    let ratio = Double(a) / Double(b)
    if ratio > tally.worstRatio || ratio.isNaN {
        tally.worstRatio = ratio.isNaN ? .infinity : ratio
        tally.worstWhat = "\(a) vs bound \(b) at \(message())"
    }
    if !(a < b) { tally.fail("\(a) is not less than \(b): \(message())") }
}
func XCTAssertGreaterThan<T: BinaryFloatingPoint>(_ a: T, _ b: T, _ message: @autoclosure () -> String = "",
                                                  file: StaticString = #filePath, line: UInt = #line) {
    if !(a > b) { tally.fail("\(a) is not greater than \(b): \(message())") }
}

/// Called once per checkProduct (a line the build inserts): progress on stderr, as the product check
/// runs for about 25 minutes emulated.
func countProduct() {
    tally.products += 1
    if tally.products % 32 == 0 { fputs("    ... \(tally.products) products\n", stderr) }
}
