#!/usr/bin/env bash
# Gradient compression: accuracy and pushed bytes of every codec against uncompressed pushes.
# Each codec trains the same job, the demo's (MLP 784-256-128-10 on Fashion-MNIST or its
# synthetic stand-in, 2 servers, 2 workers, BSP, Adam with lr decay 0.85 per epoch), and the
# table compares test accuracy and bytes on the wire per step with the dense run.
# Options: --epochs=N (default 20), --batch_size=N (default 64), --device=auto|cpu|cuda,
#          --codecs="none fp16 int8 topk:0.01 onebit" (none first: the others compare with it),
#          --seeds="1 2 3" (each codec trains once per seed; the table shows the mean accuracy
#          and its spread, since one run's accuracy moves by about 0.1 point with the seed),
#          --optimizer=adam|momentum|... (default adam, the demo's),
#          --warmup_steps=N (float32 pushes before the codec takes over; default 0).
set -euo pipefail
cd "$(dirname "$0")/../.."

epochs=20
batch_size=64
device=auto
codecs="none fp16 int8 topk:0.01 onebit"
seeds="1"
optimizer=adam
warmup_steps=0
for arg in "$@"; do
  case "${arg}" in
    --epochs=*) epochs="${arg#*=}" ;;
    --batch_size=*) batch_size="${arg#*=}" ;;
    --device=*) device="${arg#*=}" ;;
    --codecs=*) codecs="${arg#*=}" ;;
    --seeds=*) seeds="${arg#*=}" ;;
    --optimizer=*) optimizer="${arg#*=}" ;;
    --warmup_steps=*) warmup_steps="${arg#*=}" ;;
    *) echo "unknown option ${arg}" >&2; exit 2 ;;
  esac
done

deploy/install_deps.sh
bazel build //server/... //worker/... >&2
dataset=synthetic-images
[[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]] && dataset=fashion-mnist
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/ps-compression-XXXXXX")
echo "MLP 784-256-128-10 on ${dataset}, 2 servers, 2 workers, BSP, ${optimizer}, ${epochs} epochs of batch ${batch_size}, device ${device}, seeds ${seeds}, ${warmup_steps} warm-up steps; logs in ${run_dir}"

for seed in ${seeds}; do
  for codec in ${codecs}; do
    name="${codec//:/-}-seed${seed}"
    deploy/local_cluster.sh --servers=2 --workers=2 --run_dir="${run_dir}/${name}" -- \
      --workers=2 --model=mlp --hidden=256,128 --dataset="${dataset}" --consistency=bsp \
      --optimizer="${optimizer}" --epochs="${epochs}" --batch_size="${batch_size}" \
      --lr_decay=0.85 --cpu_threads=1 --device="${device}" --seed="${seed}" --log_every_steps=0 \
      --compression="${codec}" --compression_warmup_steps="${warmup_steps}" --metrics_out="${run_dir}/${name}-{rank}.jsonl" \
      >"${run_dir}/${name}.log" 2>&1 ||
      { echo "${codec} seed ${seed}: the run failed; see ${run_dir}/${name}.log" >&2; exit 1; }
    echo "${codec} seed ${seed}: test accuracy $(python3 -c 'import json, sys
print([json.loads(l) for l in open(sys.argv[1])][-1]["test_accuracy"])' "${run_dir}/${name}-0.jsonl")"
  done
done

python3 - "${run_dir}" "${seeds}" ${codecs} <<'PY'
import json, statistics, sys
run_dir, seeds, codecs = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
def final(codec, seed):
    name = f"{codec.replace(':', '-')}-seed{seed}"
    records = [json.loads(line) for line in open(f"{run_dir}/{name}-0.jsonl")]
    epochs = [r["epoch_seconds"] for r in records if r["event"] == "epoch"]
    result = [r for r in records if r["event"] == "final"][-1]
    result["mean_epoch_seconds"] = sum(epochs) / len(epochs)
    return result
print(f"{'codec':<11} {'accuracy':>8} {'spread':>7} {'vs none':>8} {'pushed/step':>12} "
      f"{'dense/step':>11} {'ratio':>7} {'s/epoch':>8}")
baseline = None
for codec in codecs:
    runs = [final(codec, seed) for seed in seeds]
    accuracies = [run["test_accuracy"] for run in runs]
    accuracy = statistics.mean(accuracies)
    spread = max(accuracies) - min(accuracies)
    if baseline is None:
        baseline = accuracy
    run = runs[0]
    steps = run["bytes_pushed"] / run["bytes_pushed_per_step"]
    print(f"{codec:<11} {accuracy:8.4f} {spread:7.4f} {100 * (accuracy - baseline):+7.2f}p "
          f"{run['bytes_pushed_per_step'] / 1e3:9.1f} KB "
          f"{run['dense_equivalent_bytes_pushed'] / steps / 1e3:8.1f} KB "
          f"{run['push_compression_ratio']:6.1f}x "
          f"{statistics.mean(r['mean_epoch_seconds'] for r in runs):8.2f}")
print("accuracy: rank 0's final test accuracy (under BSP both ranks read the same model), mean over"
      " the seeds; spread: max - min; vs none: points against the uncompressed mean")
PY
