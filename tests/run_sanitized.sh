#!/usr/bin/env bash
# Runs the whole test suite under AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer
# (--config=asan: clang-14, in an output base of its own) and ends with the line
# "N passed, M failed" counted over test cases. The daemons integration tests start are sanitized
# too; a report in one fails its test (tests/harness/daemon_process.h). Exits non-zero on any
# failure or build error. Not part of tests/run_tests.sh: on two cores it takes about half an hour.
# Usage: tests/run_sanitized.sh [BAZEL_TEST_FLAGS...]   e.g. --test_filter=... or a --config
set -uo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "$1" >&2
  echo "0 passed, 1 failed"
  exit 1
}

deploy/install_deps.sh || fail "installing dependencies failed"

bazel_flags=()
if [[ "${CI:-}" == "true" ]]; then bazel_flags+=(--config=ci); fi
bazel_flags+=("$@")

# The packages are named rather than //... (which would wander into the main build's bazel-*
# links, foreign to this output base), and this build makes no links of its own.
packages=(//:all //bazel/... //common/... //deploy/... //proto/... //server/... //tests/...
  //tools/... //worker/...)
output_base="$(bazel info output_base 2>/dev/null)-asan" || fail "bazel info failed"
asan_bazel=(bazel --output_base="${output_base}")

# etcd was installed above: its tests must run, not skip (tests/harness/test_etcd.h).
"${asan_bazel[@]}" test --config=asan --symlink_prefix=/ --test_env=PS_REQUIRE_ETCD=1 \
  --test_env=PS_TEST_TIME_SCALE=3 \
  "${bazel_flags[@]}" "${packages[@]}"
bazel_status=$?

query="${packages[*]}"
mapfile -t targets < <("${asan_bazel[@]}" query "tests(${query// / + })" 2>/dev/null)
[[ ${#targets[@]} -gt 0 ]] || fail "bazel query found no tests"
testlogs="$("${asan_bazel[@]}" info --config=asan bazel-testlogs 2>/dev/null)"
python3 tests/count_test_cases.py "${testlogs}" "${targets[@]}"
count_status=$?
"${asan_bazel[@]}" shutdown >/dev/null 2>&1

if [[ ${bazel_status} -ne 0 && ${count_status} -eq 0 ]]; then
  echo "bazel test exited with status ${bazel_status}"
  echo "0 passed, 1 failed"
  exit 1
fi
exit ${count_status}
