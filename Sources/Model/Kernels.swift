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

/// What every product of one model shares: the kernel path, the products' precision, and for bf16 on
/// libxsmm the scratch its operands are converted into (the products run one at a time, so one suffices).
public struct ProductKernels {
    public let path: KernelPath
    public let precision: Precision
    let scratch: BF16Scratch?

    public init(path: KernelPath = .active, precision: Precision = .fp32) {
        self.path = path
        self.precision = precision
        scratch = precision == .bf16 && path != .reference ? BF16Scratch() : nil
    }
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
///
/// In bf16 (`Precision.bf16`) both operands are rounded to bf16 and the products summed in fp32. On libxsmm,
/// whose bf16 kernels take their A in pairs along k (VNNI) and never transposed, each call converts the
/// operands into that form (BF16Operands): libxsmm's A is our B, paired, and its B our op(A)^T, plain, with
/// k padded to even by zeros; for one column the roles swap as above. An operand that stays the same over
/// many calls (a layer's weights over a window) is converted once by `hold`.
public struct MatrixProduct {
    public let m: Int, n: Int, k: Int
    public let aStride: Int, bStride: Int, cStride: Int
    public let transposedA: Bool, accumulate: Bool
    public let precision: Precision
    /// The libxsmm calls in order, or nil on the reference path.
    private let tiles: [Tile]?
    /// Whether the tiles run as one column of C (above): libxsmm's A is then our A, not our B.
    private let oneColumn: Bool
    /// The converted operands of a bf16 product on libxsmm.
    private let bf16: BF16Operands?

    /// One kernel call: the kernel and its operands' offsets from A, B and C (for bf16: from the converted
    /// operands libxsmm reads as its A and B).
    private struct Tile {
        let kernel: UnsafeRawPointer
        let a: Int, b: Int, c: Int
    }

    static let tileRows = 256, tileColumns = 64, depthChunk = 256

    public init(m: Int, n: Int, k: Int, aStride: Int, transposedA: Bool = false, bStride: Int, cStride: Int,
                accumulate: Bool = false, path: KernelPath = .active) {
        self.init(m: m, n: n, k: k, aStride: aStride, transposedA: transposedA, bStride: bStride, cStride: cStride,
                  accumulate: accumulate, kernels: ProductKernels(path: path))
    }

    /// `holdsA`: the caller converts A once with `hold` before the calls that read it (bf16; a no-op in fp32).
    public init(m: Int, n: Int, k: Int, aStride: Int, transposedA: Bool = false, bStride: Int, cStride: Int,
                accumulate: Bool = false, kernels: ProductKernels, holdsA: Bool = false) {
        precondition(m > 0 && n > 0 && k >= 0, "a product needs rows and columns")
        precondition(aStride >= (transposedA ? m : k) && bStride >= n && cStride >= n, "a row stride is shorter than its row")
        precondition(kernels.path == .reference || kernels.path == .active, "libxsmm's instruction set is chosen once per process")
        self.m = m
        self.n = n
        self.k = k
        self.aStride = aStride
        self.bStride = bStride
        self.cStride = cStride
        self.transposedA = transposedA
        self.accumulate = accumulate
        precision = kernels.precision
        let oneColumn = n == 1 && transposedA && cStride == 1
        self.oneColumn = oneColumn
        if kernels.path == .reference || k == 0 {
            tiles = nil
        } else if kernels.scratch != nil {
            tiles = MatrixProduct.planBF16(m: m, n: n, k: k, cStride: cStride, accumulate: accumulate, oneColumn: oneColumn)
        } else {
            tiles = MatrixProduct.plan(m: m, n: n, k: k, aStride: aStride, transposedA: transposedA, bStride: bStride,
                                       cStride: cStride, accumulate: accumulate, oneColumn: oneColumn)
        }
        bf16 = tiles == nil ? nil : kernels.scratch.map {
            BF16Operands(m: m, n: n, k: k, oneColumn: oneColumn, holdsA: holdsA, scratch: $0)
        }
    }

