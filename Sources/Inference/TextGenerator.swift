import Foundation
import Model
import Storage
import Training

/// Text from a character model, `generate` (docs/commands.md): one slot run one timestep at a
/// time from zero state or from a global slot's saved state. The prime is fed through, then
/// each character is drawn from the model's next-character distribution and fed back.
public final class TextGenerator {
    public let network: SavedNetwork
    /// Token id -> character.
    public let characters: [Character]
    private let model: LSTMModel
    private let batch: WindowBatch
    private let tokens: [Unicode.Scalar: Int32]
    /// Sampling scratch, [V]: candidate ids and their weights.
    private var candidates: [Int]
    private var weights: [Double]

    /// Refuses a checkpoint that is not a character model, and a slot it does not have.
    /// - Parameter slot: the global slot whose saved state to start from; nil for zero state.
    /// - Parameter precision: of the model's products, checked to run here (`Precision.check`).
    public init(_ network: SavedNetwork, fromSlot slot: Int?, precision: Precision = .fp32) throws {
        let path = network.path
        let problem: String? = switch true {
        case network.inputKind != .tokens: "it reads feature inputs"
        case network.targetKind != .step: "its targets are per row"
        case network.task != .multiclass: "its task is \(network.task.rawValue)"
        case network.vocab.isEmpty: "it has no /vocab (token ids without characters)"
        case network.numClasses != network.vocab.count: "its \(network.numClasses) classes are not its \(network.vocab.count) characters"
        default: nil
        }
        if let problem {
            throw InferenceError("\(path): generate needs a character model (token inputs whose per-timestep targets are the next character, with a /vocab, as `pack --format text` makes); \(problem)")
        }
        characters = try network.vocab.enumerated().map { id, value in
            guard let scalar = Unicode.Scalar(UInt32(bitPattern: value)) else {
                throw InferenceError("\(path): /vocab[\(id)] = \(value) is not a Unicode scalar value")
            }
            return Character(scalar)
        }
        if let slot, !(0 ..< network.globalSlots).contains(slot) {
            throw InferenceError("--from-slot \(slot): \(path) saved the state of global slots 0 to \(network.globalSlots - 1)")
        }
        self.network = network
        tokens = Dictionary(characters.enumerated().map { ($1.unicodeScalars.first!, Int32($0)) }) { first, _ in first }
        model = network.makeModel(slots: 1, window: 1, precision: precision)
        model.freezeKernels()
        batch = WindowBatch(config: model.config, slots: 1, window: 1)
        candidates = Array(0 ..< characters.count)
        weights = Array(repeating: 0, count: characters.count)
        if let slot { network.restoreState(slot: slot, into: model, local: 0) }
        // A masked timestep keeps the state and outputs the head applied to it: the first
        // character's distribution when there is no prime.
        batch.mask[0] = 0
        _ = model.run(batch, backward: false)
    }

    /// The distribution of the next character: after the last one fed, or from the starting state.
    public var probabilities: UnsafeBufferPointer<Float> { model.outputs }

    /// The token ids of `text`, or one error naming `source` and every character outside the vocabulary.
    public func tokens(of text: String, source: String) throws -> [Int32] {
        let unknown = Set(text.unicodeScalars.filter { tokens[$0] == nil })
        guard unknown.isEmpty else {
            let names = unknown.sorted().prefix(20).map { "'\($0.escaped(asASCII: false))' (\(String(format: "U+%04X", $0.value)))" }
            throw InferenceError("\(source): \(unknown.count) character\(unknown.count == 1 ? " is" : "s are") not in the vocabulary of \(network.path): \(names.joined(separator: ", "))\(unknown.count > 20 ? ", ..." : "")")
        }
        return text.unicodeScalars.map { tokens[$0]! }
    }

    /// Advances the state by one character; `probabilities` then give the next one's.
    public func feed(_ token: Int32) {
        batch.mask[0] = 1
        batch.tokens[0] = token
        _ = model.run(batch, backward: false)
    }

    /// Draws from softmax(logits / temperature), restricted to the `topK` likeliest when given;
    /// temperature 0 takes the likeliest (the lowest id among equals).
    public func sample(temperature: Double, topK: Int?, random: inout SplitMix64) -> Int32 {
        let p = probabilities
        guard temperature > 0 else { return Int32(p.indices.max { p[$0] < p[$1] || (p[$0] == p[$1] && $0 > $1) }!) }
        var count = p.count
        if let topK, topK < p.count {
            candidates.sort { p[$0] > p[$1] || (p[$0] == p[$1] && $0 < $1) }
            count = topK
        }
        // softmax(logits / T) is proportional to p^(1/T); computed relative to the largest p.
        var largest: Float = 0
        for i in candidates[..<count] { largest = max(largest, p[i]) }
        let logLargest = log(Double(largest))
        var total = 0.0
        for (n, i) in candidates[..<count].enumerated() {
            weights[n] = p[i] > 0 ? exp((log(Double(p[i])) - logLargest) / temperature) : 0
            total += weights[n]
        }
        guard total > 0, total.isFinite else { return Int32(candidates[0]) }
        var threshold = random.unit() * total, chosen = candidates[0]
        for n in 0 ..< count where weights[n] > 0 {
            chosen = candidates[n]
            threshold -= weights[n]
            if threshold < 0 { break }
        }
        return Int32(chosen)
    }

    /// Feeds `prime`, then draws and feeds `length` characters, passing each to `emit`.
    public func generate(prime: [Int32], length: Int, temperature: Double, topK: Int?, seed: UInt64,
                         emit: (Character) throws -> Void) rethrows {
        for token in prime { feed(token) }
        var random = SplitMix64(seed: seed)
        for _ in 0 ..< length {
            let token = sample(temperature: temperature, topK: topK, random: &random)
            try emit(characters[Int(token)])
            feed(token)
        }
    }
}

public struct InferenceError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
