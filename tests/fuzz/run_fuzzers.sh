#!/usr/bin/env bash
# Builds every libFuzzer target of tests/fuzz with --config=fuzz (clang-14, libFuzzer, ASan) in an
# output base of its own and fuzzes each for SECONDS (default 60), starting from its committed
# seed corpus. New inputs go to a scratch directory (printed), not into the repository; a crash
# leaves its input there and makes this script exit non-zero.
# Usage: tests/fuzz/run_fuzzers.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
deploy/install_deps.sh >&2
output_base="$(bazel info output_base)-fuzz"
bazel --output_base="${output_base}" build --config=fuzz //tests/fuzz:all >&2
bin="$(bazel --output_base="${output_base}" info --config=fuzz bazel-bin)/tests/fuzz"
scratch="$(mktemp -d /tmp/ps-fuzz.XXXXXX)"
status=0
for corpus in tests/fuzz/corpus/*/; do
  target="$(basename "${corpus}")_fuzzer"
  mkdir -p "${scratch}/${target}"
  echo "== ${target}: ${seconds} s from $(ls "${corpus}" | wc -l) seeds (new inputs: ${scratch}/${target})"
  if ! (cd "${scratch}/${target}" &&
        "${bin}/${target}" -max_total_time="${seconds}" -print_final_stats=1 \
          "${scratch}/${target}" "${OLDPWD}/${corpus}" 2>&1 | tail -15); then
    status=1
  fi
  if ls "${scratch}/${target}"/crash-* >/dev/null 2>&1; then
    echo "${target}: CRASH, inputs in ${scratch}/${target}" >&2
    status=1
  fi
done
bazel --output_base="${output_base}" shutdown >/dev/null 2>&1 || true
exit "${status}"
