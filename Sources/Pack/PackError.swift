/// Why `pack` refused its input or options: one line naming the file and, where it applies, the
/// line and column or field, e.g. `data.csv: line 12, column 'x3': 'abc' is not a finite number`.
public struct PackError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Where in an input file a problem is: "data.csv: line 12, column 'x3'".
struct Location {
    var file: String
    var line: Int
    var detail: String? = nil

    func error(_ problem: String) -> PackError {
        PackError("\(file): line \(line)\(detail.map { ", \($0)" } ?? ""): \(problem)")
    }

    func at(_ detail: String) -> Location { Location(file: file, line: line, detail: detail) }
}
