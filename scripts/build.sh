#!/usr/bin/env bash
# Builds a release product the one way every script here uses: .build/release/lstm-dist (or
# PRODUCT) with the Swift runtime and Foundation linked in (--static-swift-stdlib), so the binary
# needs no Swift toolchain where it runs: a node with Debian's OpenMPI and HDF5 runtime packages
# is enough (README, "Running on several machines"). The commit it is built from goes in for
# `lstm-dist --version` (Package.swift passes LSTM_DIST_COMMIT on; "-dirty" when tracked files
# differ from it). Extra arguments go to `swift build`.
#
# Usage: scripts/build.sh [PRODUCT] [SWIFT BUILD ARGUMENTS...]   (PRODUCT default lstm-dist; the
# benchmarks build lstm-bench). Always one --product: the test-support target links XCTest, which
# has no static form, so a static build of every target fails.
set -euo pipefail
cd "$(dirname "$0")/.."
product=${1:-lstm-dist}
shift || true

commit=unknown
if head=$(git rev-parse --short=12 HEAD 2>/dev/null); then
    commit=$head
    git diff --quiet HEAD -- 2>/dev/null || commit+=-dirty
fi
LSTM_DIST_COMMIT=$commit swift build -c release --static-swift-stdlib --product "$product" "$@"
