#!/usr/bin/env bash
# Parameter-server overhead: time per epoch of the same MLP (784-256-128-10, Fashion-MNIST or its
# synthetic stand-in) trained (a) in one process with no parameter server (ps_worker
# --mode=standalone: the same training loop, with the table and optimizer in-process) and
# (b) through a localhost cluster of 1 server and 1 worker, in one run, and the ratio (b)/(a).
# With a usable GPU it repeats both on CUDA and prints examples/s for CPU vs CUDA.
# Options: --epochs=N (default 3), --batch_size=N (default 64), --cpu_threads=N (default 1),
# --compression=CODEC and --pull_compression=none|fp16 for the cluster run (default none),
# --consistency=bsp|ssp|asp (default bsp), --staleness=N (default 3) and --overlap=auto|buckets|none
# (default auto here, none in ps_worker: under ssp/asp each step's exchange overlaps the next step's computation).
set -euo pipefail
cd "$(dirname "$0")/../.."

epochs=3
batch_size=64
cpu_threads=1
compression=none
pull_compression=none
consistency=bsp
staleness=3
overlap=auto  # the benchmark measures the overlapped path; ps_worker defaults to none
for arg in "$@"; do
  case "${arg}" in
    --epochs=*) epochs="${arg#*=}" ;;
    --batch_size=*) batch_size="${arg#*=}" ;;
    --cpu_threads=*) cpu_threads="${arg#*=}" ;;
    --compression=*) compression="${arg#*=}" ;;
    --pull_compression=*) pull_compression="${arg#*=}" ;;
    --consistency=*) consistency="${arg#*=}" ;;
    --staleness=*) staleness="${arg#*=}" ;;
    --overlap=*) overlap="${arg#*=}" ;;
    *) echo "unknown option ${arg}" >&2; exit 2 ;;
  esac
done

deploy/install_deps.sh
bazel build //server/... //worker/... >&2
dataset=synthetic-images
[[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]] && dataset=fashion-mnist
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/ps-overhead-XXXXXX")
common=(--model=mlp --hidden=256,128 --dataset="${dataset}" --epochs="${epochs}"
        --batch_size="${batch_size}" --cpu_threads="${cpu_threads}" --log_every_steps=0)

# Mean epoch_seconds and final examples_per_sec of a metrics file, skipping the first epoch
# (warm-up) when there are more.
summarise() {
  python3 - "$1" <<'PY'
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
epochs = [r["epoch_seconds"] for r in records if r["event"] == "epoch"]
timed = epochs[1:] if len(epochs) > 1 else epochs
final = [r for r in records if r["event"] == "final"][-1]
print(sum(timed) / len(timed), final["examples_per_sec"], final["test_accuracy"])
PY
}

measure() {  # measure DEVICE: prints "standalone_s cluster_s standalone_eps cluster_eps acc_a acc_b"
  local device=$1
  bazel-bin/worker/ps_worker --mode=standalone --device="${device}" "${common[@]}" \
    --metrics_out="${run_dir}/standalone-${device}.jsonl" >"${run_dir}/standalone-${device}.log" 2>&1
  deploy/local_cluster.sh --servers=1 --workers=1 --num_shards=4 \
    --run_dir="${run_dir}/cluster-${device}" -- --workers=1 --device="${device}" "${common[@]}" \
    --compression="${compression}" --pull_compression="${pull_compression}" \
    --consistency="${consistency}" --staleness="${staleness}" --overlap="${overlap}" \
    --metrics_out="${run_dir}/cluster-${device}.jsonl" >"${run_dir}/cluster-${device}.log" 2>&1
  read -r a_seconds a_rate a_accuracy < <(summarise "${run_dir}/standalone-${device}.jsonl")
  read -r b_seconds b_rate b_accuracy < <(summarise "${run_dir}/cluster-${device}.jsonl")
  echo "${a_seconds} ${b_seconds} ${a_rate} ${b_rate} ${a_accuracy} ${b_accuracy}"
}

report() {  # report DEVICE FIGURES...
  local device=$1 a_seconds=$2 b_seconds=$3 a_rate=$4 b_rate=$5 a_accuracy=$6 b_accuracy=$7
  printf '%-5s (a) one process:        %7.2f s/epoch  %8.0f examples/s  test accuracy %.4f\n' \
    "${device}" "${a_seconds}" "${a_rate}" "${a_accuracy}"
  printf '%-5s (b) 1 server, 1 worker: %7.2f s/epoch  %8.0f examples/s  test accuracy %.4f\n' \
    "${device}" "${b_seconds}" "${b_rate}" "${b_accuracy}"
  printf '%-5s overhead ratio (b)/(a): %.3f\n' "${device}" \
    "$(python3 -c "print(${b_seconds} / ${a_seconds})")"
}

echo "MLP 784-256-128-10 on ${dataset}, batch ${batch_size}, ${epochs} epochs, ${cpu_threads} OpenBLAS thread(s), cluster pushes ${compression}, pulls ${pull_compression}, ${consistency}$([[ ${consistency} == ssp ]] && echo "(${staleness})"), overlap ${overlap}; logs in ${run_dir}"
read -r -a cpu < <(measure cpu)
report cpu "${cpu[@]}"
if bazel-bin/worker/ps_worker --mode=standalone --device=cuda --epochs=1 --train_limit=64 \
     --dataset="${dataset}" --log_level=off >/dev/null 2>&1; then
  read -r -a cuda < <(measure cuda)
  report cuda "${cuda[@]}"
  printf 'examples/s CPU vs CUDA: (a) %.0f vs %.0f (x%.2f), (b) %.0f vs %.0f (x%.2f)\n' \
    "${cpu[2]}" "${cuda[2]}" "$(python3 -c "print(${cuda[2]} / ${cpu[2]})")" \
    "${cpu[3]}" "${cuda[3]}" "$(python3 -c "print(${cuda[3]} / ${cpu[3]})")"
else
  echo "cuda  skipped: no usable CUDA device (ps_worker --device=cuda failed)"
fi
