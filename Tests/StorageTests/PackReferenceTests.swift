import Foundation
import Pack
import Storage
import TestSupport
import XCTest

/// `pack` against an independent model of it (scripts/pack_model.py, written from SPEC.md section 2
/// and Keras' pad_sequences) on random inputs of every format and option: scripts/pack_fuzz.py
/// writes the inputs and a manifest, this test packs every case in-process, and the script
/// compares each file with the model. One Python start for each side keeps 2,000 cases within
/// seconds; scripts/pack-fuzz.sh runs any seed and count through this same test.
final class PackReferenceTests: XCTestCase {
    /// One case of the manifest: an input file and the options it is packed with (pack_fuzz.py's names).
    private struct Case: Decodable {
        struct Options: Decodable {
            var format: String?
            var id: String?
            var features: [String]?
            var label: String?
            var target: [String]?
            var horizon: Int?
            var length: Int?
            var maxlen: Int?
            var padding: String?
            var truncating: String?
            var value: Float?
            var normalize: Bool?
            var inputs: String?
            var target_kind: String?
            var task: String?
            var num_classes: Int?
        }
        let name: String
        let input: String
        let options: Options
    }

    private struct Manifest: Decodable { let cases: [Case] }

    func testPackAgreesWithTheReferenceOnRandomInputs() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let python = environment["LSTM_DIST_PYTHON"], !python.isEmpty else {
            throw XCTSkip("LSTM_DIST_PYTHON is not set: the reference needs a Python with numpy and h5py")
        }
        let seed = Int(environment["PACK_FUZZ_SEED"] ?? "") ?? 20251207
        let count = Int(environment["PACK_FUZZ_COUNT"] ?? "") ?? 2000
        let folder = try TemporaryFolder()
        // PACK_FUZZ_DIR keeps the inputs and outputs there, to look at a difference.
        let path = environment["PACK_FUZZ_DIR"].flatMap { $0.isEmpty ? nil : $0 }.map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 } ?? folder.path
        let script = repositoryRoot + "/scripts/pack_fuzz.py"
        let generated = try RunningCommand([python, script, "generate", path, "--seed", "\(seed)", "--count", "\(count)"]).wait(timeout: 1800)
        XCTAssertEqual(generated.status, 0, "\(generated)")
        guard generated.status == 0 else { return }

        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: path + "/manifest.json")))
        let started = Date()
        for testCase in manifest.cases {
            let output = path + "/" + testCase.name + ".h5"
            do {
                let options = try packOptions(testCase.options, output: output)
                try Packer.pack(path + "/" + testCase.input, options: options) { _ in }
            } catch {
                try "\(error)\n".write(toFile: path + "/" + testCase.name + ".err", atomically: false, encoding: .utf8)
            }
        }
        let packing = Date().timeIntervalSince(started)

        let checked = try RunningCommand([python, script, "check", path]).wait(timeout: 3600)
        print("packed \(manifest.cases.count) cases in \(String(format: "%.1f", packing)) s; \(checked.stdout)", terminator: "")
        XCTAssertEqual(checked.status, 0, "pack differs from scripts/pack_model.py (seed \(seed), count \(count)):\n\(checked.stdout)\(checked.stderr)")
    }

    /// The manifest's options as PackOptions; an unknown enum value is a bug of the generator.
    private func packOptions(_ given: Case.Options, output: String) throws -> PackOptions {
        func parse<T: RawRepresentable>(_ raw: String?, _: T.Type) throws -> T? where T.RawValue == String {
            guard let raw else { return nil }
            guard let value = T(rawValue: raw) else { throw PackError("manifest: unknown value \(raw)") }
            return value
        }
        var options = PackOptions(output: output)
        options.force = true
        options.format = try parse(given.format, PackOptions.Format.self)
        options.id = given.id
        options.features = given.features
        options.label = given.label
        options.target = given.target
        options.horizon = given.horizon ?? 0
        options.length = given.length
        options.maxlen = given.maxlen
        options.padding = try parse(given.padding, Padding.self)
        options.truncating = try parse(given.truncating, Padding.self)
        options.value = given.value ?? 0
        options.normalize = given.normalize ?? false
        options.inputs = try parse(given.inputs, InputKind.self)
        options.targetKind = try parse(given.target_kind, TargetKind.self)
        options.task = try parse(given.task, Task.self)
        options.numClasses = given.num_classes
        return options
    }
}
