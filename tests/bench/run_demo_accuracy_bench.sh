#!/usr/bin/env bash
# The demo's final test accuracy with and without a parameter server SIGKILLed after epoch 4, for
# seeds 1..N (default 3), one run after another on copies of the binaries built once. Prints a
# table; each run's output goes under the printed directory. Usage: [SEEDS] [extra demo options]
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds=${1:-3}
shift || true
deploy/install_deps.sh
bazel build //server/... //worker/... >&2
bin_dir=$(mktemp -d "${TMPDIR:-/tmp}/ps-accuracy-XXXXXX")
for binary in server/coordinator/ps_coordinator server/ps_server worker/ps_worker; do
  mkdir -p "${bin_dir}/$(dirname "${binary}")"
  cp "bazel-bin/${binary}" "${bin_dir}/${binary}"
done
echo "| seed | no kill: test accuracy | SIGKILL after epoch 4: test accuracy | kill -> first push applied by a promoted primary |"
echo "|---|---|---|---|"
for seed in $(seq "${seeds}"); do
  plain="${bin_dir}/seed-${seed}-plain.log"
  killed="${bin_dir}/seed-${seed}-kill.log"
  deploy/run_demo.sh --bin_dir="${bin_dir}" --seed="${seed}" --kill_after_epoch=0 "$@" >"${plain}" 2>&1
  deploy/run_demo.sh --bin_dir="${bin_dir}" --seed="${seed}" "$@" >"${killed}" 2>&1
  accuracy() { grep -oE "exported model .*test_accuracy [0-9.]+" "$1" | grep -oE "[0-9.]+$"; }
  failover=$(grep -oE "[0-9]+ ms  first push applied by a promoted primary" "${killed}" |
    grep -oE "^[0-9]+" || echo "-")
  echo "| ${seed} | $(accuracy "${plain}") | $(accuracy "${killed}") | ${failover} ms |"
done
echo "runs in ${bin_dir}"
