#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// An output of one float32 record per dataset row, `[N, K]` or `[N, M, K]`, whose rows arrive
/// in any order (`predict`'s `/predictions`, `forecast`'s `/forecast`), written as an HDF5 dataset
/// or as CSV in row order, through `AtomicOutput`: an existing output is refused unless `force`,
/// and is only ever replaced by a complete one.
///
/// The CSV form is converted from the HDF5 form once every row is in (rows never written are
/// zeros), a block of about 1 Mi values at a time, so neither form needs all rows in memory.
public final class RowOutputFile {
    public enum Format: String, CaseIterable, Sendable {
        /// The rows as one float32 dataset of the output's shape.
        case h5
        /// `row,p0,...` lines, or `row,COLUMN,p0,...` (see `CSVLines`).
        case csv
    }

    /// How the CSV form lists the rows, under the header `row,p0,...` or `row,COLUMN,p0,...`.
    public enum CSVLines {
        /// One line per row of an `[N, K]` output: `row,p0,...`.
        case perRow
        /// For each row r of an `[N, M, K]` output, one line per index i of `indices(r)` (within
        /// 0..<M): `r,i + first,p0,...`.
        case perIndex(column: String, first: Int, indices: (_ row: Int) -> Range<Int>)
    }

    private let file: H5File
    private var dataset: H5Dataset?

    /// Writes `path`: `rows` puts every row into the file it is given, in any order; for CSV,
    /// `csvLines` (called only then, after `rows`) says how to list them. `dataset` names the
    /// HDF5 dataset, float32 of `shape` (`[N, K]` or `[N, M, K]`).
    public static func write(
        to path: String, format: Format, force: Bool, dataset: String, shape: [Int],
        rows: (RowOutputFile) throws -> Void, csvLines: () throws -> CSVLines
    ) throws {
        try AtomicOutput.write(to: path, force: force) { temporary in
            let hdf5 = format == .h5 ? temporary : temporary + ".h5"
            defer { if format == .csv { unlink(hdf5) } }
            let file = try RowOutputFile(path: hdf5, dataset: dataset, shape: shape)
            try rows(file)
            try file.close()
            guard format == .csv else { return }
            try writeCSV(from: hdf5, dataset: dataset, to: temporary, lines: csvLines())
        }
    }

    private init(path: String, dataset: String, shape: [Int]) throws {
        file = try H5File(path: path, mode: .truncate)
        // Not compressed: rows arrive out of order, so a chunk is rewritten as each of its rows
        // comes. Chunks of about 16 KiB keep that cheap; each carries a Fletcher32 checksum.
        let rowValues = max(1, shape.dropFirst().reduce(1, *))
        self.dataset = try file.createDataset(dataset, of: Float.self, shape: shape,
                                              chunks: [min(shape[0], max(1, 4096 / rowValues))] + shape.dropFirst())
    }

    /// Writes row `row`: the `M * K` (or `K`) values of one record, row-major.
    public func write(_ values: UnsafeBufferPointer<Float>, row: Int) throws {
        try dataset!.write(values, rowsFrom: row)
    }

    /// Closes the file, throwing what its last writes met.
    private func close() throws {
        dataset = nil
        try file.close()
    }

    /// The rows of the HDF5 file's `dataset` as CSV lines in row order.
    private static func writeCSV(from hdf5: String, dataset name: String, to path: String, lines: CSVLines) throws {
        let dataset = try H5File(path: hdf5, mode: .readOnly).dataset(name)
        let shape = try dataset.shape
        let rows = shape[0], K = shape.last!, rowValues = shape.dropFirst().reduce(1, *)
        guard let out = fopen(path, "w") else { throw AtomicOutput.systemError("\(path): cannot write") }

        let values = (0 ..< K).map { "p\($0)" }.joined(separator: ",")
        switch lines {
        case .perRow: fputs("row," + values + "\n", out)
        case .perIndex(let column, _, _): fputs("row,\(column)," + values + "\n", out)
        }
        let blockRows = max(1, (1 << 20) / max(1, rowValues))
        for start in stride(from: 0, to: rows, by: blockRows) {
            let block = start ..< min(start + blockRows, rows)
            let values: [Float]
            do { values = try dataset.read(rows: block) } catch { fclose(out); throw error }
            for row in block {
                let base = (row - start) * rowValues
                func line(_ prefix: String, _ offset: Int) {
                    fputs(prefix + (0 ..< K).map { "\(values[offset + $0])" }.joined(separator: ",") + "\n", out)
                }
                switch lines {
                case .perRow: line("\(row),", base)
                case .perIndex(_, let first, let indices):
                    for i in indices(row) { line("\(row),\(i + first),", base + i * K) }
                }
            }
        }
        let failed = ferror(out) != 0
        guard fclose(out) == 0, !failed else { throw AtomicOutput.systemError("\(path): write failed") }
    }
}
