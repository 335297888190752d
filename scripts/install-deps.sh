#!/usr/bin/env bash
# Installs every Debian package the project builds, tests and benchmarks with.
# Idempotent: packages already present are left alone; nothing is fetched at
# build time.
set -euo pipefail
packages=(
  cmake ninja-build g++ pkg-config file python3
  libseccomp-dev libprotobuf-dev protobuf-compiler libabsl-dev
  nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev
  busybox-static manpages-dev
  bash coreutils findutils tar gzip procps make gcc libc6-dev git sqlite3
  runc runsc
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  [[ $(id -u) == 0 ]] || { echo "install-deps.sh: run as root to install: ${missing[*]}" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
