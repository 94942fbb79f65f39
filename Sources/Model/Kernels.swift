import CCPUFeatures
import CElementwise
import CXSMM
import Foundation

// Every matrix product of the model, forward and backward, goes through `MatrixProduct`: planned
// once per shape when the model is built, run every timestep. The kernels are libxsmm's JIT code,
// generated for the instruction sets CPUID reports (never a table of CPU models, which is how a
// BLAS ends up running SSE3 kernels on a CPU newer than itself), or plain Swift loops.

/// Which code runs the model's matrix products and gate passes. One choice per process: libxsmm
/// generates each kernel for one instruction set and caches it by shape, so the set is fixed before
/// the first kernel is made.
public enum KernelPath: String, CaseIterable, Sendable {
    /// libxsmm kernels using AVX-512 (libxsmm picks the variant, e.g. Cooper Lake's, from CPUID), and
    /// the AVX-512 build of the gate passes.
    case avx512
    /// libxsmm kernels using AVX2 and FMA (`libxsmm_set_target_arch("hsw")`), and the gate passes'
    /// AVX2 build: the floor.
    case avx2
    /// Plain Swift loops for the products: slow, independent of libxsmm; the yardstick in tests. The
    /// gate passes run their AVX2 build.
    case reference

    /// The environment variable that forces a path.
    public static let environmentVariable = "LSTM_DIST_KERNELS"

    /// The fastest path this CPU runs.
    public static var best: KernelPath { lstm_cpu_has_avx512() != 0 ? .avx512 : .avx2 }

    /// The path `LSTM_DIST_KERNELS` names, or `best` when it is unset or empty.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> KernelPath {
        guard let value = environment[environmentVariable], !value.isEmpty else { return best }
        guard let path = KernelPath(rawValue: value) else {
            throw KernelPathError("\(environmentVariable)=\(value) is not a kernel path; use one of "
                                  + allCases.map(\.rawValue).joined(separator: ", ") + ", or leave it unset")
        }
        if path == .avx512 && best != .avx512 {
            throw KernelPathError("\(environmentVariable)=avx512, but this CPU has no AVX-512; use avx2 or leave it unset")
        }
        return path
    }

    /// This process's path: `fromEnvironment()`, or `best` when that throws (the command line reports
    /// a bad value before any model is built). Fixed at first use, which sets libxsmm's target.
    public static let active: KernelPath = {
        let path = (try? fromEnvironment()) ?? best
        if path != .reference {
            libxsmm_init()
            if path == .avx2 { libxsmm_set_target_arch("hsw") }
        }
        return path
    }()

    /// The instruction set of the gate passes and softmax (CElementwise): AVX-512 on that path, AVX2 + FMA on
    /// the others.
    static let elementwiseISA = active == .avx512 ? LSTM_ISA_AVX512 : LSTM_ISA_AVX2

    /// libxsmm's name for the instruction set it generates code for ("hsw", "skx", "cpx", ...).
    public static var libxsmmTarget: String {
        _ = active
        return String(cString: libxsmm_get_target_arch())
    }
}

public struct KernelPathError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// C[m,n] = op(A)[m,k] B[k,n] (+ C when `accumulate`): every matrix row-major with a fixed row stride
/// (BLAS' leading dimension); op(A) = A, or with `transposedA` the transpose of A stored [k,m].
///
/// On libxsmm the product runs as tiles of at most 256 rows x 64 columns of C, each summing k in chunks
/// of at most 256 (so a tile's operands stay in cache; these sizes ran the model's window products at
/// 85 to 110 GFLOP/s on one Zen 4 core, where one kernel for the whole product fell to 20 to 60): libxsmm's column-major kernel C^T += B^T op(A)^T per tile
/// and chunk, dispatched here once. The tiles and their order are fixed by the shape, so a product gives
/// the same bits every time. Where libxsmm has no kernel for a tile, the whole product runs the
/// reference loops.
///
/// One exception: libxsmm vectorises along the rows of its C, which here are C's columns, so a product of
/// one column (generate's and forecast's single slot) ran scalar code, at 5 to 7 GFLOP/s. With `transposedA`,
/// a contiguous column of C is a column-major C [m, 1] = A [m, k] op(B) [k, 1] in libxsmm's own terms: A as
/// stored, and B's column, whose values lie `bStride` apart, as the transpose of a [1, k] matrix. Tiled the
/// same way, those kernels vectorise along m.
public struct MatrixProduct {
    public let m: Int, n: Int, k: Int
    public let aStride: Int, bStride: Int, cStride: Int
    public let transposedA: Bool, accumulate: Bool
    /// The libxsmm calls in order, or nil on the reference path.
    private let tiles: [Tile]?
    /// Whether the tiles run as one column of C (above): libxsmm's A is then our A, not our B.
    private let oneColumn: Bool

