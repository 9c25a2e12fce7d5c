#!/usr/bin/env bash
# Regenerates src/io/onnx-proto/onnx/onnx_pb.generated.ts, the ONNX protobuf messages used by
# src/io/onnx.ts, with protoc-gen-es (runtime: @bufbuild/protobuf).
#
# The schema is ONNX's own onnx.proto, taken from the `onnx` wheel on PyPI
# (it ships onnx/onnx.proto; ONNX_VERSION below). A copy is committed beside
# this script, so `generate.sh` alone regenerates from it; `generate.sh --fetch`
# first refreshes that copy from the wheel (needs pip). CI runs neither: the
# generated file is committed, and the code generators are no devDependencies:
# npx fetches the pinned versions below from the npm registry when this runs.
set -euo pipefail
ONNX_VERSION=1.23.1
BUF=@bufbuild/buf@1.75.0
PROTOC_GEN_ES=@bufbuild/protoc-gen-es@2.17.0   # match the runtime, @bufbuild/protobuf 2.17.0 in package.json
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
if [[ "${1:-}" == "--fetch" ]]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: "onnx==$ONNX_VERSION" -d "$tmp"
  (cd "$tmp" && unzip -q -o onnx-*.whl onnx/onnx.proto)
  mkdir -p "$here/proto/onnx"
  cp "$tmp/onnx/onnx.proto" "$here/proto/onnx/onnx.proto"
fi
npx --yes --package="$BUF" --package="$PROTOC_GEN_ES" -- buf generate "$here/proto" --template "$here/buf.gen.yaml"
# the project's name for generated code (the house's size rules skip *.generated.ts)
mv src/io/onnx-proto/onnx/onnx_pb.ts src/io/onnx-proto/onnx/onnx_pb.generated.ts
echo "wrote src/io/onnx-proto/onnx/onnx_pb.generated.ts from onnx.proto of onnx $ONNX_VERSION"
