#!/usr/bin/env bash
# Runs every test from a fresh clone: installs missing Debian packages, checks that the CPU-only
# variant builds where CUDA is present, builds and runs the whole suite, and ends with the line
# "N passed, M failed" counted over test cases. Exits non-zero on any failure or build error.
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

# The default build includes the CUDA variant when the toolkit is present; the CPU-only variant
# must build on such machines too, so check it explicitly there.
cuda_home="${CUDA_HOME:-/usr/local/cuda}"
if [[ -x "${cuda_home}/bin/nvcc" ]]; then
  echo "CUDA toolkit found at ${cuda_home}: checking that the CPU-only variant builds (--config=cpu)"
  bazel build "${bazel_flags[@]}" --config=cpu //... || fail "the CPU-only build failed"
fi

# Lock annotations checked by clang (--config=tsa), in an output base of its own so that the
# other compiler's toolchain does not displace the main build's. The packages are named rather
# than //... (which would wander into the main build's bazel-* links, foreign to this output
# base), and this build makes no links of its own.
main_output_base=$(bazel info output_base 2>/dev/null) || fail "bazel info failed"
bazel --output_base="${main_output_base}-tsa" build "${bazel_flags[@]}" --config=tsa \
  --symlink_prefix=/ //:all //bazel/... //common/... //deploy/... //proto/... //server/... \
  //tests/... //tools/... //worker/... ||
  fail "the thread-safety analysis build (--config=tsa) failed"
bazel --output_base="${main_output_base}-tsa" shutdown >/dev/null 2>&1

# etcd, chromium and Prometheus were installed above: their tests must run, not skip
# (tests/harness/test_etcd.h, tests/harness/headless_chromium.h, tests/harness/test_prometheus.h).
bazel test "${bazel_flags[@]}" --test_env=PS_REQUIRE_ETCD=1 --test_env=PS_REQUIRE_CHROMIUM=1 \
  --test_env=PS_REQUIRE_PROMETHEUS=1 //...
bazel_status=$?

mapfile -t targets < <(bazel query 'tests(//...)' 2>/dev/null)
[[ ${#targets[@]} -gt 0 ]] || fail "bazel query found no tests"
python3 tests/count_test_cases.py "$(bazel info bazel-testlogs 2>/dev/null)" "${targets[@]}"
count_status=$?

if [[ ${bazel_status} -ne 0 && ${count_status} -eq 0 ]]; then
  # Bazel failed although every recorded test case passed: a build error outside the tests.
  echo "bazel test exited with status ${bazel_status}"
  echo "0 passed, 1 failed"
  exit 1
fi
exit ${count_status}
