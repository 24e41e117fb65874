#!/usr/bin/env bash
# Starts a parameter-server cluster on 127.0.0.1: one coordinator, N servers and M workers, every
# process logging under one run directory. Stops every process it started when it exits, on
# Ctrl-C, on SIGTERM, or when the duration is over, so nothing is ever left running.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: deploy/local_cluster.sh [options] [-- worker args...]
  --servers=N             parameter servers (default 2)
  --workers=M             workers (default 2)
  --num_shards=S          virtual shards (default 8)
  --replication_factor=R  replicas per shard (default: 2, or 1 with one server)
  --run_dir=DIR           where logs and address files go (default: a new dir under $TMPDIR)
  --bin_dir=DIR           where the binaries are (default: <repo>/bazel-bin)
  --duration=SECONDS      stop after this long; 0 runs until Ctrl-C or until every worker is done
  --keep_going            a daemon that dies is reported, not fatal (for failure drills)
  --http_port=PORT        the coordinator's live status page on http://127.0.0.1:PORT/ (with
                          /api/status and /metrics)
  --tls_dir=DIR           mutual TLS with the certificates deploy/make_certs.sh made in DIR
                          (made there first if DIR has no ca.pem): coordinator.pem for the
                          coordinator, server.pem for servers, chief.pem for the first worker
                          (it creates the tables), worker.pem for the others
  --help                  this text
Arguments after -- go to every ps_worker. The coordinator's address is written to
RUN_DIR/coordinator.addr; `psctl --coordinator=$(cat RUN_DIR/coordinator.addr) status` shows the map.
USAGE
}

repo_root=$(cd "$(dirname "$0")/.." && pwd)
servers=2
workers=2
num_shards=8
replication_factor=""
run_dir=""
bin_dir="${repo_root}/bazel-bin"
duration=0
keep_going=0
tls_dir=""
http_port=0
worker_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --servers=*) servers="${1#*=}" ;;
    --workers=*) workers="${1#*=}" ;;
    --num_shards=*) num_shards="${1#*=}" ;;
    --replication_factor=*) replication_factor="${1#*=}" ;;
    --run_dir=*) run_dir="${1#*=}" ;;
    --bin_dir=*) bin_dir="${1#*=}" ;;
    --duration=*) duration="${1#*=}" ;;
    --keep_going) keep_going=1 ;;
    --tls_dir=*) tls_dir="${1#*=}" ;;
    --http_port=*) http_port="${1#*=}" ;;
    --help|-h) usage; exit 0 ;;
    --) shift; worker_args=("$@"); break ;;
    *) echo "local_cluster: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
[[ -n "${replication_factor}" ]] || replication_factor=$(( servers < 2 ? servers : 2 ))
[[ -n "${run_dir}" ]] || run_dir=$(mktemp -d "${TMPDIR:-/tmp}/ps-local-XXXXXX")
mkdir -p "${run_dir}/logs"
for binary in server/coordinator/ps_coordinator server/ps_server worker/ps_worker; do
  [[ -x "${bin_dir}/${binary}" ]] || { echo "local_cluster: ${bin_dir}/${binary} missing; run: bazel build //server/... //worker/..." >&2; exit 1; }
done

# tls NAME: the flags that give a daemon certificate NAME of --tls_dir (nothing without TLS).
tls() {
  [[ -n "${tls_dir}" ]] || return 0
  echo "--tls_cert=${tls_dir}/$1.pem" "--tls_key=${tls_dir}/$1.key" "--tls_ca=${tls_dir}/ca.pem"
}
if [[ -n "${tls_dir}" && ! -f "${tls_dir}/ca.pem" ]]; then
  "${repo_root}/deploy/make_certs.sh" "${tls_dir}" >/dev/null
fi

# name -> pid of every process started, in start order.
names=()
pids=()

# Waits up to 5 s for the processes at the given indices to exit.
wait_for_exit() {
  local i alive
  for _ in $(seq 50); do
    alive=0
    for i in "$@"; do kill -0 "${pids[$i]}" 2>/dev/null && alive=1; done
    [[ ${alive} -eq 0 ]] && return 0  # An explicit status: a bare return in a trap reports the trap's cause.
    sleep 0.1
  done
}

