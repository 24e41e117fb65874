#!/usr/bin/env bash
# Builds the Debian package with deploy/build_deb.sh from the Bazel-built binaries (--binaries:
# Bazel cannot run inside a test) and checks it without installing it: its control fields,
# conffiles and file list; then, unpacked into a scratch root, that systemd accepts the installed
# units with the installed binaries, that each installed program starts (its libraries resolve)
# and prints its usage, and that the maintainer scripts parse.
#
# Usage: deb_package_test.sh BUILD_DEB_SH PS_COORDINATOR PS_SERVER PS_WORKER PSCTL
# Under Bazel: //tests/deploy:deb_package_test. Needs dpkg-dev, binutils and systemd installed
# (deploy/install_deps.sh), not root; installs nothing, and removes what it made on exit.
set -euo pipefail

if [[ $# -ne 5 ]]; then
  echo "usage: $0 BUILD_DEB_SH PS_COORDINATOR PS_SERVER PS_WORKER PSCTL" >&2
  exit 2
fi
build_deb="$1"
shift
# shellcheck source=tests/deploy/junit.sh
source "$(dirname "$0")/junit.sh"

work_dir="$(mktemp -d "${TEST_TMPDIR:-${TMPDIR:-/tmp}}/deb_package.XXXXXX")"
trap 'rm -rf "${work_dir}"' EXIT
mkdir -p "${work_dir}/binaries" "${work_dir}/out" "${work_dir}/root" "${work_dir}/control"
for binary in "$@"; do
  ln -s "$(realpath "${binary}")" "${work_dir}/binaries/$(basename "${binary}")"
done

version="$(tr -d '[:space:]' <"$(dirname "${build_deb}")/../VERSION")"
architecture="$(dpkg --print-architecture)"
deb="${work_dir}/out/paramserver_${version}_${architecture}.deb"

# What the package must install, besides directories.
expected_files=(
  /usr/bin/ps_coordinator
  /usr/bin/ps_server
  /usr/bin/ps_worker
  /usr/bin/psctl
  /usr/bin/paramserver-make-certs
  /lib/systemd/system/ps-coordinator.service
  /lib/systemd/system/ps-server@.service
  /lib/systemd/system/ps-worker@.service
  /lib/systemd/system/ps-coordinator.service.d/paramserver-group.conf
  /lib/systemd/system/ps-server@.service.d/paramserver-group.conf
  /lib/systemd/system/ps-worker@.service.d/paramserver-group.conf
  /lib/systemd/system/ps-coordinator.service.d/shared-checkpoints.conf
  /lib/systemd/system/ps-server@.service.d/shared-checkpoints.conf
  /etc/paramserver/common.env
  /etc/paramserver/coordinator.env
  /usr/share/doc/paramserver/README.md
  /usr/share/doc/paramserver/systemd.md
  /usr/share/doc/paramserver/copyright
  /usr/share/doc/paramserver/examples/server.env
  /usr/share/doc/paramserver/examples/worker.env
)
expected_conffiles=(/etc/paramserver/common.env /etc/paramserver/coordinator.env)
units=(ps-coordinator.service ps-server@.service ps-worker@.service)
programs=(ps_coordinator ps_server ps_worker psctl paramserver-make-certs)

# Each check_* prints what is wrong and returns non-zero; `check` records it as one test case.
check() {
  local name="$1" output status=0
  shift
  output="$("$@" 2>&1)" || status=$?
  if [[ ${status} -eq 0 ]]; then
    echo "PASS: ${name}"
    junit_case deb_package_test "${name}"
  else
    echo "FAIL: ${name}"
    awk '{ print "    " $0 }' <<<"${output}"
    junit_case deb_package_test "${name}" "$(head -n 1 <<<"${output}")"
  fi
}

check_build() {
  # TMPDIR: its staging directory too stays in the scratch directory.
  TMPDIR="${work_dir}" bash "${build_deb}" --binaries "${work_dir}/binaries" \
    --output "${work_dir}/out" || { echo "build_deb.sh exited with status $?"; return 1; }
  [[ -f "${deb}" ]] ||
    { echo "no ${deb##*/} in the output directory:"; ls "${work_dir}/out"; return 1; }
}

check_control() {
  local field value failed=0 depends
  for field in Package:paramserver "Version:${version}" "Architecture:${architecture}"; do
    value="$(dpkg-deb --field "${deb}" "${field%%:*}")"
    if [[ "${value}" != "${field#*:}" ]]; then
      echo "${field%%:*} is '${value}', expected '${field#*:}'"
      failed=1
    fi
  done
  for field in Maintainer Description Installed-Size; do
    [[ -n "$(dpkg-deb --field "${deb}" "${field}")" ]] || { echo "no ${field}"; failed=1; }
  done
  # dpkg-shlibdeps' answer: the packages of the libraries the binaries link.
  depends="$(dpkg-deb --field "${deb}" Depends)"
  for field in 'libgrpc\+\+[0-9.]+ ' 'libprotobuf[0-9]+ ' 'libabsl[0-9]+ ' 'libc6 ' \
    'libtcmalloc-minimal4 ' 'libopenblas0' '(^|, )adduser(,|$)' '(^|, )procps(,|$)'; do
    grep -qE "${field}" <<<"${depends}" ||
      { echo "Depends lacks /${field}/: ${depends}"; failed=1; }
  done
  return "${failed}"
}

check_conffiles() {
  local listed expected
  listed="$(dpkg-deb --info "${deb}" conffiles | sort)"
  expected="$(printf '%s\n' "${expected_conffiles[@]}" | sort)"
  [[ "${listed}" == "${expected}" ]] ||
    { printf 'conffiles:\n%s\nexpected:\n%s\n' "${listed}" "${expected}"; return 1; }
}

# Every expected file is in the archive, owned by root, executables 0755 and the rest 0644.
check_contents() {
  local contents path mode failed=0
  contents="$(dpkg-deb --contents "${deb}")"
  if grep -v ' root/root ' <<<"${contents}"; then echo "^ not owned by root/root"; failed=1; fi
  for path in "${expected_files[@]}"; do
    mode="-rw-r--r--"
    if [[ "${path}" == /usr/bin/* ]]; then mode="-rwxr-xr-x"; fi
    grep -qE "^${mode} root/root +[0-9]+ [0-9-]+ [0-9:]+ \.${path}$" <<<"${contents}" ||
      { echo "no ${path} with mode ${mode}"; failed=1; }
  done
  return "${failed}"
}

check_unpack() {
  dpkg-deb -x "${deb}" "${work_dir}/root" && dpkg-deb -e "${deb}" "${work_dir}/control"
}

# `systemd-analyze verify --root=DIR` reads the units and their drop-ins from DIR/lib/systemd/system
# and checks that each command exists and is executable inside DIR: ExecStart= the package's own
# /usr/bin/ps_*, ExecReload= /bin/kill, which the package takes from procps (Depends), so a
# stand-in is put in the scratch root for it. Flags as in systemd_units_test.sh. Also the file that
# Documentation= names must be in the package.
check_unit() {
  local unit="$1" output status=0 documentation
  if [[ ! -e "${work_dir}/root/bin/kill" ]]; then
    mkdir -p "${work_dir}/root/bin"
    printf '#!/bin/sh\nexit 0\n' >"${work_dir}/root/bin/kill"
    chmod +x "${work_dir}/root/bin/kill"
  fi
  output="$(systemd-analyze verify --root="${work_dir}/root" --man=no --recursive-errors=no \
    "${unit}" 2>&1)" || status=$?
  if [[ ${status} -ne 0 ]] || grep -qF "${unit%%@*}" <<<"${output}"; then
    echo "systemd-analyze verify exited with status ${status}: ${output}"
    return 1
  fi
  documentation="$(sed -n 's#^Documentation=file:##p' \
    "${work_dir}/root/lib/systemd/system/${unit}")"
  [[ -n "${documentation}" && -f "${work_dir}/root${documentation}" ]] ||
    { echo "Documentation=file:${documentation} is not in the package"; return 1; }
}

# Runs from the scratch root with the host's libraries, as it would run installed: a missing
# library fails with status 127. absl's --help exits 1 after printing the usage (absl
# 20220623's HandleUsageFlags), so 0 and 1 pass and the text is checked instead.
check_program() {
  local program="$1" output status=0 expected
  output="$("${work_dir}/root/usr/bin/${program}" --help 2>&1)" || status=$?
  if [[ ${status} -gt 1 ]]; then
    echo "exited with status ${status}: $(head -n 3 <<<"${output}")"
    return 1
  fi
  expected="Usage: ${program} "
  if [[ "${program}" == ps* ]]; then expected="${program}: "; fi
  grep -qF -- "${expected}" <<<"${output}" ||
    { echo "no '${expected}' in its --help: $(head -n 3 <<<"${output}")"; return 1; }
}

check_maintainer_script() {
  local script="${work_dir}/control/$1"
  [[ -x "${script}" ]] || { echo "$1 is not executable"; return 1; }
  sh -n "${script}" || return 1
  if command -v shellcheck >/dev/null; then
    shellcheck --shell=sh "${script}" || return 1
  fi
}

check "build_deb.sh --binaries" check_build
if [[ -f "${deb}" ]]; then
  check "control fields" check_control
  check "conffiles" check_conffiles
  check "contents" check_contents
  check "dpkg-deb -x" check_unpack
  for unit in "${units[@]}"; do
    check "systemd-analyze verify ${unit}" check_unit "${unit}"
  done
  for program in "${programs[@]}"; do
    check "${program} --help" check_program "${program}"
  done
  for script in postinst prerm postrm; do
    check "${script} parses" check_maintainer_script "${script}"
  done
fi
junit_write deb_package_test

if [[ ${junit_failures} -ne 0 ]]; then
  echo "${junit_failures} of ${junit_count} check(s) failed"
  exit 1
fi
echo "all ${junit_count} checks passed"
