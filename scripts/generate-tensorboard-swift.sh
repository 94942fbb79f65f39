#!/usr/bin/env bash
# Regenerates Sources/TensorBoard/event.pb.swift from Sources/TensorBoard/event.proto. Run by
# hand after editing the proto, never by the build or CI: the generated file is committed.
# Needs protoc (Debian's protobuf-compiler) and protoc-gen-swift built from the same
# swift-protobuf version as Package.swift's (1.39.0), as scripts/generate-onnx-swift.sh says:
#   PROTOC_GEN_SWIFT=/path/to/swift-protobuf/.build/release/protoc-gen-swift scripts/generate-tensorboard-swift.sh
set -euo pipefail
cd "$(dirname "$0")/../Sources/TensorBoard"
plugin="${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift)}"
[ -x "$plugin" ] || { echo "error: set PROTOC_GEN_SWIFT to a built protoc-gen-swift 1.39.0" >&2; exit 1; }
"$plugin" --version
protoc --plugin=protoc-gen-swift="$plugin" --swift_out=. --swift_opt=Visibility=Internal event.proto
echo "wrote Sources/TensorBoard/event.pb.swift"
