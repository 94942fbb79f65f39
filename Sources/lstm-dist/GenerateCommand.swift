import ArgumentParser
import Foundation
import Inference
import Storage
import Training

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write text from a character model, from zero state or where a slot's stream left off.",
        discussion: """
        One process, no mpirun. The state starts at zero, or at global slot J's saved state with \
        --from-slot J (the text then continues that slot's stream where training left it). The \
        prime is fed through, then each character is drawn from softmax(logits / T), written and \
        fed back. Output: the prime followed by --length generated characters; the same seed \
        gives the same text.
        """
    )

    @Argument(help: "A checkpoint of a character model (trained on `pack --format text` data).") var checkpoint: String
    @Option(help: "Text to feed before generating.") var prime: String?
    @Option(help: "A UTF-8 file whose text to feed before generating.") var primeFile: String?
    @Option(parsing: .unconditional, help: "Characters to generate.") var length = 500
    @Option(parsing: .unconditional, help: "Softmax temperature; 0 takes the likeliest character.") var temperature = 1.0
    @Option(parsing: .unconditional, help: "Draw only among the K likeliest characters.") var topK: Int?
    @Option(parsing: .unconditional, help: "Seed of the draws.") var seed: UInt64 = 0
    @Option(parsing: .unconditional, help: "Start from this global slot's saved state (0 to S-1).") var fromSlot: Int?
    @Option(help: "The file to write (default: stdout, followed by a newline).") var out: String?
    @Flag(help: "Replace an existing output file.") var force = false
    @OptionGroup var precision: PrecisionOption

    func run() throws {
        try precision.resolved.check()
        if prime != nil && primeFile != nil { throw InferenceError("give --prime or --prime-file, not both") }
        guard length >= 0 else { throw InferenceError("--length must be 0 or more, not \(length)") }
        guard temperature.isFinite, temperature >= 0 else { throw InferenceError("--temperature must be 0 or more, not \(temperature)") }
        if let topK, topK < 1 { throw InferenceError("--top-k must be 1 or more, not \(topK)") }
        if let out { try AtomicOutput.checkDestination(out, force: force) }

        let generator = try TextGenerator(SavedNetwork(path: checkpoint), fromSlot: fromSlot, precision: precision.resolved)
        let primeText = try primeFile.map(readText) ?? prime ?? ""
        let primeTokens = try generator.tokens(of: primeText, source: primeFile ?? "--prime")
        let started = Date()
        var text = primeText, last = primeText.unicodeScalars.last
        /// Writes the text in pieces of about 4 KB (and each line to a terminal) as it is drawn.
        func generate(flush: (String) throws -> Void) throws {
            try generator.generate(prime: primeTokens, length: length, temperature: temperature, topK: topK, seed: seed) { character in
                text.append(character)
                last = character.unicodeScalars.last
                if text.utf8.count >= 1 << 12 || (out == nil && character == "\n") { try flush(text); text = "" }
            }
            try flush(text)
        }
        guard let out else {
            try generate { FileHandle.standardOutput.write(Data($0.utf8)) }
            if last != "\n" { FileHandle.standardOutput.write(Data("\n".utf8)) }
            return
        }
        try AtomicOutput.write(to: out, force: force) { temporary in
            guard FileManager.default.createFile(atPath: temporary, contents: nil) else { throw InferenceError("\(out): cannot create \(temporary)") }
            let file = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
            defer { try? file.close() }
            try generate { try file.write(contentsOf: Data($0.utf8)) }
        }
        let seconds = Date().timeIntervalSince(started)
        print("wrote \(out): \(primeTokens.count) characters of prime and \(length) generated in \(String(format: "%.2f", seconds)) s (\(Int(Double(length + primeTokens.count) / max(seconds, 1e-9))) characters/s)")
    }

    private func readText(_ path: String) throws -> String {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw InferenceError("\(path): cannot read: \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
        }
        guard let text = String(validating: data, as: UTF8.self) else { throw InferenceError("\(path): not UTF-8 text") }
        return text
    }
}
