#!/usr/bin/env bash
# Installs what is missing, builds and runs the replication benchmark (real localhost processes):
# push cost of R = 1, 2, 3; write unavailability after a primary's SIGKILL; restoring R for a
# 64 MB shard. Arguments go to the program, e.g. --sections=failover --rounds=5.
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/install_deps.sh
bazel build //tests/bench:replication_bench >&2
exec bazel-bin/tests/bench/replication_bench "$@"
