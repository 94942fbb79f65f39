import Foundation
import Storage

/// `/forecast` of an HDF5 file being written, one row at a time in any order.
final class ForecastFile {
    private let file: H5File
    private let forecast: H5Dataset

    /// - Parameter shape: [N, steps, K].
    init(path: String, shape: [Int]) throws {
        file = try H5File(path: path, mode: .truncate)
        // Contiguous: rows arrive out of order, a compressed chunk would be rewritten for each.
        forecast = try file.createDataset("forecast", of: Float.self, shape: shape)
    }

    func write(_ values: UnsafeBufferPointer<Float>, row: Int) throws {
        try forecast.write(values, rowsFrom: row)
    }

    /// The forecasts of an HDF5 file as CSV lines `row,h,p0,...` in row order, h from 1, leaving
    /// out the rows of length 0 (they have no forecast).
    static func writeCSV(from forecastPath: String, to path: String, lengths: [Int32]) throws {
        let forecast = try H5File(path: forecastPath, mode: .readOnly).dataset("forecast")
        let shape = try forecast.shape
        let (rows, steps, K) = (shape[0], shape[1], shape[2])
        guard let out = fopen(path, "w") else { throw InferenceError("\(path): cannot write: \(String(cString: strerror(errno)))") }
        fputs("row,h," + (0 ..< K).map { "p\($0)" }.joined(separator: ",") + "\n", out)
        let blockRows = max(1, (1 << 20) / (steps * K))
        for start in stride(from: 0, to: rows, by: blockRows) {
            let block = start ..< min(start + blockRows, rows)
            let values: [Float]
            do { values = try forecast.read(rows: block) } catch { fclose(out); throw error }
            for row in block where lengths[row] > 0 {
                for h in 0 ..< steps {
                    let at = ((row - start) * steps + h) * K
                    fputs("\(row),\(h + 1)," + (0 ..< K).map { "\(values[at + $0])" }.joined(separator: ",") + "\n", out)
                }
            }
        }
        let failed = ferror(out) != 0
        guard fclose(out) == 0, !failed else { throw InferenceError("\(path): write failed: \(String(cString: strerror(errno)))") }
    }
}
