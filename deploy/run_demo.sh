#!/usr/bin/env bash
# The main job. Installs what is missing, builds, and trains the MLP classifier (784-256-128-10)
# on Fashion-MNIST on a localhost cluster: 1 coordinator, 3 parameter servers (every shard on 2
# of them), 2 workers, BSP. Partway through (after epoch 4) it SIGKILLs a parameter server and
# prints the failover timeline: the kill, its detection, the promotions, the first push
# acknowledged by a promoted primary, and the re-replication that restores 2 replicas per shard;
# training goes on with nothing lost. Then it shows the final test accuracy of each worker and of
# the exported model, scored again by `ps_worker --mode=evaluate`, and draws the run's training
# curves (psctl plot) into RUN_DIR/training_curves.png.
# Without the dataset package it says so and trains on a clearly labelled synthetic stand-in.
# Options: --consistency=bsp|ssp|asp (default bsp), --epochs=N, --device=auto|cuda|cpu,
# --compression=none|fp16|int8|topk:RATIO|onebit (pushed gradients, default none),
# --kill_after_epoch=N (default 4; 0: no kill), --servers=N (default 3), --seed=N (default 1),
# --bin_dir=DIR (use the binaries built there instead of building; for repeated runs);
# --tls (every channel mutual TLS, certificates made by deploy/make_certs.sh in the run dir);
# anything else after -- goes to the workers.
set -euo pipefail
cd "$(dirname "$0")/.."
started=${SECONDS}

consistency=bsp
epochs=20
device=auto
compression=none
kill_after_epoch=4
servers=3
seed=1
bin_dir=""
tls=0
extra_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --consistency=*) consistency="${1#*=}" ;;
    --epochs=*) epochs="${1#*=}" ;;
    --device=*) device="${1#*=}" ;;
    --compression=*) compression="${1#*=}" ;;
    --kill_after_epoch=*) kill_after_epoch="${1#*=}" ;;
    --servers=*) servers="${1#*=}" ;;
    --seed=*) seed="${1#*=}" ;;
    --bin_dir=*) bin_dir="${1#*=}" ;;
    --tls) tls=1 ;;
    --) shift; extra_args=("$@"); break ;;
    *) echo "run_demo: unknown option $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
  shift
done

deploy/install_deps.sh
if [[ -z "${bin_dir}" ]]; then
  bazel_flags=()
  if [[ "${CI:-}" == "true" ]]; then bazel_flags+=(--config=ci); fi
  bazel build "${bazel_flags[@]}" //server/... //worker/... //tools/psctl
  bin_dir="$(pwd)/bazel-bin"
fi

data_dir=/usr/share/datasets/fashion-mnist
if [[ -f "${data_dir}/train-images-idx3-ubyte.gz" ]]; then
  dataset=fashion-mnist
  echo "demo: training on Fashion-MNIST from ${data_dir}"
else
  dataset=synthetic-images
  echo "demo: *** Fashion-MNIST is not installed (Debian package dataset-fashion-mnist could not be"
  echo "demo: *** installed): training on a SYNTHETIC stand-in; its accuracy is not a Fashion-MNIST result"
fi

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/ps-demo-XXXXXX")
mkdir -p "${run_dir}/logs"
touch "${run_dir}/logs/worker-1.log" "${run_dir}/logs/worker-2.log"
# Each worker's epoch lines, as they come.
# Each worker's epoch lines as they come, without the timestamp; tail ends with this script.
tail -q -n +1 -F --pid=$$ "${run_dir}/logs/worker-1.log" "${run_dir}/logs/worker-2.log" 2>/dev/null |
  grep --line-buffered -E "done in|data:|mlp |compute device|failed|critical" |
  sed -u -E 's/^[0-9-]+ [0-9:.]+ [A-Z] //' &

if [[ ${kill_after_epoch} -gt 0 ]]; then
  if [[ ${servers} -lt 3 ]]; then
    echo "run_demo: --kill_after_epoch needs --servers of at least 3 (to restore 2 replicas)" >&2
    exit 2
  fi
  # The failure drill: once worker rank 0 has finished epoch N, SIGKILL server 1.
  (
    while ! grep -qE "epoch ${kill_after_epoch}/[0-9]+ done in" "${run_dir}/logs/worker-1.log" \
          "${run_dir}/logs/worker-2.log" 2>/dev/null; do
      sleep 0.2
      kill -0 $$ 2>/dev/null || exit 0
    done
    victim=$(pgrep -f -- "--address_file=${run_dir}/server-1.addr" || true)
    [[ -n "${victim}" ]] || exit 0
    date +"%Y-%m-%d %H:%M:%S.%3N" >"${run_dir}/kill.time"
    kill -KILL "${victim}"
    echo "demo: *** SIGKILL the parameter server process server-1 (pid ${victim}) after epoch ${kill_after_epoch}; training goes on ***"
  ) &
