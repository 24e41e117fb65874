#!/usr/bin/env bash
# Installs what is missing, builds and runs the data-plane benchmark (1 server, 1 worker on
# loopback). Extra arguments go to Google Benchmark, e.g. --benchmark_format=json or
# --benchmark_filter=Dense. Figures go to stdout, the ratio table to stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/install_deps.sh
bazel build //tests/bench:data_plane_bench >&2
exec bazel-bin/tests/bench/data_plane_bench "$@"
