#!/usr/bin/env bash
# Installs the Debian packages this project builds and runs with. Idempotent: prints nothing and
# touches nothing when every package is already installed.
# Usage: deploy/install_deps.sh
set -euo pipefail

required=(
  bazel-bootstrap bazel-rules-java bazel-platforms bazel-skylib
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  libopenblas-dev libgoogle-perftools-dev zlib1g-dev pkg-config systemd python3 procps
  clang-14 libclang-rt-14-dev
  # etcd for coordinator high availability (--state_store=etcd://...) and its tests. On a host
  # with systemd, Debian starts a system etcd on localhost:2379/2380; the tests never use those
  # ports (each starts its own etcd on free ports).
  etcd-server etcd-client
  # The daemons' /metrics and status page (cpp-httplib); gnuplot draws the demo's
  # training curves (psctl plot). Prometheus (promtool and a real server) and headless chromium
  # are what the tests check the metrics and the status page with.
  libcpp-httplib-dev gnuplot-nox prometheus chromium
  # deploy/build_deb.sh and its test: dpkg-shlibdeps computes the package's Depends (dpkg-deb
  # itself is in dpkg; strip in binutils, which dpkg-dev depends on).
  dpkg-dev
)
# Real training data; the demo falls back to a labelled synthetic set without it.
optional=(dataset-fashion-mnist)
if [[ $# -gt 0 ]]; then
  echo "install_deps: takes no arguments (usage: deploy/install_deps.sh)" >&2
  exit 2
fi

missing_from() {
  local package
  for package in "$@"; do
    if [[ "$(dpkg-query -W -f='${Status}' "${package}" 2>/dev/null)" != "install ok installed" ]]; then
      echo "${package}"
    fi
  done
}

mapfile -t missing < <(missing_from "${required[@]}")
mapfile -t missing_optional < <(missing_from "${optional[@]}")
if [[ ${#missing[@]} -eq 0 && ${#missing_optional[@]} -eq 0 ]]; then
  exit 0
fi

as_root=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install_deps: run as root (or install sudo)" >&2; exit 1; }
  as_root=(sudo)
fi
apt_install=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends)

to_install=("${missing[@]}" "${missing_optional[@]}")
echo "install_deps: installing ${to_install[*]}"
# Offline, the cached package lists may still do; the installs below fail loudly if they do not.
"${as_root[@]}" apt-get update -qq ||
  echo "install_deps: warning: apt-get update failed; using the cached package lists" >&2
if [[ ${#missing[@]} -gt 0 ]]; then
  "${apt_install[@]}" "${missing[@]}" >/dev/null
fi
if [[ ${#missing_optional[@]} -gt 0 ]]; then
  "${apt_install[@]}" "${missing_optional[@]}" >/dev/null ||
    echo "install_deps: warning: could not install ${missing_optional[*]}; the demo will use synthetic data" >&2
fi
