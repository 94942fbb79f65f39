// swift-tools-version:6.0
import PackageDescription

// The model's gate loops are SIMD code; without a target CPU Swift emits SSE2 and never fuses
// multiply-adds (docs/platform.md). Haswell (AVX2 + FMA) runs on every x86-64 server since 2013.
let fastMath: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]

// The commit `lstm-dist --version` prints. The build scripts (scripts/build.sh) put `git rev-parse`'s
// answer in LSTM_DIST_COMMIT; the manifest only passes it on, as a C define of the one file that
// returns it (a Swift -D carries no value), so the build itself runs no git and needs no network.
// A plain `swift build` says "unknown"; anything but letters, digits and ".-_" is ignored.
let commit = Context.environment["LSTM_DIST_COMMIT"].flatMap { value in
    !value.isEmpty && value.allSatisfy({ $0.isLetter || $0.isNumber || ".-_".contains($0) }) ? value : nil
}

let package = Package(
    name: "lstm-dist",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "lstm-dist", targets: ["lstm-dist"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // ONNX export and TensorBoard event files: the protobuf runtime only (the Swift from
        // onnx.proto and event.proto is generated once and committed, so no build runs protoc or
        // its plugin); the zip of a .keras file.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // C libraries, each wrapped once by the Swift module above it.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // OpenSSL's libcrypto, for SHA-256 (the dataset fingerprint) with the CPU's SHA extensions.
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // libxsmm's JIT matrix kernels, chosen from CPUID features (Debian ships it static).
        .systemLibrary(name: "CXSMM", providers: [.apt(["libxsmm-dev"])]),
        // CPUID checks, in a header compiled into whoever asks (the CLI, before any AVX2 code).
        .systemLibrary(name: "CCPUFeatures"),
        // Turns libhdf5's crashes on damaged files into one error line (C: a signal handler).
        .target(name: "CCrashGuard"),
        // The gate passes and softmax, built for AVX2 and for AVX-512 (Swift cannot build one function twice).
        .target(name: "CElementwise"),
        // bf16 rounding, widening and sums of `train --exchange bf16`, vectorised by the C compiler.
        .target(name: "CBF16Exchange"),
        // The commit the binary was built from (above).
        .target(name: "CBuildInfo", cSettings: commit.map { [.define("LSTM_DIST_COMMIT", to: "\"\($0)\"")] } ?? []),

        // HDF5 files and the dataset and checkpoint schemas.
        .target(name: "Storage", dependencies: ["CHDF5", "CCrypto", "CCrashGuard"]),
        // Raw CSV / JSON Lines / text into the dataset schema, streaming.
        .target(name: "Pack", dependencies: ["Storage"]),
        // Which rank and slot reads which rows at which step: pure, no I/O.
        .target(name: "Layout"),
        // LSTM math, heads, optimizers; its matrix products on libxsmm kernels (Kernels.swift).
        .target(name: "Model", dependencies: ["CXSMM", "CCPUFeatures", "CElementwise"], swiftSettings: fastMath),
        // A communicator protocol, with MPI and single-process implementations.
        .target(name: "Comm", dependencies: ["CMPI", "CBF16Exchange"]),
        // The training loop and its checkpoints, and the stateful evaluation pass, joining the modules above.
        .target(name: "Training", dependencies: ["Storage", "Layout", "Model", "Comm"]),
        // Using a trained model from its checkpoint: evaluate, predict, generate text, forecast series.
        .target(name: "Inference", dependencies: ["Storage", "Layout", "Model", "Comm", "Training"]),
        // A checkpoint as a Keras 3, ONNX or PyTorch (safetensors) model, with its slot states.
        .target(
            name: "Export",
            dependencies: [
                "Storage", "Model", "Inference",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            exclude: ["onnx.proto"]
        ),
        // `train --tensorboard`: TensorBoard event files from the training events. A module of its
        // own so that Training, and everything built on it, stays free of protobuf.
        .target(
            name: "TensorBoard",
            dependencies: ["Training", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["event.proto"]
        ),
        // The command line only: parsing and printing. Built for baseline x86-64, so it can refuse
        // a CPU below the model's AVX2 + FMA floor with a message rather than die of SIGILL.
        .executableTarget(
            name: "lstm-dist",
            dependencies: [
                "Pack", "Storage", "Training", "Inference", "Export", "TensorBoard", "Comm", "Model", "CCPUFeatures", "CBuildInfo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Benchmarks (scripts/bench-*.sh call it): ratios against this machine's single-thread peak.
        .executableTarget(
            name: "lstm-bench",
            dependencies: ["Model", "Storage", "COpenBLAS", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: fastMath
        ),

        // Fixtures shared by the test targets: temporary folders, generated datasets, processes.
        .target(name: "TestSupport", dependencies: ["Storage"], path: "Tests/TestSupport"),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "Pack", "TestSupport"]),
        .testTarget(name: "LayoutTests", dependencies: ["Layout"]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "CElementwise"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Storage", "Comm", "Model", "Layout", "TestSupport"]),
        .testTarget(name: "InferenceTests", dependencies: ["Inference", "Training", "Pack", "Comm", "Storage", "Model", "TestSupport"]),
        .testTarget(name: "ExportTests", dependencies: ["Export", "Storage"]),
        .testTarget(name: "TensorBoardTests", dependencies: ["TensorBoard"]),
        // Runs the built `lstm-dist` binary, alone and under real `mpirun`.
        .testTarget(name: "CLITests", dependencies: ["lstm-dist", "Storage", "TestSupport"]),
    ]
)