    /// C's tiles and each one's chunks of the depth `k`, in their fixed order, made by `tile(row, rows, column,
    /// columns, depth, chunk, beta)`; nil when one has no kernel (then the whole product runs the reference loops).
    private static func tiles(m: Int, n: Int, k: Int, accumulate: Bool,
                              _ tile: (Int, Int, Int, Int, Int, Int, Float) -> Tile?) -> [Tile]? {
        var tiles: [Tile] = []
        for row in stride(from: 0, to: m, by: tileRows) {
            for column in stride(from: 0, to: n, by: tileColumns) {
                for depth in stride(from: 0, to: k, by: depthChunk) {
                    let beta: Float = accumulate || depth > 0 ? 1 : 0
                    guard let next = tile(row, min(tileRows, m - row), column, min(tileColumns, n - column), depth,
                                          min(depthChunk, k - depth), beta) else { return nil }
                    tiles.append(next)
                }
            }
        }
        return tiles
    }

    private static func plan(m: Int, n: Int, k: Int, aStride: Int, transposedA: Bool, bStride: Int, cStride: Int,
                             accumulate: Bool, oneColumn: Bool) -> [Tile]? {
        tiles(m: m, n: n, k: k, accumulate: accumulate) { row, rows, column, columns, depth, chunk, beta in
            // Column-major: C^T [columns, rows] += B^T [columns, chunk] op(A)^T [chunk, rows], or for one
            // column C [rows, 1] += A [rows, chunk] (B^T [1, chunk])^T.
            let kernel = oneColumn
                ? lstm_xsmm_dispatch(Int32(rows), 1, Int32(chunk), Int32(aStride), Int32(bStride), Int32(rows), beta, 1)
                : lstm_xsmm_dispatch(Int32(columns), Int32(rows), Int32(chunk), Int32(bStride), Int32(aStride),
                                     Int32(cStride), beta, transposedA ? 1 : 0)
            return kernel.map {
                Tile(kernel: $0, a: transposedA ? depth * aStride + row : row * aStride + depth,
                     b: depth * bStride + column, c: row * cStride + column)
            }
        }
    }

    /// The same tiles through libxsmm's bf16 kernels, over the converted operands (BF16Operands): the paired
    /// one [k/2][width][2] (width n, or m for one column) and the plain one [width, k rounded up to even].
    private static func planBF16(m: Int, n: Int, k: Int, cStride: Int, accumulate: Bool, oneColumn: Bool) -> [Tile]? {
        let depth2 = (k + 1) / 2 * 2
        return tiles(m: m, n: n, k: depth2, accumulate: accumulate) { row, rows, column, columns, depth, chunk, beta in
            // As `plan`: C^T [columns, rows] += paired B^T [columns, chunk] plain op(A)^T [chunk, rows], or
            // C [rows, 1] += paired A [rows, chunk] plain B [chunk, 1].
            let kernel = oneColumn
                ? lstm_xsmm_bf16_dispatch(Int32(rows), 1, Int32(chunk), Int32(m), Int32(depth2), Int32(rows), beta)
                : lstm_xsmm_bf16_dispatch(Int32(columns), Int32(rows), Int32(chunk), Int32(n), Int32(depth2),
                                          Int32(cStride), beta)
            return kernel.map {
                oneColumn ? Tile(kernel: $0, a: depth * m + 2 * row, b: depth, c: row)
                    : Tile(kernel: $0, a: depth * n + 2 * column, b: row * depth2 + depth, c: row * cStride + column)
            }
        }
    }

    /// Converts A, which the calls that follow read until the next `hold`, once (bf16 on libxsmm; planned with
    /// `holdsA`). Elsewhere nothing to do: the calls read A itself.
    @inline(__always)
    public func hold(_ a: UnsafePointer<Float>) {
        bf16?.hold(a, self)
    }

