#!/usr/bin/env bash
# The main job. Installs what is missing, builds, and trains the MLP classifier (784-256-128-10)
# on Fashion-MNIST on a localhost cluster: 1 coordinator, 2 parameter servers (replicated shards),
# 2 workers, BSP. Shows the workers' progress, then the final test accuracy of each worker and of
# the exported model, scored again by `ps_worker --mode=evaluate`.
# Without the dataset package it says so and trains on a clearly labelled synthetic stand-in.
# Options: --consistency=bsp|ssp|asp (default bsp), --epochs=N, --device=auto|cuda|cpu,
# --compression=none|fp16|int8|topk:RATIO|onebit (pushed gradients, default none);
# anything else after -- goes to the workers.
set -euo pipefail
cd "$(dirname "$0")/.."
started=${SECONDS}

consistency=bsp
epochs=20
device=auto
compression=none
extra_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --consistency=*) consistency="${1#*=}" ;;
    --epochs=*) epochs="${1#*=}" ;;
    --device=*) device="${1#*=}" ;;
    --compression=*) compression="${1#*=}" ;;
    --) shift; extra_args=("$@"); break ;;
    *) echo "run_demo: unknown option $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
  shift
done

deploy/install_deps.sh
bazel_flags=()
if [[ "${CI:-}" == "true" ]]; then bazel_flags+=(--config=ci); fi
bazel build "${bazel_flags[@]}" //server/... //worker/... //tools/psctl

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

# One OpenBLAS thread per worker: two workers and two servers share the cores.
deploy/local_cluster.sh --servers=2 --workers=2 --num_shards=8 --run_dir="${run_dir}" -- \
  --workers=2 --model=mlp --hidden=256,128 --dataset="${dataset}" --device="${device}" \
  --cpu_threads=1 --consistency="${consistency}" --epochs="${epochs}" --batch_size=64 --lr_decay=0.85 \
  --compression="${compression}" \
  --log_every_steps=0 --metrics_out="${run_dir}/metrics-{rank}.jsonl" \
  --model_out="${run_dir}/model.psmlp" "${extra_args[@]}"
sleep 0.5  # Let the progress tail print the last lines.

final() {  # final RANK KEY: a field of the worker's final metrics record
  python3 -c 'import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
print([r for r in records if r["event"] == "final"][-1][sys.argv[2]])' \
    "${run_dir}/metrics-$1.jsonl" "$2"
}
echo
echo "=== result (${dataset}, ${consistency}, pushes ${compression}, 2 servers, 2 workers) ==="
for rank in 0 1; do
  printf 'worker rank %s: test accuracy %.4f, %.0f examples/s, pushed %.0f MB (%.1fx fewer bytes than float32), pulled %.0f MB\n' \
    "${rank}" "$(final "${rank}" test_accuracy)" "$(final "${rank}" examples_per_sec)" \
    "$(final "${rank}" bytes_pushed | awk '{print $1 / 1e6}')" \
    "$(final "${rank}" push_compression_ratio)" \
    "$(final "${rank}" bytes_pulled | awk '{print $1 / 1e6}')"
done
printf 'exported model %s: ' "${run_dir}/model.psmlp"
bazel-bin/worker/ps_worker --mode=evaluate --dataset="${dataset}" --device="${device}" \
  --model_in="${run_dir}/model.psmlp" --log_level=warn
echo "demo wall time: $((SECONDS - started)) s; logs and metrics in ${run_dir}"
