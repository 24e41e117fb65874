#!/usr/bin/env bash
# Regenerates third_party/etcd/ (vendored: golang-etcd-server-dev pulls ~460 MB of Go packages
# for these four files, so it is not a build dependency; install it only to re-run this).
# Makes trimmed copies of the etcd v3 API .proto files (the KV, Lease and Election services)
# from Debian's golang-etcd-server-dev, for protoc's C++ and gRPC generators:
#   - drops `import "gogoproto/gogo.proto"` and every `option (gogoproto.*) = ...;` line
#     (Go code-generation hints; no effect on the wire);
#   - drops `import "google/api/annotations.proto"` and every `option (google.api.http) = {...};`
#     block (grpc-gateway's REST mapping; no effect on the gRPC wire);
#   - rewrites the imports' "etcd/" root (upstream's proto root is the go.etcd.io/ directory)
#     to PREFIX/, so that the files are imported from the workspace root.
# Package names (etcdserverpb, mvccpb, authpb, v3electionpb), messages, field numbers and
# services are untouched, so the wire format and the gRPC method names
# (/etcdserverpb.KV/Range, /v3electionpb.Election/Campaign, ...) are etcd's own.
#
# Usage: tools/trim_etcd_protos.sh [OUT_ROOT [PREFIX]]   (from the repo root: tools/trim_etcd_protos.sh)
#   OUT_ROOT  (default .) the directory imports are resolved from (protoc --proto_path; the Bazel workspace
#             root for a repo).
#   PREFIX    where under OUT_ROOT the files go and how they are imported
#             (default third_party/etcd). PREFIX=etcd keeps upstream's import paths.
#   SRC       env var: the etcd source root (default /usr/share/gocode/src/go.etcd.io/etcd,
#             from golang-etcd-server-dev 3.4.x).
# Writes OUT_ROOT/PREFIX/{etcdserver/etcdserverpb/rpc.proto, mvcc/mvccpb/kv.proto,
# auth/authpb/auth.proto, etcdserver/api/v3election/v3electionpb/v3election.proto}.
# Re-runnable: overwrites those files; fails if a trimmed file still mentions gogoproto or
# google.api.
set -euo pipefail

if [[ $# -gt 2 ]]; then
  echo "usage: $0 [OUT_ROOT [PREFIX]]" >&2
  exit 2
fi
out_root=${1:-.}
prefix=${2:-third_party/etcd}
prefix=${prefix%/}
src=${SRC:-/usr/share/gocode/src/go.etcd.io/etcd}

files=(
  etcdserver/etcdserverpb/rpc.proto
  mvcc/mvccpb/kv.proto
  auth/authpb/auth.proto
  etcdserver/api/v3election/v3electionpb/v3election.proto
)

for f in "${files[@]}"; do
  if [[ ! -f "${src}/${f}" ]]; then
    echo "trim_etcd_protos: ${src}/${f} missing (apt-get install golang-etcd-server-dev)" >&2
    exit 1
  fi
done

for f in "${files[@]}"; do
  dest="${out_root}/${prefix}/${f}"
  mkdir -p "$(dirname "${dest}")"
  {
    echo "// Trimmed copy of go.etcd.io/etcd/${f} (etcd $(dpkg-query -W -f='${Version}' golang-etcd-server-dev 2>/dev/null || echo unknown))"
    echo "// made by tools/trim_etcd_protos.sh: Go (gogo) and REST-gateway annotations removed, imports re-rooted."
    echo "// Do not edit; re-run the script. Upstream licence: Apache-2.0."
    sed -E \
      -e '/^[[:space:]]*import "gogoproto\/gogo\.proto";/d' \
      -e '/^[[:space:]]*import "google\/api\/annotations\.proto";/d' \
      -e '/^[[:space:]]*\/\/ for grpc-gateway[[:space:]]*$/d' \
      -e '/^[[:space:]]*option \(gogoproto\.[a-z_]+\)[[:space:]]*=.*;[[:space:]]*$/d' \
      -e '/^[[:space:]]*option \(google\.api\.http\)[[:space:]]*=[[:space:]]*\{/,/^[[:space:]]*\};[[:space:]]*$/d' \
      -e "s#^([[:space:]]*import \")etcd/#\\1${prefix}/#" \
      "${src}/${f}"
  } > "${dest}.tmp"
  if grep -nE 'gogoproto|google\.api|google/api' "${dest}.tmp" >&2; then
    echo "trim_etcd_protos: ${dest} still has annotations (upstream format changed?)" >&2
    rm -f "${dest}.tmp"
    exit 1
  fi
  mv "${dest}.tmp" "${dest}"
  echo "${dest}"
done
