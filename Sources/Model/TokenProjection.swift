// The first layer's input projection for token input, through a table: a token's embedding times
// the layer's kernel depends on the token alone, so P = Emb W [V, 4H] is computed once per window
// and each column of a step's pre-activations is a lookup, P^T[:, token]. The product W^T X^T
// costs 2 E 4H per column; the table costs 2 E 4H per vocabulary entry. Backward, the gate gradients
// summed by token, dP [V, 4H], give dW = Emb^T dP and dEmb = dP W^T with V rows where the plain
// path has T*B: for charlm (V 96, E 64, H 256, 2048 columns) about a fifth of a step's products.
// The result is the same sums as the plain path's, grouped differently, so it agrees to rounding.
//
// Only where nothing sits between the embedding and the kernel: a run that drops the first
// layer's inputs (dropout) takes the plain path.

/// The table, its gradient and their products for one model shape; owns its buffers.
public final class TokenProjection {
    let vocabulary: Int, width: Int, gates: Int, slots: Int, columns: Int
    /// Whether a window of slots x window columns is cheaper through a table of `vocabulary` rows:
    /// the table's products then do less work than the window's, and a lookup costs about what
    /// one input's multiply-add does.
    public static func pays(vocabulary: Int, slots: Int, window: Int) -> Bool {
        let (columns, overflow) = slots.multipliedReportingOverflow(by: window)
        return overflow || columns > vocabulary
    }

    /// P^T = W^T Emb^T [4H, V] from the kernel [E, 4H] and the embeddings transposed [E, V].
    private let tableProduct: MatrixProduct
    /// dW = Emb^T dP [E, 4H] from the embeddings [V, E] and dP [V, 4H].
    private let kernelGradientProduct: MatrixProduct
    /// dEmb = dP W^T [V, E] from dP [V, 4H] and the kernel transposed [4H, E].
    private let embeddingGradientProduct: MatrixProduct
    /// [4H, V + 1]: P^T, and a zero column V that masked columns look up (padding reaches nothing).
    private let tableTransposed: UnsafeMutableBufferPointer<Float>
    /// [E, V] the embeddings transposed, then [4H, E] the kernel transposed (never both at once).
    private let transposedScratch: UnsafeMutableBufferPointer<Float>
    /// [V, 4H] dP.
    private let tableGradient: UnsafeMutableBufferPointer<Float>
    /// [T*B] each column's row of the table: its token, or V where the column is masked.
    private let lookup: UnsafeMutableBufferPointer<Int32>

    init(vocabulary: Int, width: Int, gates: Int, slots: Int, window: Int, kernels: ProductKernels) {
        self.vocabulary = vocabulary
        self.width = width
        self.gates = gates
        self.slots = slots
        columns = slots * window
        let V = vocabulary, E = width, G = gates
        tableProduct = MatrixProduct(m: G, n: V, k: E, aStride: G, transposedA: true, bStride: V, cStride: V + 1,
                                     kernels: kernels)
        kernelGradientProduct = MatrixProduct(m: E, n: G, k: V, aStride: E, transposedA: true, bStride: G, cStride: G,
                                              kernels: kernels)
        embeddingGradientProduct = MatrixProduct(m: V, n: E, k: G, aStride: G, bStride: E, cStride: E, kernels: kernels)
        tableTransposed = .zeroed(G * (V + 1))
        transposedScratch = .zeroed(max(V, G) * E)
        tableGradient = .zeroed(V * G)
        lookup = .zeroed(columns)
    }

    deinit {
        tableTransposed.deallocate()
        transposedScratch.deallocate()
        tableGradient.deallocate()
        lookup.deallocate()
    }

    /// Builds the window's table and each column's row of it: the input projection of the column's
    /// token, zero where masked. Tokens must lie in 0 ..< V (the dataset reader checks them).
    func forward(tokens: UnsafePointer<Int32>, mask: UnsafePointer<Float>, embeddings: UnsafePointer<Float>,
                 kernel: UnsafePointer<Float>) {
        let V = vocabulary, table = tableTransposed.baseAddress!
        transpose(embeddings, rows: V, columns: width, into: transposedScratch.baseAddress!)
        tableProduct(kernel, transposedScratch.baseAddress!, into: table)
        for r in 0 ..< columns {
            precondition((0 ..< V).contains(Int(tokens[r])), "token \(tokens[r]) at row \(r) is outside 0..<\(V)")
            lookup[r] = mask[r] != 0 ? tokens[r] : Int32(V)
        }
    }

    /// preactivations [4H, B] (rows B apart) = the input projections of timestep t's columns, from the
    /// table `forward` built.
    func project(step t: Int, into preactivations: UnsafeMutablePointer<Float>) {
        let V = vocabulary, B = slots, table = UnsafePointer(tableTransposed.baseAddress!)
        let rows = lookup.baseAddress! + t * B
        for g in 0 ..< gates {
            let tableRow = table + g * (V + 1), row = preactivations + g * B
            for b in 0 ..< B { row[b] = tableRow[Int(rows[b])] }
        }
    }

    /// From the gate gradients transposed, dZ^T [T*B, 4H] (rows `stride` apart), of the window
    /// `forward` last ran: kernelGradient [E, 4H] and embeddingGradient [V, E], both overwritten.
    func backward(gateGradientTransposed: UnsafePointer<Float>, stride: Int, embeddings: UnsafePointer<Float>,
                  kernel: UnsafePointer<Float>, kernelGradient: UnsafeMutablePointer<Float>,
                  embeddingGradient: UnsafeMutablePointer<Float>) {
        let G = gates, dP = tableGradient.baseAddress!
        // dP[v] = the sum of dZ^T's rows whose token is v, in column order (deterministic).
        tableGradient.update(repeating: 0)
        for r in 0 ..< columns where Int(lookup[r]) < vocabulary {
            let source = gateGradientTransposed + r * stride, target = dP + Int(lookup[r]) * G
            var g = 0
            while g < G {
                let lanes = min(vectorWidth, G - g)
                storeVector(loadVector(target + g, lanes) + loadVector(source + g, lanes), target + g, lanes)
                g += vectorWidth
            }
        }
        kernelGradientProduct(embeddings, dP, into: kernelGradient)
        transpose(kernel, rows: width, columns: G, into: transposedScratch.baseAddress!)
        embeddingGradientProduct(dP, transposedScratch.baseAddress!, into: embeddingGradient)
    }
}