stop_all() {
  local i members=()
  trap - EXIT INT TERM
  set +e  # Best effort from here: stop everything even if one step fails.
  [[ ${#pids[@]} -gt 0 ]] || return 0
  # Members first, so they can still tell the coordinator they leave; the coordinator last.
  for ((i = 1; i < ${#pids[@]}; i++)); do members+=("${i}"); done
  for i in "${members[@]}"; do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
  wait_for_exit "${members[@]}"
  kill -TERM "${pids[0]}" 2>/dev/null || true
  wait_for_exit 0
  for i in "${!pids[@]}"; do kill -KILL "${pids[$i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap 'stop_all' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start() {  # start NAME BINARY ARGS...
  local name=$1 binary=$2
  shift 2
  "${bin_dir}/${binary}" "$@" >"${run_dir}/logs/${name}.log" 2>&1 &
  names+=("${name}")
  pids+=($!)
}

start coordinator server/coordinator/ps_coordinator --port=0 \
  --address_file="${run_dir}/coordinator.addr" --num_shards="${num_shards}" \
  --replication_factor="${replication_factor}" --min_servers="${servers}" \
  --http_port="${http_port}" $(tls coordinator)
for _ in $(seq 300); do [[ -s "${run_dir}/coordinator.addr" ]] && break; sleep 0.1; done
[[ -s "${run_dir}/coordinator.addr" ]] || { echo "local_cluster: the coordinator did not start; see ${run_dir}/logs/coordinator.log" >&2; exit 1; }
coordinator=$(cat "${run_dir}/coordinator.addr")

for i in $(seq "${servers}"); do
  start "server-${i}" server/ps_server --coordinator="${coordinator}" --port=0 \
    --address_file="${run_dir}/server-${i}.addr" $(tls server)
done
first_worker=${#pids[@]}
for i in $(seq "${workers}"); do
  start "worker-${i}" worker/ps_worker --coordinator="${coordinator}" "${worker_args[@]}" \
    $(tls "$([[ ${i} -eq 1 ]] && echo chief || echo worker)")
done
echo "local cluster: coordinator ${coordinator}, ${servers} servers, ${workers} workers"
echo "run directory: ${run_dir} (logs in ${run_dir}/logs)"
[[ ${http_port} -eq 0 ]] || echo "status page: http://127.0.0.1:${http_port}/"

# Watch the processes: a daemon that exits on its own is a failure, except workers that finish
# their job with status 0; once every worker has done so the cluster's work is over.
started_at=${SECONDS}
declare -A finished=()
while true; do
  for i in "${!pids[@]}"; do
    [[ -n "${finished[$i]:-}" ]] && continue
    kill -0 "${pids[$i]}" 2>/dev/null && continue
    status=0
    wait "${pids[$i]}" || status=$?
    finished[$i]=1
    if [[ ${i} -ge ${first_worker} && ${status} -eq 0 ]]; then
      echo "${names[$i]} finished"
      continue
    fi
    if [[ ${keep_going} -eq 1 && ${i} -lt ${first_worker} && ${i} -gt 0 ]]; then
      echo "local_cluster: ${names[$i]} exited with status ${status}; going on (--keep_going)"
      continue
    fi
    echo "local_cluster: ${names[$i]} exited unexpectedly with status ${status}; last lines of its log:" >&2
    tail -n 20 "${run_dir}/logs/${names[$i]}.log" >&2
    exit 1
  done
  done_workers=0
  for i in "${!finished[@]}"; do [[ ${i} -ge ${first_worker} ]] && done_workers=$((done_workers + 1)); done
  if [[ ${workers} -gt 0 && ${done_workers} -eq ${workers} ]]; then
    echo "every worker finished; stopping the cluster"
    exit 0
  fi
  if [[ ${duration} -gt 0 && $((SECONDS - started_at)) -ge ${duration} ]]; then
    echo "duration of ${duration}s reached; stopping the cluster"
    exit 0
  fi
  sleep 0.2
done