fi

# One OpenBLAS thread per worker: two workers and the servers share the cores.
tls_args=()
if [[ ${tls} -eq 1 ]]; then tls_args=(--tls_dir="${run_dir}/certs"); fi
deploy/local_cluster.sh --servers="${servers}" --workers=2 --num_shards=8 --run_dir="${run_dir}" \
  --bin_dir="${bin_dir}" --keep_going "${tls_args[@]}" -- \
  --workers=2 --model=mlp --hidden=256,128 --dataset="${dataset}" --device="${device}" \
  --cpu_threads=1 --consistency="${consistency}" --epochs="${epochs}" --batch_size=64 --lr_decay=0.85 \
  --compression="${compression}" --seed="${seed}" \
  --log_every_steps=0 --metrics_out="${run_dir}/metrics-{rank}.jsonl" \
  --model_out="${run_dir}/model.psmlp" "${extra_args[@]}"
sleep 0.5  # Let the progress tail print the last lines.

final() {  # final RANK KEY: a field of the worker's final metrics record
  python3 -c 'import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
print([r for r in records if r["event"] == "final"][-1][sys.argv[2]])' \
    "${run_dir}/metrics-$1.jsonl" "$2"
}
if [[ -f "${run_dir}/kill.time" ]]; then
  echo
  echo "=== failover timeline (milliseconds after the SIGKILL of server-1) ==="
  python3 deploy/failover_timeline.py "${run_dir}"
fi
echo
echo "=== result (${dataset}, ${consistency}, pushes ${compression}, ${servers} servers, 2 workers, seed ${seed}) ==="
for rank in 0 1; do
  printf 'worker rank %s: test accuracy %.4f, %.0f examples/s, pushed %.0f MB (%.1fx fewer bytes than float32), pulled %.0f MB\n' \
    "${rank}" "$(final "${rank}" test_accuracy)" "$(final "${rank}" examples_per_sec)" \
    "$(final "${rank}" bytes_pushed | awk '{print $1 / 1e6}')" \
    "$(final "${rank}" push_compression_ratio)" \
    "$(final "${rank}" bytes_pulled | awk '{print $1 / 1e6}')"
  # Where the worker's time went: computing (and how much of it without a CPU: the demo's five
  # processes share this machine's cores) and waiting, split by what the servers reported.
  printf '  time: computing %.1f s (%.1f s of it without a CPU), waiting %.1f s = transfer %.1f + servers handling pushes (apply, replication) %.1f + barrier for the other worker %.1f\n' \
    "$(final "${rank}" compute_seconds)" "$(final "${rank}" cpu_contention_seconds)" \
    "$(final "${rank}" wait_seconds)" "$(final "${rank}" transfer_seconds)" \
    "$(final "${rank}" server_push_seconds)" "$(final "${rank}" barrier_wait_seconds)"
done
printf 'exported model %s: ' "${run_dir}/model.psmlp"
"${bin_dir}/worker/ps_worker" --mode=evaluate --dataset="${dataset}" --device="${device}" \
  --model_in="${run_dir}/model.psmlp" --log_level=warn
# The run's training curves, drawn by gnuplot through psctl plot; a demo that trained well is not
# failed by a missing plotter.
curves="${run_dir}/training_curves.png"
title="MLP 784-256-128-10, ${dataset}: ${consistency}, ${servers} servers, 2 workers, seed ${seed}"
if [[ -f "${run_dir}/kill.time" ]]; then
  title+=", server-1 SIGKILLed after epoch ${kill_after_epoch}"
fi
if "${bin_dir}/tools/psctl/psctl" plot "${run_dir}/metrics-0.jsonl" "${run_dir}/metrics-1.jsonl" \
    -o "${curves}" --title="${title}" >/dev/null; then
  echo "training curves (loss, train and test accuracy per worker per epoch): ${curves}"
else
  echo "demo: could not draw the training curves (psctl plot said why above)"
fi
echo "demo wall time: $((SECONDS - started)) s; logs and metrics in ${run_dir}"
