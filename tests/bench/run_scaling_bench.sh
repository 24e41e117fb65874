#!/usr/bin/env bash
# Installs what is missing (gnuplot included), builds and runs the scaling benchmark (real
# ps_server and coordinator processes on localhost; see tests/bench/scaling_bench.cc), then draws
# its curves as one PNG. The tables go to stdout, progress to stderr, the CSV and JSON files and
# the PNG to --out (default: a new directory under $TMPDIR); the PNG's path is the last line on
# stdout. Arguments go to the program, e.g. --quick (a smoke run of about 10 s) or
# --curves=dense_size,sparse_keys --rounds=3 --max_rows=1000000. The default run took about
# 2 minutes on the 2-core machine; its server grows to about 1.7 GB for the 10^7 sparse rows
# (--max_rows caps that).
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/install_deps.sh
bazel build //tests/bench:scaling_bench >&2

out_dir=""
for argument in "$@"; do
  [[ "${argument}" == --out=* ]] && out_dir="${argument#--out=}"
done
if [[ -z "${out_dir}" ]]; then
  out_dir=$(mktemp -d "${TMPDIR:-/tmp}/scaling-bench-XXXXXX")
  set -- "$@" "--out=${out_dir}"
fi
bazel-bin/tests/bench/scaling_bench "$@"
gnuplot -e "dir='${out_dir}'; out='${out_dir}/scaling.png'" tests/bench/plot_scaling.gp
echo
echo "plot: ${out_dir}/scaling.png"