    /// One kernel call: the kernel and its operands' offsets from A, B and C.
    private struct Tile {
        let kernel: UnsafeRawPointer
        let a: Int, b: Int, c: Int
    }

    static let tileRows = 256, tileColumns = 64, depthChunk = 256

    public init(m: Int, n: Int, k: Int, aStride: Int, transposedA: Bool = false, bStride: Int, cStride: Int,
                accumulate: Bool = false, path: KernelPath = .active) {
        precondition(m > 0 && n > 0 && k >= 0, "a product needs rows and columns")
        precondition(aStride >= (transposedA ? m : k) && bStride >= n && cStride >= n, "a row stride is shorter than its row")
        precondition(path == .reference || path == .active, "libxsmm's instruction set is chosen once per process")
        self.m = m
        self.n = n
        self.k = k
        self.aStride = aStride
        self.bStride = bStride
        self.cStride = cStride
        self.transposedA = transposedA
        self.accumulate = accumulate
        oneColumn = n == 1 && transposedA && cStride == 1
        tiles = path == .reference || k == 0 ? nil
            : MatrixProduct.plan(m: m, n: n, k: k, aStride: aStride, transposedA: transposedA, bStride: bStride,
                                 cStride: cStride, accumulate: accumulate, oneColumn: oneColumn)
    }

    private static func plan(m: Int, n: Int, k: Int, aStride: Int, transposedA: Bool, bStride: Int, cStride: Int,
                             accumulate: Bool, oneColumn: Bool) -> [Tile]? {
        var tiles: [Tile] = []
        for row in stride(from: 0, to: m, by: tileRows) {
            let rows = min(tileRows, m - row)
            for column in stride(from: 0, to: n, by: tileColumns) {
                let columns = min(tileColumns, n - column)
                for depth in stride(from: 0, to: k, by: depthChunk) {
                    let chunk = min(depthChunk, k - depth)
                    let beta: Float = accumulate || depth > 0 ? 1 : 0
                    // Column-major: C^T [columns, rows] += B^T [columns, chunk] op(A)^T [chunk, rows], or for one
                    // column C [rows, 1] += A [rows, chunk] (B^T [1, chunk])^T.
                    let kernel = oneColumn
                        ? lstm_xsmm_dispatch(Int32(rows), 1, Int32(chunk), Int32(aStride), Int32(bStride), Int32(rows), beta, 1)
                        : lstm_xsmm_dispatch(Int32(columns), Int32(rows), Int32(chunk), Int32(bStride), Int32(aStride),
                                             Int32(cStride), beta, transposedA ? 1 : 0)
                    guard let kernel else { return nil }
                    tiles.append(Tile(kernel: kernel, a: transposedA ? depth * aStride + row : row * aStride + depth,
                                      b: depth * bStride + column, c: row * cStride + column))
                }
            }
        }
        return tiles
    }

    /// Runs the product on A, B and C at these addresses.
    @inline(__always)
    public func callAsFunction(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>) {
        guard let tiles else { return referenceProduct(a, b, into: c) }
        if oneColumn {
            for tile in tiles { lstm_xsmm_call(tile.kernel, a + tile.a, b + tile.b, c + tile.c) }
        } else {
            for tile in tiles { lstm_xsmm_call(tile.kernel, b + tile.b, a + tile.a, c + tile.c) }
        }
    }

    /// Row by row of C, k in order: each row of C gains A[i,p] times row p of B (a loop that vectorises).
    private func referenceProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>) {
        for i in 0 ..< m {
            let row = c + i * cStride
            if !accumulate { row.update(repeating: 0, count: n) }
            for p in 0 ..< k {
                let factor = transposedA ? a[p * aStride + i] : a[i * aStride + p], bRow = b + p * bStride
                for j in 0 ..< n { row[j] = row[j].addingProduct(factor, bRow[j]) }
            }
        }
    }
}

/// matrix [rows, columns] (row stride `sourceStride`) -> transposed [columns, rows] (row stride
/// `targetStride`): libxsmm's out-of-place transpose (exact on every path: it only moves floats).
func transpose(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, sourceStride: Int? = nil,
               into transposed: UnsafeMutablePointer<Float>, targetStride: Int? = nil) {
    libxsmm_otrans(transposed, matrix, UInt32(MemoryLayout<Float>.stride), libxsmm_blasint(columns),
                   libxsmm_blasint(rows), libxsmm_blasint(sourceStride ?? columns), libxsmm_blasint(targetStride ?? rows))
}

/// matrix [rows, columns], rows `columns` apart -> the same rows `targetStride` apart.
func copyRows(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, into target: UnsafeMutablePointer<Float>,
              targetStride: Int) {
    for row in 0 ..< rows { (target + row * targetStride).update(from: matrix + row * columns, count: columns) }
}
