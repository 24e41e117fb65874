#!/usr/bin/env bash
# Gradient compression: accuracy and pushed bytes of every codec against uncompressed pushes.
# Each codec trains the same job, the demo's (MLP 784-256-128-10 on Fashion-MNIST or its
# synthetic stand-in, 2 servers, 2 workers, BSP, Adam with lr decay 0.85 per epoch), and the
# table compares test accuracy and bytes on the wire per step with the dense run.
# Options: --epochs=N (default 20), --batch_size=N (default 64), --device=auto|cpu|cuda,
#          --codecs="none fp16 int8 topk:0.01 onebit" (none first: the others compare with it).
set -euo pipefail
cd "$(dirname "$0")/../.."

epochs=20
batch_size=64
device=auto
codecs="none fp16 int8 topk:0.01 onebit"
for arg in "$@"; do
  case "${arg}" in
    --epochs=*) epochs="${arg#*=}" ;;
    --batch_size=*) batch_size="${arg#*=}" ;;
    --device=*) device="${arg#*=}" ;;
    --codecs=*) codecs="${arg#*=}" ;;
    *) echo "unknown option ${arg}" >&2; exit 2 ;;
  esac
done

deploy/install_deps.sh
bazel build //server/... //worker/... >&2
dataset=synthetic-images
[[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]] && dataset=fashion-mnist
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/ps-compression-XXXXXX")
echo "MLP 784-256-128-10 on ${dataset}, 2 servers, 2 workers, BSP, ${epochs} epochs of batch ${batch_size}, device ${device}; logs in ${run_dir}"

for codec in ${codecs}; do
  name=${codec//:/-}
  deploy/local_cluster.sh --servers=2 --workers=2 --run_dir="${run_dir}/${name}" -- \
    --workers=2 --model=mlp --hidden=256,128 --dataset="${dataset}" --consistency=bsp \
    --epochs="${epochs}" --batch_size="${batch_size}" --lr_decay=0.85 --cpu_threads=1 \
    --device="${device}" --log_every_steps=0 --compression="${codec}" \
    --metrics_out="${run_dir}/${name}-{rank}.jsonl" >"${run_dir}/${name}.log" 2>&1 ||
    { echo "${codec}: the run failed; see ${run_dir}/${name}.log" >&2; exit 1; }
done

python3 - "${run_dir}" ${codecs} <<'PY'
import json, sys
run_dir, codecs = sys.argv[1], sys.argv[2:]
def final(codec, rank):
    name = codec.replace(":", "-")
    records = [json.loads(line) for line in open(f"{run_dir}/{name}-{rank}.jsonl")]
    epochs = [r["epoch_seconds"] for r in records if r["event"] == "epoch"]
    result = [r for r in records if r["event"] == "final"][-1]
    result["mean_epoch_seconds"] = sum(epochs) / len(epochs)
    return result
print(f"{'codec':<11} {'accuracy':>8} {'vs none':>8} {'pushed/step':>12} {'dense/step':>11} "
      f"{'ratio':>7} {'s/epoch':>8}")
baseline = None
for codec in codecs:
    ranks = [final(codec, rank) for rank in (0, 1)]
    accuracy = ranks[0]["test_accuracy"]
    if baseline is None:
        baseline = accuracy
    steps = ranks[0]["bytes_pushed"] / ranks[0]["bytes_pushed_per_step"]
    dense_per_step = ranks[0]["dense_equivalent_bytes_pushed"] / steps
    print(f"{codec:<11} {accuracy:8.4f} {100 * (accuracy - baseline):+7.2f}p "
          f"{ranks[0]['bytes_pushed_per_step'] / 1e3:9.1f} KB {dense_per_step / 1e3:8.1f} KB "
          f"{ranks[0]['push_compression_ratio']:6.1f}x {ranks[0]['mean_epoch_seconds']:8.2f}")
    if abs(ranks[1]["test_accuracy"] - accuracy) > 1e-9:
        print(f"{'':<11} (rank 1: {ranks[1]['test_accuracy']:.4f})")
PY