    /// Runs the product on A, B and C at these addresses.
    @inline(__always)
    public func callAsFunction(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>) {
        guard let tiles else {
            return precision == .bf16 ? referenceBF16Product(a, b, into: c) : referenceProduct(a, b, into: c)
        }
        if let bf16 {
            let (paired, plain) = bf16.convert(a, b, self)
            for tile in tiles { lstm_xsmm_bf16_call(tile.kernel, paired + tile.a, plain + tile.b, c + tile.c) }
        } else if oneColumn {
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

    /// The bf16 reference: `referenceProduct` on operands rounded to bf16 as they are read. A product of two
    /// bf16 values is exact in fp32, so only the order of the sums differs from the CPU's bf16 dot products.
    private func referenceBF16Product(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                      into c: UnsafeMutablePointer<Float>) {
        for i in 0 ..< m {
            let row = c + i * cStride
            if !accumulate { row.update(repeating: 0, count: n) }
            for p in 0 ..< k {
                let factor = bf16Rounded(transposedA ? a[p * aStride + i] : a[i * aStride + p]), bRow = b + p * bStride
                for j in 0 ..< n { row[j] = row[j].addingProduct(factor, bf16Rounded(bRow[j])) }
            }
        }
    }
}

/// x rounded to the nearest bf16 (ties to even), as an fp32.
@inline(__always)
func bf16Rounded(_ x: Float) -> Float {
    Float(bitPattern: UInt32(lstm_bf16_round(x)) << 16)
}

/// The scratch a model's bf16 products convert their operands into before each call: one buffer for the
/// paired operand and one for the plain, sized at plan time for the largest product (`reserve`), read at
/// call time (so a later, larger reservation is seen).
final class BF16Scratch {
    private(set) var paired = UnsafeMutablePointer<UInt16>.allocate(capacity: 0)
    private(set) var plain = UnsafeMutablePointer<UInt16>.allocate(capacity: 0)
    private var pairedCapacity = 0, plainCapacity = 0

    func reserve(paired pairedCount: Int, plain plainCount: Int) {
        if pairedCount > pairedCapacity {
            paired.deallocate()
            paired = .allocate(capacity: pairedCount)
            pairedCapacity = pairedCount
        }
        if plainCount > plainCapacity {
            plain.deallocate()
            plain = .allocate(capacity: plainCount)
            plainCapacity = plainCount
        }
    }

    deinit {
        paired.deallocate()
        plain.deallocate()
    }
}

/// One bf16 product's operands in libxsmm's forms. Without one column: libxsmm's A is our B [k, n] paired
/// along k, its B our op(A) [m, k] plain (rows k rounded up to even apart). With one column: its A is our A
/// (stored [k, m]) paired along k, its B our B's column, plain. A held operand (`hold`) has its own buffer,
/// kept from call to call; the rest go to the model's shared scratch on every call.
final class BF16Operands {
    private let depth2: Int, oneColumn: Bool
    private let scratch: BF16Scratch
    /// A converted by `hold`, and the address it was converted from.
    private let held: UnsafeMutablePointer<UInt16>?
    private var heldSource: UnsafePointer<Float>?

    init(m: Int, n: Int, k: Int, oneColumn: Bool, holdsA: Bool, scratch: BF16Scratch) {
        depth2 = (k + 1) / 2 * 2
        self.oneColumn = oneColumn
        self.scratch = scratch
        let aSize = depth2 * m, bSize = depth2 * n
        scratch.reserve(paired: oneColumn ? (holdsA ? 0 : aSize) : bSize, plain: oneColumn ? bSize : (holdsA ? 0 : aSize))
        held = holdsA ? .allocate(capacity: aSize) : nil
    }

    deinit { held?.deallocate() }

    func hold(_ a: UnsafePointer<Float>, _ product: MatrixProduct) {
        guard let held else { preconditionFailure("this product was not planned to hold A") }
        convertA(a, product, into: held)
        heldSource = a
    }

    /// The converted operands of one call: (libxsmm's A, libxsmm's B).
    @inline(__always)
    func convert(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ product: MatrixProduct)
        -> (paired: UnsafePointer<UInt16>, plain: UnsafePointer<UInt16>) {
        let convertedA: UnsafeMutablePointer<UInt16>
        if let held, heldSource == a {
            convertedA = held
        } else {
            precondition(held == nil, "a held operand is read from the address it was held from")
            convertedA = oneColumn ? scratch.paired : scratch.plain
            convertA(a, product, into: convertedA)
        }
        let convertedB = oneColumn ? scratch.plain : scratch.paired
        if oneColumn {
            lstm_bf16_columns(b, product.k, 1, product.bStride, convertedB, depth2)
        } else {
            lstm_bf16_pairs(b, product.k, product.n, product.bStride, convertedB)
        }
        return oneColumn ? (UnsafePointer(convertedA), UnsafePointer(convertedB))
                         : (UnsafePointer(convertedB), UnsafePointer(convertedA))
    }

    private func convertA(_ a: UnsafePointer<Float>, _ p: MatrixProduct, into target: UnsafeMutablePointer<UInt16>) {
        if oneColumn {
            lstm_bf16_pairs(a, p.k, p.m, p.aStride, target)  // stored [k, m]: pairs of its rows
        } else if p.transposedA {
            lstm_bf16_columns(a, p.k, p.m, p.aStride, target, depth2)
        } else {
            lstm_bf16_rows(a, p.m, p.k, p.aStride, target, depth2)
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
