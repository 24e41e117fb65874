#!/usr/bin/env bash
# Installs what is missing (etcd among it), builds and runs the coordinator failover benchmark:
# three coordinators on a real etcd, the leader SIGKILLed each round; prints min / median / max
# from the kill to a new worker's registration being served and to an observer seeing that
# map, with etcd at --election-timeout=500 (lease TTL 1 s) and with etcd's defaults (TTL 2 s).
# Arguments go to the program, e.g. --rounds=5 --default_etcd=false.
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/install_deps.sh
bazel build //tests/bench:failover_bench >&2
exec bazel-bin/tests/bench/failover_bench "$@"
