#!/usr/bin/env bash
# Installs what is missing, builds and runs the checkpoint benchmark (real localhost processes):
# checkpoint write and restore throughput of a 256 MiB model against sequential file I/O of the
# same bytes, and step-time p99 with a checkpoint every second against none. Drops the page cache
# when run as root. Arguments go to the program, e.g. --sections=checkpoint --rounds=5.
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/install_deps.sh
bazel build //tests/bench:checkpoint_bench >&2
exec bazel-bin/tests/bench/checkpoint_bench "$@"
