#!/usr/bin/env bash
# Checks the systemd units in deploy/systemd/ with `systemd-analyze verify`, which parses them the
# way systemd does: an unknown section or directive, a misspelt key or an unparsable value fails.
# Then rates each unit's sandbox with `systemd-analyze security --offline=true` and fails when its
# overall exposure is above the unit's ceiling below, so a lost hardening directive is noticed.
#
# Usage: systemd_units_test.sh UNIT_FILE...
# Under Bazel the unit files come from //deploy:systemd_units; by hand:
#   tests/deploy/systemd_units_test.sh deploy/systemd/*.service
#
# Needs systemd 250 or later installed (deploy/install_deps.sh installs it; `security --offline`
# came in 250), not systemd running as PID 1, and not root. Exits non-zero, naming each unit that
# failed and what systemd said about it.
set -euo pipefail

if [[ $# -eq 0 ]]; then
  echo "usage: $0 UNIT_FILE..." >&2
  exit 2
fi
if ! command -v systemd-analyze >/dev/null; then
  echo "FAIL: systemd-analyze not found (install the systemd package: deploy/install_deps.sh)" >&2
  exit 1
fi

# Bazel provides TEST_TMPDIR and cleans it; by hand, use a temporary directory of our own.
if [[ -n "${TEST_TMPDIR:-}" ]]; then
  work_dir="$(mktemp -d "${TEST_TMPDIR}/systemd_units.XXXXXX")"
else
  work_dir="$(mktemp -d "${TMPDIR:-/tmp}/systemd_units.XXXXXX")"
  trap 'rm -rf "${work_dir}"' EXIT
fi
placeholder_bin="${work_dir}/bin"
mkdir -p "${placeholder_bin}" "${work_dir}/units"

# `verify` insists that every ExecStart= binary exists and is executable, and a test machine has no
# /usr/bin/ps_* (the Debian package installs them; deb_package_test.sh verifies the units against
# those). So each unit is verified from a copy whose /usr/bin/ points at placeholder executables;
# nothing else in the unit changes. The copy keeps the file name, since systemd derives the unit's
# name and kind (e.g. the template ps-server@.service) from it.
stage_unit() {
  local unit="$1" staged="$2" binary
  while read -r binary; do
    printf '#!/bin/sh\nexit 0\n' >"${placeholder_bin}/${binary}"
    chmod +x "${placeholder_bin}/${binary}"
  done < <(grep -o '/usr/bin/[A-Za-z0-9_.-]*' "${unit}" | sed 's#^/usr/bin/##' | sort -u)
  sed "s#/usr/bin/#${placeholder_bin}/#g" "${unit}" >"${staged}"
}

# The highest overall exposure `systemd-analyze security` may rate each unit (0.0 to 10.0, lower is
# better; "Hardening" in deploy/systemd/README.md). Measured with systemd 252: coordinator and
# server 1.1, worker 1.4 (it keeps GPU access); each ceiling leaves under 0.5 for other systemd
# versions' ratings. A unit without a ceiling here fails: add one with the unit.
declare -A max_exposure=(
  [ps-coordinator.service]=1.5
  [ps-server@.service]=1.5
  [ps-worker@.service]=2.0
)

# Prints its input indented, under the line that introduces it.
indent() {
  local line
  while IFS= read -r line; do echo "    ${line}"; done
}

# --recursive-errors=no: exit non-zero on any warning about the unit itself (the default "yes" only
# prints unknown keys and still exits 0), but not on warnings about the host's own units that it
# pulls in (multi-user.target, network-online.target), which are not ours to fix.
# --man=no: Documentation= must not depend on which man pages the host has.
verify_unit() {
  local staged="$1" name ours output status=0
  name="$(basename "${staged}")"
  # Messages about a template name its test instance (ps-server@test_instance.service), so match
  # on the part before the "@".
  ours="${name}"
  if [[ "${name}" == *@* ]]; then ours="${name%%@*}@"; fi
  output="$(cd "${work_dir}/units" && systemd-analyze verify --man=no --recursive-errors=no \
    "./${name}" 2>&1)" || status=$?
  if [[ ${status} -ne 0 ]] || grep -qF "${ours}" <<<"${output}"; then
    echo "FAIL: ${name}: systemd-analyze verify exited with status ${status}:"
    indent <<<"${output}"
    return 1
  fi
  if [[ -n "${output}" ]]; then
    # Only messages about other (host) units; shown so that a reader can judge them.
    echo "note: ${name}: systemd-analyze printed, about other units:"
    indent <<<"${output}"
  fi
  echo "PASS: ${name}"
}

# Rates the staged unit's sandbox and compares the overall exposure with the unit's ceiling.
check_exposure() {
  local staged="$1" name output level max status=0
  name="$(basename "${staged}")"
  max="${max_exposure[${name}]:-}"
  if [[ -z "${max}" ]]; then
    echo "FAIL: ${name}: no exposure ceiling in max_exposure (tests/deploy/systemd_units_test.sh)"
    return 1
  fi
  output="$(cd "${work_dir}/units" && systemd-analyze security --offline=true "./${name}" 2>&1)" ||
    status=$?
  # "→ Overall exposure level for ps-coordinator.service: 1.1 OK 🙂" ("->" and no emoji outside
  # a UTF-8 locale); a template is rated as an instance, e.g. ps-server@i.service.
  level="$(grep -oE 'Overall exposure level for [^:]+: [0-9]+\.[0-9]+' <<<"${output}" |
    awk '{print $NF}' | tail -n 1)"
  if [[ ${status} -ne 0 || -z "${level}" ]]; then
    echo "FAIL: ${name}: systemd-analyze security exited with status ${status}, no exposure level:"
    indent <<<"${output}"
    return 1
  fi
  if ! awk -v level="${level}" -v max="${max}" 'BEGIN { exit !(level <= max) }'; then
    echo "FAIL: ${name}: exposure ${level} is above its ceiling ${max}; what is still exposed:"
    # Marked "✗", or "-" outside a UTF-8 locale.
    grep -E '^(✗|- )' <<<"${output}" | indent || true
    return 1
  fi
  echo "PASS: ${name}: exposure ${level} (ceiling ${max})"
}

# Two JUnit test cases per unit (verify, exposure).
# shellcheck source=tests/deploy/junit.sh
source "$(dirname "$0")/junit.sh"
for unit in "$@"; do
  name="$(basename "${unit}")"
  if [[ ! -f "${unit}" ]]; then
    echo "FAIL: ${unit}: no such file"
    junit_case systemd_units_test "${name} verify" "no such file"
    junit_case systemd_units_test "${name} exposure" "no such file"
    continue
  fi
  stage_unit "${unit}" "${work_dir}/units/${name}"
  if verify_unit "${work_dir}/units/${name}"; then
    junit_case systemd_units_test "${name} verify"
  else
    junit_case systemd_units_test "${name} verify" "systemd-analyze verify failed"
  fi
  if check_exposure "${work_dir}/units/${name}"; then
    junit_case systemd_units_test "${name} exposure"
  else
    junit_case systemd_units_test "${name} exposure" "exposure above its ceiling, or not rated"
  fi
done
junit_write systemd_units_test

if [[ ${junit_failures} -ne 0 ]]; then
  echo "${junit_failures} of ${junit_count} check(s) of $# unit(s) failed"
  exit 1
fi
echo "all $# unit(s) verified and within their exposure ceilings"
