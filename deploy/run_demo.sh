#!/usr/bin/env bash
# The main job. Installs what is missing, builds, and runs a localhost cluster (1 coordinator,
# 3 parameter servers, 2 workers): shows the cluster map, SIGKILLs one server, shows the map after
# the coordinator has declared it dead and moved its primaries, then stops everything.
# (Training arrives with the worker's compute backends; this demo shows the cluster itself.)
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install_deps.sh
bazel_flags=()
if [[ "${CI:-}" == "true" ]]; then bazel_flags+=(--config=ci); fi
bazel build "${bazel_flags[@]}" //server/... //worker/... //tools/psctl

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/ps-demo-XXXXXX")
deploy/local_cluster.sh --servers=3 --workers=2 --num_shards=12 --keep_going \
  --run_dir="${run_dir}" &
cluster=$!
# Stop the cluster on the way out, keeping this script's own exit status.
trap 'status=$?; kill -TERM ${cluster} 2>/dev/null; wait ${cluster} 2>/dev/null || true; exit ${status}' EXIT

psctl() { bazel-bin/tools/psctl/psctl --coordinator="$(cat "${run_dir}/coordinator.addr")" "$@"; }
wait_for() {  # wait_for DESCRIPTION COMMAND...: polls for up to 30 s
  local description=$1
  shift
  for _ in $(seq 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "demo: timed out waiting for ${description}" >&2
  return 1
}

wait_for "the coordinator" test -s "${run_dir}/coordinator.addr"
wait_for "3 servers and 2 workers to register" \
  bash -c "bazel-bin/tools/psctl/psctl --coordinator=\$(cat ${run_dir}/coordinator.addr) status | grep -c ' alive ' | grep -qx 5"
echo
echo "=== cluster up ==="
psctl status

victim=$(pgrep -f -- "--address_file=${run_dir}/server-2.addr")
echo
echo "=== SIGKILL server-2 at $(cat "${run_dir}/server-2.addr") (pid ${victim}); the coordinator should declare it dead within 1 s ==="
kill -KILL "${victim}"
wait_for "the coordinator to declare server-2 dead" \
  bash -c "bazel-bin/tools/psctl/psctl --coordinator=\$(cat ${run_dir}/coordinator.addr) status | grep -q ' dead '"
psctl status
echo
echo "coordinator log (membership changes):"
grep -E "joined|placed|is out|promoted|lost" "${run_dir}/logs/coordinator.log" | sed 's/^/  /'
echo
echo "logs: ${run_dir}/logs"
