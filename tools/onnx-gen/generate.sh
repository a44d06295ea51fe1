#!/usr/bin/env bash
# Regenerates crates/onnx/src/onnx.rs from the onnx-ml.proto shipped in the `onnx` Python package.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
proto_dir=$(python3 -c "import onnx, os; print(os.path.dirname(onnx.__file__))")
out=$(mktemp -d)
cargo run --quiet --release --manifest-path "$here/Cargo.toml" -- "$proto_dir" "$out"
cp "$out/onnx.rs" "$here/../../crates/onnx/src/onnx.rs"
echo "wrote crates/onnx/src/onnx.rs from onnx $(python3 -c 'import onnx; print(onnx.__version__)')"
