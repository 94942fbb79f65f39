#!/usr/bin/env bash
# Regenerates the committed Swift of our trimmed protos: Sources/Export/onnx.pb.swift (ONNX
# export) and Sources/TensorBoard/event.pb.swift (--tensorboard). Run by hand after editing a
# proto, never by the build or CI, so that no build needs protoc.
# Needs protoc (Debian's protobuf-compiler) and protoc-gen-swift built from the same
# swift-protobuf version as Package.swift's (1.39.0):
#   git clone --branch 1.39.0 https://github.com/apple/swift-protobuf && cd swift-protobuf
#   swift build -c release --product protoc-gen-swift
#   PROTOC_GEN_SWIFT=$PWD/.build/release/protoc-gen-swift scripts/generate-proto-swift.sh
set -euo pipefail
cd "$(dirname "$0")/../Sources"
plugin="${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift)}"
[ -x "$plugin" ] || { echo "error: set PROTOC_GEN_SWIFT to a built protoc-gen-swift 1.39.0" >&2; exit 1; }
"$plugin" --version
for proto in Export/onnx.proto TensorBoard/event.proto; do
    (cd "$(dirname "$proto")" && protoc --plugin=protoc-gen-swift="$plugin" --swift_out=. --swift_opt=Visibility=Internal "$(basename "$proto")")
    echo "wrote Sources/${proto%.proto}.pb.swift"
done
