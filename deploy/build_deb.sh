#!/usr/bin/env bash
# Builds the Debian package paramserver_VERSION_ARCH.deb (e.g. paramserver_0.1.0_amd64.deb) from
# this repository: the three daemons and psctl, built with Bazel, the systemd units, example
# configuration and documentation. Install it with `sudo apt install ./paramserver_*.deb`
# (deploy/systemd/README.md).
#
# Usage: deploy/build_deb.sh [--output DIR] [--cpu-only | --binaries DIR] [--help]
#   --output DIR    where the .deb goes (default: the current directory)
#   --cpu-only      build with --config=cpu. Where the CUDA toolkit is installed, the default
#                   build's ps_worker loads cudart and cuBLAS from it, and so runs only on hosts
#                   that have the toolkit at the same path; this one runs anywhere, on the CPU.
#   --binaries DIR  package ps_coordinator, ps_server, ps_worker and psctl from DIR instead of
#                   building them (the Bazel test uses this: Bazel cannot run inside a test)
#
# The version is the one line of VERSION at the repository root. Depends comes from
# dpkg-shlibdeps, which maps each shared library the binaries load to the Debian package that
# ships it. Needs dpkg-dev (dpkg-shlibdeps) and binutils (strip); not root.
set -euo pipefail

# The comment above, without its "# "; --help: status 0, a usage error: 2.
usage() {
  awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
  exit "${1:-0}"
}
die() {
  echo "build_deb.sh: $*" >&2
  exit 1
}

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
output_dir="${PWD}"
binaries_dir=""
cpu_only=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --output) [[ $# -ge 2 ]] || die "--output needs a directory"; output_dir="$2"; shift ;;
    --output=*) output_dir="${1#--output=}" ;;
    --binaries) [[ $# -ge 2 ]] || die "--binaries needs a directory"; binaries_dir="$2"; shift ;;
    --binaries=*) binaries_dir="${1#--binaries=}" ;;
    --cpu-only) cpu_only=true ;;
    -h | --help) usage 0 ;;
    *) echo "build_deb.sh: unknown argument $1" >&2; usage 2 >&2 ;;
  esac
  shift
done
if [[ -n "${binaries_dir}" && "${cpu_only}" == true ]]; then
  die "--cpu-only builds the binaries; --binaries takes them ready-made: give one of the two"
fi
for tool in dpkg-deb dpkg-shlibdeps strip ldd; do
  command -v "${tool}" >/dev/null ||
    die "${tool} not found (dpkg-shlibdeps is in dpkg-dev, strip in binutils;" \
      "deploy/install_deps.sh installs them)"
done

