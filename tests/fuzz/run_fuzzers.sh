#!/usr/bin/env bash
# Builds every libFuzzer target of tests/fuzz with --config=fuzz (clang-14, libFuzzer, ASan) in an
# output base of its own and fuzzes each for SECONDS (default 60), starting from its committed
# seed corpus. New inputs go to a scratch directory (printed), not into the repository; a crash
# leaves its input there and makes this script exit non-zero. TARGETs (e.g. idx_fuzzer) limit the
# run to those; each fuzzer runs alone, in one process.
# Usage: tests/fuzz/run_fuzzers.sh [SECONDS [TARGET...]]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
shift || true
only=("$@")
deploy/install_deps.sh >&2
output_base="$(bazel info output_base)-fuzz"
bazel --output_base="${output_base}" build --config=fuzz //tests/fuzz:all >&2
bin="$(bazel --output_base="${output_base}" info --config=fuzz bazel-bin)/tests/fuzz"
scratch="$(mktemp -d /tmp/ps-fuzz.XXXXXX)"
status=0
for corpus in tests/fuzz/corpus/*/; do
  target="$(basename "${corpus}")_fuzzer"
  if [[ ${#only[@]} -gt 0 && ! " ${only[*]} " =~ " ${target} " ]]; then continue; fi
  mkdir -p "${scratch}/${target}"
  echo "== ${target}: ${seconds} s from $(ls "${corpus}" | wc -l) seeds (new inputs: ${scratch}/${target})"
  log="${scratch}/${target}.log"
  if ! (cd "${scratch}/${target}" &&
        "${bin}/${target}" -max_total_time="${seconds}" -print_final_stats=1 \
          "${scratch}/${target}" "${OLDPWD}/${corpus}" >"${log}" 2>&1); then
    status=1
    tail -n 30 "${log}"
  fi
  # The final coverage line and libFuzzer's stats; the whole output stays in ${log}.
  grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
    "${log}" || true
  if ls "${scratch}/${target}"/crash-* >/dev/null 2>&1; then
    echo "${target}: CRASH, inputs in ${scratch}/${target}" >&2
    status=1
  fi
done
bazel --output_base="${output_base}" shutdown >/dev/null 2>&1 || true
exit "${status}"
