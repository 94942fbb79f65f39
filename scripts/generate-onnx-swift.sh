#!/usr/bin/env bash
# Regenerates Sources/Export/onnx.pb.swift from Sources/Export/onnx.proto. Run by hand after
# editing the proto, never by the build or CI: the generated file is committed.
# Needs protoc (Debian's protobuf-compiler) and protoc-gen-swift built from the same
# swift-protobuf version as Package.swift's (1.39.0):
#   git clone --branch 1.39.0 https://github.com/apple/swift-protobuf && cd swift-protobuf
#   swift build -c release --product protoc-gen-swift
#   PROTOC_GEN_SWIFT=$PWD/.build/release/protoc-gen-swift scripts/generate-onnx-swift.sh
set -euo pipefail
cd "$(dirname "$0")/../Sources/Export"
plugin="${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift)}"
[ -x "$plugin" ] || { echo "error: set PROTOC_GEN_SWIFT to a built protoc-gen-swift 1.39.0" >&2; exit 1; }
"$plugin" --version
protoc --plugin=protoc-gen-swift="$plugin" --swift_out=. --swift_opt=Visibility=Internal onnx.proto
echo "wrote Sources/Export/onnx.pb.swift"