# The package's version lives in one file, VERSION, rather than in `git describe`: the repository
# has no tags, so describe gives a bare commit hash, which is not a Debian version (those start
# with a digit and sort); and a copy without .git (a source tarball, the Bazel test's runfiles)
# still knows its version.
version="$(tr -d '[:space:]' <"${repo_root}/VERSION")" || die "cannot read ${repo_root}/VERSION"
[[ "${version}" =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] ||
  die "VERSION holds '${version}', not a Debian version (a digit, then letters, digits and .+~-)"
architecture="$(dpkg --print-architecture)"

# What the package installs as /usr/bin/NAME, by Bazel target.
targets=(
  //server/coordinator:ps_coordinator
  //server:ps_server
  //worker:ps_worker
  //tools/psctl:psctl
)

# Prints the path of each target's binary, one a line, in the order of `targets`.
locate_binaries() {
  local target path bazel_bin
  if [[ -n "${binaries_dir}" ]]; then
    for target in "${targets[@]}"; do
      path="${binaries_dir}/${target##*:}"
      [[ -x "${path}" ]] || die "--binaries ${binaries_dir}: no executable ${target##*:} there"
      echo "${path}"
    done
    return
  fi
  # .bazelrc makes every build -c opt; the CUDA toolkit is detected by the build itself.
  local bazel_flags=()
  if [[ "${cpu_only}" == true ]]; then bazel_flags+=(--config=cpu); fi
  command -v bazel >/dev/null || die "bazel not found (deploy/install_deps.sh installs it)"
  (cd "${repo_root}" && bazel build "${bazel_flags[@]}" "${targets[@]}" >&2) ||
    die "bazel build failed"
  bazel_bin="$(cd "${repo_root}" && bazel info "${bazel_flags[@]}" bazel-bin 2>/dev/null)" ||
    die "bazel info bazel-bin failed"
  for target in "${targets[@]}"; do
    # //server/coordinator:ps_coordinator -> server/coordinator/ps_coordinator
    path="${target#//}"
    echo "${bazel_bin}/${path%%:*}/${path##*:}"
  done
}

umask 022
work_dir="$(mktemp -d)"
trap 'rm -rf "${work_dir}"' EXIT
# dpkg-shlibdeps expects the package's files in debian/PACKAGE/ beside a debian/control.
package_root="${work_dir}/debian/paramserver"
debian_dir="${repo_root}/deploy/debian"
systemd_dir="${repo_root}/deploy/systemd"
doc_dir="${package_root}/usr/share/doc/paramserver"
unit_dir="${package_root}/lib/systemd/system"

# Files, each with the mode dpkg installs it with; owners become root with --root-owner-group.
stage_files() {
  local binary unit binaries=()
  install -d -m 0755 "${package_root}" "${package_root}/usr/bin" "${unit_dir}" \
    "${package_root}/etc/paramserver" "${doc_dir}/examples" "${package_root}/DEBIAN"
  # Through a file rather than <(...), so that a failed build stops the script here.
  locate_binaries >"${work_dir}/binaries" || exit 1
  mapfile -t binaries <"${work_dir}/binaries"
  # Stripped, as Debian ships binaries (Policy 10.1): the daemons do not symbolize their own
  # stacks, and gdb wants a build with -g anyway.
  for binary in "${binaries[@]}"; do
    install -m 0755 -s "${binary}" "${package_root}/usr/bin/"
  done
  install -m 0755 "${repo_root}/deploy/make_certs.sh" \
    "${package_root}/usr/bin/paramserver-make-certs"

  # /lib, not /usr/lib: where Debian 12's own packages put units (the same directory once /usr is
  # merged). The units' ExecStart= lines name /usr/bin/.
  install -m 0644 "${systemd_dir}"/*.service "${unit_dir}/"
  for unit in ps-coordinator.service ps-server@.service ps-worker@.service; do
    install -D -m 0644 "${debian_dir}/paramserver-group.conf" \
      "${unit_dir}/${unit}.d/paramserver-group.conf"
  done
  # Only the daemons that write checkpoints.
  for unit in ps-coordinator.service ps-server@.service; do
    install -D -m 0644 "${debian_dir}/shared-checkpoints.conf" \
      "${unit_dir}/${unit}.d/shared-checkpoints.conf"
  done

  # Configuration every host may use goes to /etc/paramserver/ (conffiles: an upgrade keeps the
  # administrator's edits). Server and worker files are per instance (server-N.env), so their
  # examples go to the documentation, to be copied once per instance.
  install -m 0644 "${systemd_dir}/env/common.env" "${systemd_dir}/env/coordinator.env" \
    "${package_root}/etc/paramserver/"
  install -m 0644 "${systemd_dir}/env/server.env" "${systemd_dir}/env/worker.env" \
    "${doc_dir}/examples/"
  # Uncompressed, unlike most of /usr/share/doc: the units' Documentation= names systemd.md.
  install -m 0644 "${repo_root}/README.md" "${doc_dir}/README.md"
  install -m 0644 "${systemd_dir}/README.md" "${doc_dir}/systemd.md"
  install -m 0644 "${debian_dir}/copyright" "${doc_dir}/copyright"
}

# Writes debian/shlibs.local for the libraries the binaries load from outside Debian's library
# directories, and prints a paragraph for the Description naming them ("" when there are none).
# Debian packages install nothing under /usr/local or /opt (Policy 9.1), so no Depends can provide
# those libraries (the CUDA toolkit's cudart and cuBLAS, for one); shlibs.local entries without a
# dependency tell dpkg-shlibdeps so, where it would otherwise stop.
outside_debian_libraries() {
  local binary line soname path paths outside=""
  : >"${work_dir}/debian/shlibs.local"
  for binary in "${package_root}"/usr/bin/ps*; do
    paths=""
    while read -r line; do
      if [[ "${line}" == *"not found"* ]]; then
        die "$(basename "${binary}") needs ${line%% *}, which is not installed here"
      fi
      [[ "${line}" =~ ^([^[:space:]]+)\ =\>\ (/[^[:space:]]+) ]] || continue
      soname="${BASH_REMATCH[1]}"
      path="${BASH_REMATCH[2]}"
      case "${path}" in /lib/* | /lib64/* | /usr/lib/* | /usr/lib64/*) continue ;; esac
      # libcudart.so.13 -> "libcudart 13"; libfoo-1.2.so -> "libfoo 1.2" (deb-shlibs(5)).
      if [[ "${soname}" =~ ^(.+)\.so\.(.+)$ || "${soname}" =~ ^(.+)-([0-9.]+)\.so$ ]]; then
        echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}" >>"${work_dir}/debian/shlibs.local"
      else
        die "$(basename "${binary}") loads ${path}, outside Debian, with an unversioned name"
      fi
      paths+="${paths:+, }${path}"
    done < <(ldd "${binary}")
    if [[ -n "${paths}" ]]; then outside+="${outside:+; }$(basename "${binary}") loads ${paths}"; fi
  done
  sort -u -o "${work_dir}/debian/shlibs.local" "${work_dir}/debian/shlibs.local"
  if [[ -n "${outside}" ]]; then
    echo "build_deb.sh: note: not in Depends, from outside Debian: ${outside}" >&2
    echo "This build also loads libraries that no Debian package provides, so Depends cannot" \
      "name them; hosts that run these programs need them at the same paths: ${outside}."
  fi
}

# The Depends field: dpkg-shlibdeps' packages of the shared libraries, plus adduser for postinst's
# addgroup and procps for the units' ExecReload=/bin/kill.
compute_depends() {
  local shlibs
  printf 'Source: paramserver\n\nPackage: paramserver\nArchitecture: any\n' \
    >"${work_dir}/debian/control"
  # --warnings=1 keeps the "symbol not found" warnings; it drops "could avoid a useless
  # dependency", which is about bazel/system linking every library pkg-config names.
  shlibs="$(cd "${work_dir}" && dpkg-shlibdeps -O --warnings=1 debian/paramserver/usr/bin/ps*)" ||
    die "dpkg-shlibdeps failed (above)"
  shlibs="${shlibs#shlibs:Depends=}"
  [[ -n "${shlibs}" ]] || die "dpkg-shlibdeps found no library packages"
  echo "${shlibs}, adduser, procps"
}

# DEBIAN/: control from deploy/debian/control's placeholders, conffiles, maintainer scripts.
write_control() {
  local outside_note="$1" depends="$2" control installed_size
  installed_size="$(du -sk --exclude=DEBIAN "${package_root}" | cut -f1)"
  control="$(<"${debian_dir}/control")"
  # Literal replacements: a '&' in a value must not stand for the match (bash 5.2).
  shopt -u patsub_replacement 2>/dev/null || true
  control="${control//@VERSION@/${version}}"
  control="${control//@ARCHITECTURE@/${architecture}}"
  control="${control//@INSTALLED_SIZE@/${installed_size}}"
  control="${control//@DEPENDS@/${depends}}"
  local newline=$'\n' paragraph
  if [[ -n "${outside_note}" ]]; then
    # A new paragraph of the long description: lines start with a space, " ." is an empty line.
    paragraph="$(fold -s -w 75 <<<"${outside_note}" | sed 's/ *$//; s/^/ /')"
    control="${control//@OUTSIDE_DEBIAN@/ .${newline}${paragraph}}"
  else
    control="${control//${newline}@OUTSIDE_DEBIAN@/}"
  fi
  if grep -q '@[A-Z_]*@' <<<"${control}"; then die "deploy/debian/control: unknown placeholder"; fi
  printf '%s\n' "${control}" >"${package_root}/DEBIAN/control"
  # Every file under /etc is a conffile, as debhelper makes them.
  (cd "${package_root}" && find etc -type f | sort | sed 's#^#/#') \
    >"${package_root}/DEBIAN/conffiles"
  install -m 0755 "${debian_dir}/postinst" "${debian_dir}/prerm" "${debian_dir}/postrm" \
    "${package_root}/DEBIAN/"
}

stage_files
outside_note="$(outside_debian_libraries)"
depends="$(compute_depends)"
write_control "${outside_note}" "${depends}"

mkdir -p "${output_dir}"
deb="$(cd "${output_dir}" && pwd)/paramserver_${version}_${architecture}.deb"
dpkg-deb --build --root-owner-group "${package_root}" "${deb}" >/dev/null ||
  die "dpkg-deb --build failed"
echo "${deb} ($(du -h "${deb}" | cut -f1))"
echo "Depends: ${depends}"
