import Foundation
@testable import Pack
import XCTest

final class NumberParserTests: XCTestCase {
    private func parse(_ text: String) -> Number? {
        Array(text.utf8).withUnsafeBufferPointer(parseNumber)
    }

    func testAgreesWithSwiftsCorrectlyRoundedParserOnManyForms() {
        var generator = SystemRandomNumberGenerator()
        var samples = ["0", "-0.0", "+3", "1e5", "1E-5", "2.5e+3", ".5", "5.", "0.1", "123456789012345678901234", "9007199254740993",
                       "3.4028234e38", "4.9e-324", "0.30000000000000004", "  42  "]
        for _ in 0..<2000 {
            samples.append(String(format: "%.5f", Double.random(in: -1000...1000, using: &generator)))
            samples.append("\(Double.random(in: -1e30...1e30, using: &generator))")
            samples.append("\(Int64.random(in: .min ... .max, using: &generator))e\(Int.random(in: -40...19, using: &generator))")
        }
        for text in samples {
            XCTAssertEqual(parse(text)?.value, Double(text.trimmingCharacters(in: .whitespaces)), text)
        }
    }

    func testIntegersAreTheNumbersWrittenWithoutPointOrExponent() {
        XCTAssertEqual(parse("-12"), Number(value: -12, isInteger: true))
        XCTAssertEqual(parse("1.0")?.isInteger, false)
        XCTAssertEqual(parse("1e2")?.isInteger, false)
    }

    func testRejectsTextNaNInfinityAndNumbersBeyondFloat32() {
        for text in ["", "-", "abc", "1.2.3", "1e", "nan", "NaN", "inf", "-Infinity", "1e999", "-3.5e38", "0x10", "1,5", "1 2"] {
            XCTAssertNil(parse(text), text)
        }
    }
}
