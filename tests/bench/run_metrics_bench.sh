#!/usr/bin/env bash
# Installs what is missing, builds and runs the metrics benchmark: (a) the demo's training
# cluster with every daemon's /metrics scraped every second versus without metrics endpoints, in
# alternating runs (examples/s and their ratio), and (b) the /metrics response time of a server
# leading 64 shards, and of its coordinator (median, p99, max).
# Arguments go to the program, e.g. --rounds=5 --epochs=3 --part=b.
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/install_deps.sh
bazel build //tests/bench:metrics_bench >&2
exec bazel-bin/tests/bench/metrics_bench "$@"
