#!/usr/bin/env bash
# Regenerate the committed protobuf modules from src/rallypoint/cot/proto/takmessage.proto.
#
# Needs the dev extra (grpcio-tools, mypy-protobuf). The output is committed so that
# running Rallypoint needs only the protobuf runtime. The generated module refuses to
# import under a protobuf runtime older than the protoc that produced it: the script
# prints that ValidateProtobufRuntimeVersion line, compare it with the protobuf pin in
# pyproject.toml.
#
# Two edits are made to protoc's output. (1) The descriptors go into a private descriptor
# pool instead of the process-wide default one. The message names must stay
# atakmap.commoncommo.protobuf.v1.* (the reference names them so), and takproto (also
# imported by pytak) registers those same names in the default pool, so two copies in
# one pool would make whichever module is imported second fail with "duplicate symbol".
# (2) The stub is marked as generated for ruff (lint and format off) and loses the
# flake8-pyi "noqa: Y015" codes, which ruff reports as unknown.
#
# Usage: scripts/regen-proto.sh [python]   (default: python3 on PATH)
set -euo pipefail

python="${1:-python3}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
proto_dir="$root/src/rallypoint/cot/proto"
generated="$proto_dir/takmessage_pb2.py"
stub="$proto_dir/takmessage_pb2.pyi"
# mypy-protobuf installs its protoc plugin next to the interpreter, which may not be on PATH.
bindir="$(dirname "$("$python" -c 'import sys; print(sys.executable)')")"
plugin="$(command -v protoc-gen-mypy || echo "$bindir/protoc-gen-mypy")"

"$python" -m grpc_tools.protoc \
    --plugin=protoc-gen-mypy="$plugin" \
    --proto_path="$proto_dir" \
    --python_out="$proto_dir" \
    --mypy_out="$proto_dir" \
    "$proto_dir/takmessage.proto"

sed -i 's/_descriptor_pool\.Default()\.AddSerializedFile(/_descriptor_pool.DescriptorPool().AddSerializedFile(/' "$generated"
if ! grep -q '_descriptor_pool.DescriptorPool().AddSerializedFile(' "$generated"; then
    echo "regen-proto: protoc output changed shape; the private-pool edit did not apply" >&2
    exit 1
fi

sed -i 's/  # noqa: Y015$//' "$stub"
sed -i '1i # ruff: noqa\n# fmt: off' "$stub"

sed -n "/ValidateProtobufRuntimeVersion/,/)/p" "$generated" | tr -s " \n" " "
echo
